#!/bin/bash
# Check a published profile from a fresh clone, offline: rebuild the prepared data from the local
# archive ($TRP_CIFAR_ARCHIVE, else ../shared/data beside the repository), pull the profile's
# checkpoints from the DVC remote (dvc-store/ in the commit's tree, else its store commits), and
# require `dvc status` of the data and profile stages to be clean.
#
#   bash scripts/verify_results.sh results-cpu-<tag> [cpu]
set -euo pipefail
ref=${1:?usage: verify_results.sh RESULTS_TAG [PROFILE]}
profile=${2:-cpu}
repo=$(git rev-parse --show-toplevel)
bin=${TRP_BIN:-$repo/.venv/bin}
clone=$(mktemp -d "$(dirname "$repo")/verify-XXXX")   # beside the repository, so ../shared resolves
trap 'rm -rf "$clone"' EXIT
git clone -q "$repo" "$clone"
cd "$clone"
export PATH="$bin:$PATH" PYTHONPATH="$clone/src"   # the clone's code, not the repository's
archive=$(dirname "$repo")/shared/data/cifar-10-python.tar.gz   # the local archive, unless one is given
if [ -z "${TRP_CIFAR_ARCHIVE:-}" ] && [ -f "$archive" ]; then export TRP_CIFAR_ARCHIVE=$archive; fi
git checkout -q "$ref"
"$bin/dvc" repro data
TRP_BIN=$bin bash "$repo/scripts/pull_results.sh" "$profile"   # the store from this history (or the commit's tree), then dvc pull
status=$("$bin/dvc" status data "$profile")
echo "$status"
case "$status" in
  *"up to date"*) echo "verify_results: $ref: checkpoints pulled, dvc status clean" ;;
  *) echo "verify_results: $ref: dvc status is not clean" >&2; exit 1 ;;
esac
