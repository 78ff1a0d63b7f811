#!/bin/bash
# Put a published profile's stored files in place, offline: the DVC remote at dvc-store/ from the store
# commits in this checkout's history, the profile's rank logs unpacked from the tracked ranklog.jsonl.gz
# beside them, and its checkpoints pulled from that remote (`dvc pull PROFILE`).
#
#   bash scripts/pull_results.sh cpu
#
# A store commit is a root commit whose message starts "dvc-store: " and whose tree holds DVC remote files
# (content-addressed, so stores overlap without conflict); each publication (scripts/publish_results.sh, and
# scripts/publish_rows.py for the rows a run has finished) makes one with scripts/store_commit.sh and merges it
# into the history as a second parent, so every full clone holds every published checkpoint while the tree stays
# small. Then `.venv/bin/dvc repro data` rebuilds the prepared data and `snakemake --touch` marks the pulled
# files as up to date (README, "Pulling the published data and checkpoints").
set -euo pipefail
profile=${1:?usage: pull_results.sh PROFILE}
cd "$(git rev-parse --show-toplevel)"
bin=${TRP_BIN:-$PWD/.venv/bin}
stores=$(git log --reverse --max-parents=0 --format=%H --grep='^dvc-store: ' HEAD)
if [ -n "$stores" ]; then
  mkdir -p dvc-store
  for c in $stores; do git archive "$c" | tar -x -C dvc-store; done
  echo "pull_results: dvc-store/ from $(wc -w <<< "$stores") store commit(s) in this history"
elif [ ! -d dvc-store/files ]; then
  [ "$(git rev-parse --is-shallow-repository)" = true ] && hint=" (a shallow clone: git fetch --unshallow)" || hint=""
  echo "pull_results: no store commit in this history and no dvc-store/$hint" >&2
  exit 2
fi
n=0
while IFS= read -r -d '' gz; do
  gzip -dc "$gz" > "${gz%.gz}.tmp" && mv "${gz%.gz}.tmp" "${gz%.gz}"
  n=$((n + 1))
done < <(find "results/$profile" -name ranklog.jsonl.gz -print0 2> /dev/null)
echo "pull_results: $n rank logs unpacked under results/$profile"
"$bin/dvc" pull "$profile"
