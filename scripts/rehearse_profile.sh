#!/bin/bash
# Rehearse a profile before it spends its hours: every job it plans (same models, seeds, runs, budgets
# and renders) on small subsets and a few steps (scripts/rehearsal_config.py), in a clone at REV, then
# the budget table, the results page and the README summary, as publishing would make them. A renderer
# that breaks on the profile's shape breaks here, not after the real run, where the tag can no longer
# change.
#
#   bash scripts/rehearse_profile.sh cpu [REV] [DIR]     # REV: HEAD or the tag to run; DIR: /tmp/rehearse-PROFILE
#
# The cpu profile's rehearsal (95 jobs) took 17 minutes at e76b9de on 2 cores shared with a running
# profile. Its numbers mean nothing: networks trained for a few steps on 1,024 images. It ends by
# printing the claims table's verdicts.
set -euo pipefail
profile=${1:?usage: rehearse_profile.sh PROFILE [REV] [DIR]}
rev=${2:-HEAD}
dir=${3:-/tmp/rehearse-$profile}
repo=$(git rev-parse --show-toplevel)
venv=$repo/.venv/bin
[ ! -e "$dir" ] || { echo "rehearse_profile: $dir exists: remove it or name another DIR" >&2; exit 2; }
git clone -q "$repo" "$dir"
git -C "$dir" checkout -q --detach "$rev"
"$venv/python" "$repo/scripts/rehearsal_config.py" "$profile" "$dir/rehearsal.yaml"
cd "$dir"
export PATH=$venv:$PATH
if ! PYTHONPATH=$dir/src snakemake --cores all --configfile rehearsal.yaml --keep-going > rehearsal.log 2>&1; then
  grep -A4 "^Error in rule" rehearsal.log >&2 || tail -n 20 rehearsal.log >&2
  echo "rehearse_profile: jobs failed; their logs are under $dir/results/$profile/logs (all output: $dir/rehearsal.log)" >&2
  exit 1
fi
# what publish_results.sh and update_readme.py add, with this checkout's code (as publishing uses it)
PYTHONPATH=$repo/src trp render budget --run-table "results/$profile/runs.json" --profile "$profile" \
  --out "paper_tables/$profile/budget" > /dev/null
PYTHONPATH=$repo/src python "$repo/scripts/update_readme.py" --profile "$profile" --root "$dir"
python -c "import collections, json, sys; print('rehearse_profile: verdicts', dict(collections.Counter(
    c['verdict'] for c in json.load(open(sys.argv[1]))['claims'])))" "paper_tables/$profile/claims.json"
echo "rehearse_profile: every job ran and rendered; outputs in $dir (docs/results.md and the README summary)"
