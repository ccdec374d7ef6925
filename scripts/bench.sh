#!/usr/bin/env bash
# The main job: run the namespace benchmarks, then turn criterion's output into one results JSON,
# a summary table (printed last), Markdown and SVG figures.
#
#   scripts/bench.sh --quick                  # criterion --quick (a few seconds per benchmark)
#   scripts/bench.sh                          # full criterion sampling
#   scripts/bench.sh --quick unshare          # extra arguments go to criterion (here: a filter)
#   scripts/bench.sh --save-baseline main     # criterion's own baselines keep working
#   CARGO_TARGET_DIR=/tmp/t scripts/bench.sh  # output under $CARGO_TARGET_DIR (default target/)
#
# Outputs: $CARGO_TARGET_DIR/criterion (criterion's files and HTML report) and
# $CARGO_TARGET_DIR/nsbench/{results.json,summary.md,results.svg,scaling-*.svg}; each run is also
# appended to $NSBENCH_HISTORY (default $CARGO_TARGET_DIR/nsbench/history.jsonl; keep it outside
# target/ to survive `cargo clean`) and history-<kind>.svg is redrawn.
# See nsbench/REPORTING.md for compare, history and export.
set -euo pipefail

# Resolve a relative CARGO_TARGET_DIR against the caller's directory before moving to the root.
target=${CARGO_TARGET_DIR:-}
if [ -n "$target" ] && [ "${target#/}" = "$target" ]; then
    target="$PWD/$target"
fi
cd "$(dirname "$0")/.."
target=${target:-$PWD/target}
export CARGO_TARGET_DIR="$target"

# `--bench namespaces`: only the criterion bench, whose harness understands criterion's options
# (--quick, --save-baseline ...); a libtest harness would reject them.
started=$(date +%s)
cargo bench -p nsbench --bench namespaces -- "$@"

report() { cargo run --quiet --release -p nsbench --bin nsbench-report -- "$@"; }

# The report (printed last), then this run appended to the history and its charts redrawn.
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
# --since: only what this run measured (criterion keeps results of earlier, filtered runs).
report report --criterion-dir "$target/criterion" --out "$target/nsbench" --since "$started" >"$summary"
history=${NSBENCH_HISTORY:-$target/nsbench/history.jsonl}
report history append "$target/nsbench/results.json" --file "$history"
report history plot --file "$history" --out "$target/nsbench" >/dev/null
echo "history charts: $target/nsbench/history-<kind>.svg (NSBENCH_HISTORY=$history)"
echo
cat "$summary"
