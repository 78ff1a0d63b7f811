#!/bin/bash
# Commit the index with the DVC remote's files (dvc-store/) beside it: a store commit, a root commit whose
# message starts "dvc-store: " and whose tree holds dvc-store/'s files, and on HEAD a results commit of the
# index that takes the store commit as its second parent. Every clone of the history then holds the pushed
# files while the tree does not; scripts/pull_results.sh extracts every store commit it finds. The remote is
# content-addressed, so store commits overlap without conflict. Run at the repository's root (or a
# worktree's); prints the store commit.
#
#   bash scripts/store_commit.sh "the cpu profile's checkpoints, run from tag T" "results: the cpu profile, ..."
set -euo pipefail
usage="usage: store_commit.sh STORE_SUBJECT RESULTS_MESSAGE"
what=${1:?$usage}
message=${2:?$usage}
index=$(mktemp -u)
GIT_INDEX_FILE=$index git -C dvc-store --git-dir="$(git rev-parse --absolute-git-dir)" --work-tree=. add .
tree=$(GIT_INDEX_FILE=$index git write-tree)
rm -f "$index"
stored=$(git commit-tree "$tree" -m "dvc-store: $what")
results=$(git commit-tree "$(git write-tree)" -p HEAD -p "$stored" \
  -m "$message (the networks: store commit $(git rev-parse --short "$stored"))")
git update-ref -m "store_commit: $what" HEAD "$results"
echo "$stored"
