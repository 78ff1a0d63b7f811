#!/bin/bash
# Run, or resume, a profile from a tagged commit in its own worktree, so that every result names a
# clean commit while the main checkout moves on:
#
#   bash scripts/run_profile.sh cpu <tag> [extra snakemake arguments]
#
# The worktree is ../<tag> beside this repository (../shared is then beside it too); it is created
# at the tag on the first call. The code that runs is the worktree's (PYTHONPATH), with this
# checkout's .venv. Every later call resumes: a stale lock of a killed run is removed (only if no
# Snakemake process runs in that worktree), incomplete jobs rerun and `trp train` continues from its
# last epoch (last.pt). Output goes to ../<tag>.log; when Snakemake has nothing left to do, publish
# the run with `cd ../<tag> && bash scripts/publish_results.sh <profile>`.
set -euo pipefail
profile=${1:?usage: run_profile.sh PROFILE TAG [snakemake args]}
tag=${2:?usage: run_profile.sh PROFILE TAG [snakemake args]}
shift 2
repo=$(git rev-parse --show-toplevel)
venv=$repo/.venv/bin
tree=$(dirname "$repo")/$tag
git -C "$repo" rev-parse -q --verify "refs/tags/$tag" > /dev/null || { echo "run_profile: no tag $tag" >&2; exit 2; }
[ -d "$tree" ] || git -C "$repo" worktree add --detach "$tree" "$tag"
[ "$(git -C "$tree" rev-parse HEAD)" = "$(git -C "$repo" rev-parse "$tag^{commit}")" ] ||
  { echo "run_profile: $tree is not at $tag" >&2; exit 2; }
cd "$tree"
export PYTHONPATH=$tree/src PATH=$venv:$PATH
archive=$(dirname "$repo")/shared/data/cifar-10-python.tar.gz   # a local CIFAR-10 archive beside the repository
if [ -z "${TRP_CIFAR_ARCHIVE:-}" ] && [ -f "$archive" ]; then export TRP_CIFAR_ARCHIVE=$archive; fi
for pid in $(pgrep -f snakemake || true); do
  if [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$tree" ]; then
    echo "run_profile: a Snakemake run (pid $pid) is already going in $tree" >&2; exit 2
  fi
done
snakemake --unlock --cores 1 --configfile "config/$profile.yaml" > /dev/null
exec snakemake --cores all --configfile "config/$profile.yaml" --rerun-incomplete --keep-going "$@" >> "$tree.log" 2>&1
