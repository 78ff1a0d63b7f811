#!/bin/bash
# A short GPU check in about 15 minutes of GPU time: the GPU benchmarks and the paper profile's five
# ResNet-20 Table-1 rows, seed 0, at the paper's schedule, all five at once on one GPU, each stopped by
# --time-limit (and resumable). Made for a GPU machine that shares no storage with this checkout and takes
# files of at most 64 MiB at a time: the prepared CIFAR-10 (184 MB) goes in four parts, and .git (so that
# every number names its commit) with the first. On the GPU machine, run it in a copy of this working
# tree, with OUT set to a folder whose files you copy back.
#
#   here, at a clean tagged commit:     bash scripts/gpu_session.sh prepare
#   copy .git and .carry/ (cifar10.npz.part-0 to -3, paper-rows.sh) to the GPU machine; there:
#     bash scripts/gpu_session.sh bench            # benchmarks, about 5 minutes
#     bash scripts/gpu_session.sh train 6          # the five trainings, each stopped after 6 minutes
#     bash scripts/gpu_session.sh bench-compile    # optional: eager against torch.compile
#   here, with the files copied from OUT:  bash scripts/gpu_session.sh receive DIR
#
# bench writes train_step_gpu_{fp32,bf16}.json, gpu_throughput.json and polar_factor_gpu.json (Eq. 6's
# polar factor: trp's float64 eigendecomposition against SVDs and Newton-Schulz on the GPU); train runs
# the five `trp train` commands Snakemake plans for them (written by prepare into .carry/paper-rows.sh,
# five jobs on the GPU),
# each with --time-limit MINUTES, and returns one .tar.gz per run: its records, log and checkpoints
# (last.pt too, so that an unfinished run resumes: copy results/paper and checkpoints/paper back to the
# GPU machine to continue). train exits 0 when the five finished, 75 when some stopped at the time
# limit (resumable) and none failed, else with the first failure's status (2: bad input, 3: diverged).
# receive puts them where the paper profile expects them; Snakemake then takes them as done and runs
# what follows from them (decompositions, basic methods, renders).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=5   # Table 1's ResNet-20 rows, seed 0: the baseline, TRP1, TRP2, TRP1+Nu, TRP2+Nu
PARTS=4

die() { echo "gpu_session: $*" >&2; exit 2; }

device_env() {  # the GPU machine has python3 with torch but no `python`, no `trp` and no installed package
  [ -n "${OUT:-}" ] || die "run this on the GPU machine with OUT set to a folder for the results (\$OUT is not set)"
  local py bin
  py=$(command -v python3) || die "no python3 here"
  bin=$(mktemp -d)
  # Scripts that exec python3 by its path (a symlink named python would start a virtualenv's base
  # interpreter outside it); trp exits with trp's status (75: time limit, 2: bad input, 3: diverged).
  printf '#!/bin/sh\nexec "%s" "$@"\n' "$py" > "$bin/python"
  printf '#!/bin/sh\nexec "%s" -c "from trp.cli import main; raise SystemExit(main())" "$@"\n' "$py" > "$bin/trp"
  chmod +x "$bin/python" "$bin/trp"
  export PATH=$bin:$PATH PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
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
  bench-compile)  # optional: eager against torch.compile, ResNet-20, fp32
    device_env
    python3 benchmarks/train_step.py --models resnet20 --precision fp32 --compile --out "$OUT/train_step_gpu_fp32_compile.json"
    ;;
  train)
    minutes=${2:?usage: gpu_session.sh train MINUTES}
    device_env
    for i in $(seq 0 $((PARTS - 1))); do [ -f ".carry/cifar10.npz.part-$i" ] || die "part $i of the data has not arrived"; done
    mkdir -p data/prepared && cat .carry/cifar10.npz.part-* > data/prepared/cifar10.npz  # trp verifies its content
    pids=() logs=() runs=() status=0
    while read -r cmd; do
      log=$(sed -n 's/.* > \(\S*\) 2>&1$/\1/p' <<< "$cmd")
      mkdir -p "$(dirname "$log")"
      bash -c "${cmd/trp train /trp train --time-limit $minutes }" &
      pids+=($!) logs+=("$log") runs+=("$(basename "$(dirname "$log")")")
    done < .carry/paper-rows.sh
    for i in "${!pids[@]}"; do
      rc=0; wait "${pids[$i]}" || rc=$?
      echo "${logs[$i]}: exit $rc (75: time limit, resumable)"
      if [ "$rc" -ne 0 ] && { [ "$status" -eq 0 ] || [ "$status" -eq 75 ]; }; then status=$rc; fi
      files=()
      for f in "results/paper/runs/resnet20/${runs[$i]}/s0" "checkpoints/paper/runs/resnet20/${runs[$i]}/s0" \
               "${logs[$i]}"; do [ -e "$f" ] && files+=("$f"); done
      tar -czf "$OUT/${runs[$i]}.tar.gz" "${files[@]}"
    done
    tail -n 2 results/paper/logs/train/resnet20/*/s0.log
    exit "$status"
    ;;
  receive)
    from=${2:?usage: gpu_session.sh receive DIR}
    for f in "$from"/*.json; do [ -e "$f" ] && cp "$f" results/benchmarks/ && echo "results/benchmarks/$(basename "$f")"; done
    for f in "$from"/*.tar.gz; do [ -e "$f" ] && tar -xzf "$f" && echo "unpacked $(basename "$f")"; done
    ;;
  *) die "usage: gpu_session.sh prepare | bench | bench-compile | train MINUTES | receive DIR" ;;
esac
