#!/bin/bash
# Gzip each rank log given into LOG.gz beside it, as published results commit them: `gzip -n -9` stores no
# name or time, so a log gives the same bytes each time it is packed (scripts/pull_results.sh unpacks them).
#
#   bash scripts/pack_ranklogs.sh results/cpu/runs/resnet20/baseline/s0/ranklog.jsonl ...
set -euo pipefail
for log in "$@"; do gzip -n -9 -c "$log" > "$log.gz"; done
