#!/bin/bash
# Put a published profile's stored files in place, offline: the DVC remote from the branch dvc-store
# (origin/dvc-store in a clone) at dvc-store/, the profile's rank logs unpacked from the tracked
# ranklog.jsonl.gz beside them, and its checkpoints pulled from that remote (`dvc pull PROFILE`).
#
#   bash scripts/pull_results.sh cpu
#
# The main tree tracks neither the store nor the raw rank logs, so that a checkout stays small. Then
# `.venv/bin/dvc repro data` rebuilds the prepared data and `snakemake --touch` marks the pulled files
# as up to date (README, "Pulling the published data and checkpoints").
set -euo pipefail
profile=${1:?usage: pull_results.sh PROFILE}
cd "$(git rev-parse --show-toplevel)"
bin=${TRP_BIN:-$PWD/.venv/bin}
store=""
for ref in refs/heads/dvc-store refs/remotes/origin/dvc-store; do
  if git rev-parse -q --verify "$ref^{commit}" > /dev/null; then store=$ref; break; fi
done
if [ -n "$store" ]; then
  mkdir -p dvc-store && git archive "$store" | tar -x -C dvc-store
  echo "pull_results: dvc-store/ from ${store#refs/*/} ($(git rev-parse --short "$store"))"
elif [ ! -d dvc-store/files ]; then
  echo "pull_results: no branch dvc-store here and no dvc-store/ (git fetch origin dvc-store)" >&2
  exit 2
fi
n=0
while IFS= read -r -d '' gz; do
  gzip -dc "$gz" > "${gz%.gz}.tmp" && mv "${gz%.gz}.tmp" "${gz%.gz}"
  n=$((n + 1))
done < <(find "results/$profile" -name ranklog.jsonl.gz -print0 2> /dev/null)
echo "pull_results: $n rank logs unpacked under results/$profile"
"$bin/dvc" pull "$profile"
