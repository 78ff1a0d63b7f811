#!/bin/bash
# A short GPU check in one command, for a GPU machine that has only Python and torch: nothing is
# installed there (the project's code runs from src/ on PYTHONPATH). It runs the GPU benchmarks in
# benchmarks/ (training step time of plain SGD, TRP and TRP+Nu, eager against torch.compile and with
# the SVDs on the CPU; bf16; jobs sharing the GPU; Eq. 6's polar factor), then the paper profile's five
# ResNet-20 Table-1 trainings (seed 0, the commands Snakemake plans, all five at once on the GPU), each
# with --time-limit so that the whole stays inside MINUTES of wall time, and packs everything it wrote
# into one archive.
#
#   here, at a clean commit:   bash scripts/gpu_check.sh bundle [DIR [MIB]]
#       DIR (default .carry/): COMMIT (the commit and its code files' ids, so that every record names
#       the commit without .git), paper-rows.sh (the five `trp train` commands) and data/ (the prepared
#       CIFAR-10 cut into parts of at most MIB MiB, default 64, with a sha256 manifest)
#   copy the tracked files and DIR to the GPU machine; there, in the copy:
#       bash scripts/gpu_check.sh run MINUTES [--parts DIR/data | --data NPZ] [--out DIR] [--carry DIR]
#   here, with the archive copied back:   bash scripts/gpu_check.sh receive ARCHIVE
#   cut any file into parts with a manifest:   bash scripts/gpu_check.sh split FILE DIR [MIB]
#
# run joins the parts and checks each part and the whole against the manifest (--data takes a prepared
# .npz as it is; trp verifies its content either way). The benchmarks get at most 40 % of MINUTES
# (each is stopped when that share is spent; the record says so); the trainings get what is left but a
# minute for starting and packing. The archive, OUT/gpu-check-COMMIT.tar.gz (OUT: --out, else $OUT,
# else gpu-check/), holds results/benchmarks/*_gpu*.json, each run's records, log and checkpoints
# (last.pt too, so that an unfinished run resumes: `receive`, then the same trainings continue where
# they stopped), and results/paper/logs/gpu_check/ (this script's log, the commit file, each step's
# status). Exit status: a training's own (2: bad input, 3: diverged) when one failed, else 1 when a
# benchmark failed, else 75 when a training stopped at its time limit (resumable), else 0; 2 also for
# bad arguments, data that does not match its manifest, or no GPU.
#
# --cpu checks this script on a machine without a GPU: the trainings run on the CPU with a few steps of
# 32 images on a data subset, the benchmarks with tiny sizes (torch.compile, minutes on a CPU, left out).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=5   # Table 1's ResNet-20 rows, seed 0: the baseline, TRP1, TRP2, TRP1+Nu, TRP2+Nu
CODE=(src benchmarks scripts config workflow Snakefile pyproject.toml)   # the files a record's commit vouches for
PREPARED=data/prepared/cifar10.npz
CPU_TRAIN="max_steps=2 train_subset=256 test_subset=100 batch_size=32 'device=\"cpu\"'"

die() { echo "gpu_check: $*" >&2; exit 2; }
now() { date +%s; }

split_file() {  # FILE DIR MIB: DIR/NAME.part-NN of at most MIB MiB each, DIR/NAME.sha256 (parts and whole)
  local file=$1 dir=$2 mib=${3:-64} name whole
  [ -f "$file" ] || die "no file $file"
  [[ "$mib" =~ ^[1-9][0-9]*$ ]] || die "MIB must be a positive whole number of MiB, not '$mib'"
  name=$(basename "$file")
  mkdir -p "$dir"
  rm -f "$dir/$name".part-* "$dir/$name.sha256"
  split -b "${mib}M" -d -a 2 "$file" "$dir/$name.part-"
  whole=$(sha256sum < "$file" | cut -d' ' -f1)
  (cd "$dir" && sha256sum "$name".part-* && echo "$whole  $name") > "$dir/$name.sha256.tmp"
  mv "$dir/$name.sha256.tmp" "$dir/$name.sha256"
  echo "gpu_check: $file -> $(ls "$dir/$name".part-* | wc -l) parts of at most $mib MiB in $dir ($name.sha256)"
}

join_parts() {  # DIR TARGET: the parts joined, each part and the whole checked against the manifest
  local dir=$1 target=$2 manifest name
  manifest=$(ls "$dir"/*.sha256 2> /dev/null | head -1)
  [ -n "$manifest" ] || die "$dir holds no .sha256 manifest"
  name=$(basename "$manifest" .sha256)
  (cd "$dir" && grep " $name.part-" "$(basename "$manifest")" | sha256sum -c --quiet -) \
    || die "a part in $dir does not match $manifest (copy it again)"
  mkdir -p "$(dirname "$target")"
  cat "$dir/$name".part-* > "$target.tmp"
  [ "$(sha256sum < "$target.tmp" | cut -d' ' -f1)" = "$(grep " $name\$" "$manifest" | cut -d' ' -f1)" ] \
    || { rm -f "$target.tmp"; die "the joined parts do not match $manifest (a part is missing?)"; }
  mv "$target.tmp" "$target"
  echo "gpu_check: $target joined from $(ls "$dir/$name".part-* | wc -l) parts, sha256 checked"
}

device_env() {  # python3 with torch, no `python`, no `trp`, no installed package: this copy's src/
  local py bin
  py=$(command -v python3) || die "no python3 here"
  bin=$(mktemp -d)
  # Scripts that exec python3 by its path (a symlink named python would start a virtualenv's base
  # interpreter outside it); trp exits with trp's status (75: time limit, 2: bad input, 3: diverged).
  printf '#!/bin/sh\nexec "%s" "$@"\n' "$py" > "$bin/python"
  printf '#!/bin/sh\nexec "%s" -c "from trp.cli import main; raise SystemExit(main())" "$@"\n' "$py" > "$bin/trp"
  chmod +x "$bin/python" "$bin/trp"
  export PATH=$bin:$PATH PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
}

bundle() {
  local dir=${1:-.carry} mib=${2:-64}
  [ -z "$(git status --porcelain --untracked-files=no)" ] || die "commit first: every number must name a clean commit"
  [ -f "$PREPARED" ] || die "no $PREPARED: .venv/bin/snakemake $PREPARED --cores 1 --configfile config/cpu.yaml"
  local exclude
  exclude=$(git rev-parse --git-path info/exclude)   # .carry/ stays out of `git status` (a worktree's too)
  if [ "$dir" = .carry ]; then
    mkdir -p "$(dirname "$exclude")" && { grep -qx '/.carry/' "$exclude" 2> /dev/null || echo '/.carry/' >> "$exclude"; }
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  git ls-tree -r HEAD -- "${CODE[@]}" | python3 -c '
import json, subprocess, sys
files = {line.split("\t", 1)[1]: line.split()[2] for line in sys.stdin.read().splitlines()}
commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
print(json.dumps({"commit": commit, "files": files}, indent=0, sort_keys=True))' > "$dir/COMMIT"
  .venv/bin/snakemake table1 -n -p --forceall --configfile config/paper.yaml --config "gpu={jobs_per_gpu: $ROWS}" |
    sed -n '/ trp train .* --out results\/paper\/runs\/resnet20\/[^ ]*\/s0 /s/^Shell command: //p' > "$dir/paper-rows.sh"
  [ "$(wc -l < "$dir/paper-rows.sh")" -eq "$ROWS" ] || die "expected $ROWS trp train commands from Snakemake"
  split_file "$PREPARED" "$dir/data" "$mib"
  echo "gpu_check: $dir holds commit $(git rev-parse --short HEAD) $(git describe --tags --exact-match 2> /dev/null || echo '(not a tag)')"
}

run() {
  local minutes="" data="" parts="" out=${OUT:-gpu-check} carry=.carry cpu=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --data) data=${2:?--data NPZ}; shift 2 ;;
      --parts) parts=${2:?--parts DIR}; shift 2 ;;
      --out) out=${2:?--out DIR}; shift 2 ;;
      --carry) carry=${2:?--carry DIR}; shift 2 ;;
      --cpu) cpu=1; shift ;;
      -*) die "unknown option $1" ;;
      *) [ -z "$minutes" ] || die "one MINUTES only"; minutes=$1; shift ;;
    esac
  done
  [[ "$minutes" =~ ^[0-9]+([.][0-9]+)?$ ]] && awk "BEGIN { exit !($minutes >= 1) }" ||
    die "usage: gpu_check.sh run MINUTES (at least 1) [--parts DIR | --data NPZ] [--out DIR] [--carry DIR] [--cpu]"
  [ -f "$carry/paper-rows.sh" ] || die "no $carry/paper-rows.sh: make it with 'gpu_check.sh bundle' at a clean commit"
  [ -z "$data" ] || [ -z "$parts" ] || die "--data or --parts, not both"
  [ -n "$data" ] || [ -n "$parts" ] || parts=$carry/data
  local start end bench_end
  start=$(now)
  end=$(awk "BEGIN { printf \"%d\", $start + 60 * $minutes }")
  bench_end=$(awk "BEGIN { printf \"%d\", $start + 0.4 * 60 * $minutes }")

  device_env
  local commit="unknown"
  if [ -f "$carry/COMMIT" ]; then
    export TRP_COMMIT_FILE=$PWD/$carry/COMMIT
    commit=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["commit"][:7])' "$carry/COMMIT")
  elif git rev-parse HEAD > /dev/null 2>&1; then
    commit=$(git rev-parse --short HEAD)
  else
    echo "gpu_check: no $carry/COMMIT and no .git here: records will name no commit" >&2
  fi
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  local logs=results/paper/logs/gpu_check stage
  stage=$(mktemp -d)
  mkdir -p "$logs" "$stage/results/benchmarks"
  : > "$logs/run.log"
  exec > >(tee -a "$logs/run.log") 2> >(tee -a "$logs/run.log" >&2)
  echo "gpu_check: run $minutes minutes from $(date -u +%FT%TZ), commit $commit, output $out"
  [ ! -f "$carry/COMMIT" ] || cp "$carry/COMMIT" "$logs/COMMIT"
  : > "$logs/status.tsv"

  local tag=gpu
  if [ "$cpu" = 1 ]; then
    tag=cpu-check
    export CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}   # one stand-in slot for trp.gpu_slots
    export OMP_NUM_THREADS=1   # one thread per process, as the trainings: no threads spinning against each other
    echo "gpu_check: --cpu: on the CPU, a few steps each (a check of this script, not a measurement)"
  else
    command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader ||
      die "no GPU here (nvidia-smi); --cpu checks the script on the CPU"
    python3 -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' || die "torch sees no GPU here"
  fi

  if [ -n "$parts" ]; then
    join_parts "$parts" "$PREPARED"
    data=$PREPARED
  fi
  [ -f "$data" ] || die "no prepared data at $data"

  # The benchmarks, each stopped when the benchmarks' share of the budget is spent.
  local bench_failed=0 b rc left
  local -a benches
  if [ "$cpu" = 1 ]; then
    benches=(
      "train_step_${tag}_fp32.json benchmarks/train_step.py --models resnet20 --schemes channel --precision fp32 --batch 8 --rounds 1 --steps 1 --svd-cpu"
      "polar_factor_${tag}.json benchmarks/polar_factor.py --device cpu --schemes channel --iterations 2 --rounds 1")
  else
    benches=(
      "train_step_${tag}_fp32_compile.json benchmarks/train_step.py --models resnet20 --precision fp32 --compile --svd-cpu"
      "polar_factor_${tag}.json benchmarks/polar_factor.py --device cuda"
      "train_step_${tag}_bf16.json benchmarks/train_step.py --models resnet20 resnet56 --precision bf16"
      "${tag}_throughput.json benchmarks/throughput.py --device cuda --rounds 2 --seconds 6")
  fi
  for b in "${benches[@]}"; do
    read -r name cmd <<< "$b"
    left=$((bench_end - $(now)))
    if [ "$left" -lt 10 ]; then
      echo "gpu_check: $name: skipped, the benchmarks' share of the budget is spent"
      printf 'bench\t%s\tskipped\n' "$name" >> "$logs/status.tsv"
      continue
    fi
    echo "gpu_check: python3 $cmd --out results/benchmarks/$name  (at most ${left} s)"
    rc=0; timeout "$left" python3 $cmd --out "$stage/results/benchmarks/$name" || rc=$?
    printf 'bench\t%s\t%s\n' "$name" "$rc" >> "$logs/status.tsv"
    if [ "$rc" = 124 ]; then echo "gpu_check: $name: stopped, the benchmarks' share of the budget is spent"
    elif [ "$rc" != 0 ]; then echo "gpu_check: $name: failed (exit $rc)"; bench_failed=1; fi
  done

  # The five trainings at once, with what is left but a minute.
  local limit
  limit=$(awk "BEGIN { m = ($end - $(now) - 60) / 60; printf \"%.2f\", (m < 0.1 ? 0.1 : m) }")
  echo "gpu_check: the $ROWS trainings, each with --time-limit $limit (minutes)"
  local pids=() runs=() tlogs=() status=0 cmd log
  while read -r cmd; do
    [ -n "$cmd" ] || continue
    log=$(sed -n 's/.* > \(\S*\) 2>&1$/\1/p' <<< "$cmd")
    cmd=${cmd/trp train /trp train --time-limit $limit }
    cmd=${cmd/--data data\/prepared\/cifar10.npz /--data $(printf '%q' "$data") }
    [ "$cpu" = 0 ] || cmd=${cmd/ --data / $CPU_TRAIN --data }
    mkdir -p "$(dirname "$log")"
    bash -c "$cmd" &
    pids+=($!) tlogs+=("$log") runs+=("$(basename "$(dirname "$log")")")
  done < "$carry/paper-rows.sh"
  local i files=()
  for i in "${!pids[@]}"; do
    rc=0; wait "${pids[$i]}" || rc=$?
    echo "gpu_check: ${runs[$i]}: exit $rc (75: stopped at the time limit, resumable)"
    printf 'train\t%s\t%s\n' "${runs[$i]}" "$rc" >> "$logs/status.tsv"
    if [ "$rc" -ne 0 ] && { [ "$status" -eq 0 ] || [ "$status" -eq 75 ]; }; then status=$rc; fi
    for f in "results/paper/runs/resnet20/${runs[$i]}/s0" "checkpoints/paper/runs/resnet20/${runs[$i]}/s0" "${tlogs[$i]}"; do
      [ -e "$f" ] && files+=("$f")
    done
    tail -n 2 "${tlogs[$i]}" || true
  done
  if [ "$status" -eq 0 ] || [ "$status" -eq 75 ]; then
    [ "$bench_failed" = 0 ] || status=1
  fi
  printf 'exit\t\t%s\n' "$status" >> "$logs/status.tsv"
  echo "gpu_check: exit $status, packing"
  local archive=$out/gpu-check-$commit.tar.gz
  tar -czf "$archive.tmp" -C "$stage" results/benchmarks -C "$PWD" "$logs" "${files[@]}"
  mv "$archive.tmp" "$archive"
  rm -rf "$stage"
  echo "gpu_check: $archive ($(du -h "$archive" | cut -f1)), $(( $(now) - start )) s of $minutes minutes"
  exit "$status"
}

receive() {
  local archive=${1:?usage: gpu_check.sh receive ARCHIVE}
  [ -f "$archive" ] || die "no archive $archive"
  tar -xzvf "$archive" | sed 's/^/unpacked /'
}

cmd=${1:-}
shift || true
case "$cmd" in
  bundle) bundle "$@" ;;
  split) [ $# -ge 2 ] || die "usage: gpu_check.sh split FILE DIR [MIB]"; split_file "$@" ;;
  run) run "$@" ;;
  receive) receive "$@" ;;
  *) die "usage: gpu_check.sh bundle [DIR [MIB]] | split FILE DIR [MIB] | run MINUTES [options] | receive ARCHIVE" ;;
esac
