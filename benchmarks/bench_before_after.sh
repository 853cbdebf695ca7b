#!/usr/bin/env bash
# Speed of this checkout vs an older revision, side by side in one run.
#
#   bash benchmarks/bench_before_after.sh OLD_REV [rounds]
#
# Runs benchmarks/bench_ner.py and benchmarks/bench_classifier.py of OLD_REV (a temporary git worktree)
# and of this checkout alternately (old, new, old, new, ...), each process importing its own rnnzoo, so
# machine noise hits both. Each benchmark times rnnzoo against its PyTorch twin in the same process:
# compare the printed ratios ("Nx") of old and new rather than raw speeds. Lines are prefixed
# with [old|new round bench]. Needs the datasets (RNNZOO_DATA) and torch (CPU build).
set -euo pipefail
old=${1:?usage: bench_before_after.sh OLD_REV [rounds]}
rounds=${2:-2}
here=$(pwd)
tmp=$(mktemp -d)
git worktree add --detach "$tmp/old" "$old" >/dev/null
trap 'git -C "$here" worktree remove --force "$tmp/old" >/dev/null; rm -rf "$tmp"' EXIT
export TF_CPP_MIN_LOG_LEVEL=3
# The old checkout lives elsewhere: resolve the datasets folder (default ../shared/datasets) from here.
RNNZOO_DATA=$(cd "${RNNZOO_DATA:-$here/../shared/datasets}" && pwd)
export RNNZOO_DATA
for round in $(seq "$rounds"); do
  for side in old new; do
    dir=$here
    [ "$side" = old ] && dir=$tmp/old
    (cd "$dir" && PYTHONPATH="$dir" python benchmarks/bench_ner.py --sentences 512 --latency-sentences 50 \
      --train-batches 20 --repeats 3 2>&1) | sed "s/^/[$side $round ner] /"
    (cd "$dir" && PYTHONPATH="$dir" python benchmarks/bench_classifier.py --examples 1000 --repeats 3 --skip-bow 2>&1) \
      | sed "s/^/[$side $round classifier] /"
  done
done
