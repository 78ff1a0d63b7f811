#!/bin/bash
# Publish a finished profile run from the tagged worktree it ran in: record its checkpoints in DVC,
# push them to the DVC remote (dvc-store/, committed as a store commit that the results commit merges),
# render what the run cost (trp render budget, from Snakemake's benchmark files), and commit its results
# on a branch off the tag.
#
#   cd <worktree at tag T> && bash scripts/publish_results.sh cpu [FIX...]   # then, in the main checkout:
#   git merge results/cpu-T && .venv/bin/python scripts/update_readme.py   # docs/results.md, README summary
#
# Refuses when the tree is dirty, HEAD is not a tag, or Snakemake still has jobs to run, so that
# every committed number names the clean tagged commit that produced it. FIX: commits made after the
# tag that mend only declarations (dvc.yaml, .dvc*, .gitignore, scripts/, tests/), cherry-picked onto
# the results branch before DVC records the run; one that touches the code, workflow or configs is
# refused.
# The worktree's code (src/) plans the jobs; the budget is rendered by this script's own checkout.
# Then `bash scripts/verify_results.sh results-cpu-T` checks the published checkpoints from a fresh clone.
set -euo pipefail
profile=${1:?usage: publish_results.sh PROFILE [FIX...]}
shift
bin=${TRP_BIN:-$(dirname "$(command -v snakemake)")}
scripts=$(cd "$(dirname "$0")" && pwd)
own_src=$(dirname "$scripts")/src
export PYTHONPATH=$PWD/src
tag=$(git describe --exact-match --tags HEAD 2>/dev/null) || { echo "publish_results: HEAD is not a tag" >&2; exit 2; }
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "publish_results: the worktree has uncommitted changes to tracked files" >&2; exit 2
fi
if ! "$bin/snakemake" -n --configfile "config/$profile.yaml" 2>&1 | grep -q "Nothing to be done"; then
  echo "publish_results: the $profile profile has jobs left to run (snakemake -n --configfile config/$profile.yaml)" >&2
  exit 2
fi
for fix in "$@"; do
  touched=$(git diff-tree --no-commit-id --name-only -r "$fix") || { echo "publish_results: no commit $fix" >&2; exit 2; }
  if grep -qvE '^(dvc\.yaml|scripts/|tests/|\.dvc|\.gitignore$)' <<< "$touched"; then
    echo "publish_results: $fix changes more than the DVC or publishing declarations: $(tr '\n' ' ' <<< "$touched")" >&2
    exit 2
  fi
done
git switch -c "results/$profile-$tag"
for fix in "$@"; do git cherry-pick "$fix" > /dev/null; done
# The run table of the profile, by this checkout's code and the Python of its trp (the budget table reads the jobs
# behind its records).
python=$(dirname "$(readlink -f "$bin/trp")")/python
PYTHONPATH=$own_src "$python" -m trp.runs "config/$profile.yaml" > "results/$profile/runs.json"
PYTHONPATH=$own_src "$bin/trp" render budget --run-table "results/$profile/runs.json" --profile "$profile" \
  --out "paper_tables/$profile/budget" > /dev/null
# The rank logs are committed gzipped (byte-identical once unpacked; scripts/pull_results.sh unpacks them).
find "results/$profile" -name ranklog.jsonl -print0 | xargs -0 -r bash "$scripts/pack_ranklogs.sh"
# Every stage of the profile (dvc.yaml): the run's checkpoints, each table's and figure's own stage
# (<profile>_<name>) and its metrics; not another profile's (paper_cpu's stages beside paper's).
of_another_profile() {
  local c n
  for c in config/*.yaml; do
    n=$(basename "$c" .yaml)
    if [[ $n == "${profile}_"* && ($1 == "$n" || $1 == "${n}_"*) ]]; then return 0; fi
  done
  return 1
}
stages=()
for stage in $(grep -oE "^  ${profile}(_[a-z0-9_]+)?:" dvc.yaml | tr -d ' :'); do
  of_another_profile "$stage" || stages+=("$stage")
done
"$bin/dvc" commit -f data "${stages[@]}"
"$bin/dvc" push "$profile"
git add "results/$profile" "paper_tables/$profile" dvc.lock
git ls-files -z "results/$profile/*ranklog.jsonl" | xargs -0 -r git rm -q --cached
# The pushed checkpoints go into a store commit that the results commit takes as its second parent
# (scripts/store_commit.sh): every clone of the history holds them, the tree does not.
message="results: the $profile profile, run from tag $tag ($(git rev-parse --short "$tag")) on $(hostname): tables,"
message+=" records, dvc.lock${*:+ (declarations mended by: $*)}"
stored=$(bash "$scripts/store_commit.sh" "the $profile profile's checkpoints, run from tag $tag" "$message")
git tag "results-$profile-$tag"
echo "published on branch results/$profile-$tag, tag results-$profile-$tag (checkpoints in store commit $(git rev-parse --short "$stored"))"
