#!/bin/bash
# A lent GPU's 15 minutes, planned: the GPU benchmarks (issue 10 items 2 and 3) and the paper profile's
# ResNet-20 Table-1 rows, seed 0, at the paper's schedule (item 6), all five at once on the one GPU.
# The working tree travels to the device machine but ../shared does not, and a call carries at most
# 64 MiB: the prepared CIFAR-10 (184 MB) goes in four parts, and .git (so that every number names its
# commit) with the first. The machine stays warm 30 s after a call: make the four calls back to back.
#
#   here, at a clean tagged commit:  bash scripts/gpu_session.sh prepare
#   device calls (`run`, each with its carry):
#     1. carry .git .carry/cifar10.npz.part-0   command: bash scripts/gpu_session.sh bench      timeout_s 330
#     2. carry .carry/cifar10.npz.part-1        command: true
#     3. carry .carry/cifar10.npz.part-2        command: true
#     4. carry .carry/cifar10.npz.part-3 .carry/paper-rows.sh
#                                               command: bash scripts/gpu_session.sh train 6    timeout_s 500
#   here, after calls 1 and 4:       bash scripts/gpu_session.sh receive FILES_AT
#   optional, if device time is left: bash scripts/gpu_session.sh bench-compile  (eager against torch.compile)
#
# bench writes train_step_gpu_{fp32,bf16}.json, gpu_throughput.json and polar_factor_gpu.json (Eq. 6's
# polar factor: trp's float64 eigendecomposition against SVDs and Newton-Schulz on the GPU); train runs
# the five `trp train` commands Snakemake plans for them (written by prepare into .carry/paper-rows.sh,
# five jobs on the GPU),
# each with --time-limit MINUTES, and returns one .tar.gz per run: its records, log and checkpoints
# (last.pt too, so that an unfinished run resumes: a later session carries results/paper and
# checkpoints/paper back with call 4). receive puts them where the paper profile expects them; Snakemake
# then takes them as done and runs what follows from them (decompositions, basic methods, renders).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=5   # Table 1's ResNet-20 rows, seed 0: the baseline, TRP1, TRP2, TRP1+Nu, TRP2+Nu
PARTS=4

die() { echo "gpu_session: $*" >&2; exit 2; }

device_env() {  # the device has python3 with torch but no `python`, no `trp` and no installed package
  [ -n "${OUT:-}" ] || die "run this on the device machine (\$OUT is not set)"
  mkdir -p /tmp/trp-bin
  ln -sf "$(command -v python3)" /tmp/trp-bin/python
  printf '#!/bin/sh\nexec python3 -c "from trp.cli import main; main()" "$@"\n' > /tmp/trp-bin/trp
  chmod +x /tmp/trp-bin/trp
  export PATH=/tmp/trp-bin:$PATH PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
  git status --porcelain --untracked-files=no > /dev/null 2>&1 || echo "gpu_session: no .git here: records will name no commit" >&2
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || die "no GPU here"
}

case "${1:-}" in
  prepare)
    [ -z "$(git status --porcelain --untracked-files=no)" ] || die "commit first: every number must name a clean commit"
    npz=data/prepared/cifar10.npz
    [ -f "$npz" ] || die "no $npz: snakemake $npz --cores 1 --configfile config/cpu.yaml"
    grep -qx '/.carry/' .git/info/exclude 2>/dev/null || echo '/.carry/' >> .git/info/exclude
    rm -rf .carry && mkdir .carry
    split -n "$PARTS" -d -a 1 "$npz" .carry/cifar10.npz.part-
    .venv/bin/snakemake table1 -n -p --forceall --configfile config/paper.yaml --config "gpu={jobs_per_gpu: $ROWS}" |
      sed -n '/ trp train .* --out results\/paper\/runs\/resnet20\/[^ ]*\/s0 /s/^Shell command: //p' > .carry/paper-rows.sh
    [ "$(wc -l < .carry/paper-rows.sh)" -eq "$ROWS" ] || die "expected $ROWS trp train commands from Snakemake"
    ls -l .carry
    echo "commit $(git rev-parse --short HEAD) $(git describe --tags --exact-match 2>/dev/null || echo '(not a tag)')"
    ;;
  bench)
    device_env
    python3 benchmarks/train_step.py --models resnet20 resnet56 --precision fp32 --svd-cpu --out "$OUT/train_step_gpu_fp32.json"
    python3 benchmarks/train_step.py --models resnet20 resnet56 --precision bf16 --out "$OUT/train_step_gpu_bf16.json"
    python3 benchmarks/throughput.py --device cuda --rounds 2 --seconds 6 --out "$OUT/gpu_throughput.json"
    python3 benchmarks/polar_factor.py --device cuda --out "$OUT/polar_factor_gpu.json"
    ;;
  bench-compile)  # optional, if device time is left: eager against torch.compile, ResNet-20, fp32
    device_env
    python3 benchmarks/train_step.py --models resnet20 --precision fp32 --compile --out "$OUT/train_step_gpu_fp32_compile.json"
    ;;
  train)
    minutes=${2:?usage: gpu_session.sh train MINUTES}
    device_env
    for i in $(seq 0 $((PARTS - 1))); do [ -f ".carry/cifar10.npz.part-$i" ] || die "part $i of the data has not arrived"; done
    mkdir -p data/prepared && cat .carry/cifar10.npz.part-* > data/prepared/cifar10.npz  # trp verifies its content
    pids=() logs=() runs=()
    while read -r cmd; do
      log=$(sed -n 's/.* > \(\S*\) 2>&1$/\1/p' <<< "$cmd")
      mkdir -p "$(dirname "$log")"
      bash -c "${cmd/trp train /trp train --time-limit $minutes }" &
      pids+=($!) logs+=("$log") runs+=("$(basename "$(dirname "$log")")")
    done < .carry/paper-rows.sh
    for i in "${!pids[@]}"; do
      rc=0; wait "${pids[$i]}" || rc=$?
      echo "${logs[$i]}: exit $rc (75: time limit, resumable)"
      files=()
      for f in "results/paper/runs/resnet20/${runs[$i]}/s0" "checkpoints/paper/runs/resnet20/${runs[$i]}/s0" \
               "${logs[$i]}"; do [ -e "$f" ] && files+=("$f"); done
      tar -czf "$OUT/${runs[$i]}.tar.gz" "${files[@]}"
    done
    tail -n 2 results/paper/logs/train/resnet20/*/s0.log
    ;;
  receive)
    from=${2:?usage: gpu_session.sh receive FILES_AT}
    for f in "$from"/*.json; do [ -e "$f" ] && cp "$f" results/benchmarks/ && echo "results/benchmarks/$(basename "$f")"; done
    for f in "$from"/*.tar.gz; do [ -e "$f" ] && tar -xzf "$f" && echo "unpacked $(basename "$f")"; done
    ;;
  *) die "usage: gpu_session.sh prepare | bench | bench-compile | train MINUTES | receive FILES_AT" ;;
esac
