#!/usr/bin/env bash
# The organisation benchmark: a fleet's telemetry (1,000 users, 30 days, 10M events, 50M metric
# points, Claude Code's real event mix) generated once into the real ClickHouse engine (chdb),
# served by the test front, and the dashboard's fleet queries timed (`cargo bench --bench fleet`).
#   scripts/bench-clickhouse.sh [EVENTS POINTS USERS]     (defaults 10000000 50000000 1000)
# Environment: CCSCOPE_BENCH_ROLLUPS=1 (default) installs ccscope's hourly rollups first
# (`ccscope rollups install --no-refresh`: catches up, no views), 0 drops them (raw tables only);
# CCSCOPE_BENCH_SPAN_H=24 times the last 24 hours of the data instead of its 30 days (either
# from the start of an hour, as the dashboard's day presets);
# CCSCOPE_BENCH_RUNS (cargo bench --bench fleet) the runs per query.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-10000000}
points=${2:-50000000}
users=${3:-1000}
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
data="$target_dir/bench-clickhouse-$events-$points-$users"
python3 -c 'import chdb' 2>/dev/null || python3 -m pip install --quiet chdb-core==26.9.0
if [ ! -f "$data/range.json" ]; then
  rm -rf "$data"
  echo "bench: generating $events events and $points points for $users users into $data"
  python3 benches/clickhouse/generate.py "$data/db" --events "$events" --points "$points" --users "$users" > "$data.range.tmp"
  mkdir -p "$data" && mv "$data.range.tmp" "$data/range.json"
fi
cat "$data/range.json"
python3 tests/clickhouse/front.py --data "$data/db" > "$data/front.log" 2>&1 &
front=$!
trap 'kill $front 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$data/front.log" 2>/dev/null && break; sleep 0.2; done
port=$(sed -n 's/^listening on //p' "$data/front.log")
to=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["to_ns"])' "$data/range.json")
source_url="clickhouse://default@127.0.0.1:$port/otel"
cargo build --release --quiet --bin ccscope
if [ "${CCSCOPE_BENCH_ROLLUPS:-1}" = 1 ]; then
  started=$SECONDS
  "$target_dir/release/ccscope" rollups install --no-refresh --source "$source_url"
  echo "bench: rollups caught up in $((SECONDS - started)) s"
else
  "$target_dir/release/ccscope" rollups drop --source "$source_url"
fi
CCSCOPE_BENCH_SOURCE="$source_url" CCSCOPE_BENCH_TO_NS=$to \
  cargo bench --bench fleet
