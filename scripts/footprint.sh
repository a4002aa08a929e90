#!/usr/bin/env bash
# Measures the desktop footprint and prints figures (recorded in docs/benchmarks.md); asserts
# nothing. Needs release builds (scripts/bundle.sh), Xvfb, tauri-driver, and for the last figure
# the 1M-event store the query benchmark leaves in target/bench-queries-1
# (`cargo bench --bench queries`).
#   1. backend idle: RSS of `ccscope serve` 5 s after start, empty store
#   2. desktop idle: RSS of the app process and of the whole app (app + WebKit processes)
#   3. cold start to first chart: the desktop E2E's own measurement, release app
#   4. backend after a million stored events: RSS of `ccscope serve` on the 1M-event store after
#      the dashboard's 30-day overview and every chart were requested once
set -euo pipefail
cd "$(dirname "$0")/.."
release=target/release
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }

"$release/ccscope" serve --data-dir "$work/serve" --otlp-grpc 127.0.0.1:0 --otlp-http 127.0.0.1:0 --ui 127.0.0.1:0 >/dev/null 2>&1 &
serve=$!
sleep 5
echo "backend idle (ccscope serve, empty store): $(mib "$(rss_kib $serve)")"
kill -TERM $serve; wait $serve || true

export TAURI_DRIVER="${TAURI_DRIVER:-$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")}"
export HOME="$work/home" CCSCOPE_DATA_DIR="$work/desktop" CCSCOPE_OTLP_GRPC=127.0.0.1:0 CCSCOPE_OTLP_HTTP=127.0.0.1:0 CCSCOPE_LOG=warn
mkdir -p "$HOME"
cat > "$work/desktop.sh" <<'SH'
app_bin=$1
"$app_bin" >/dev/null 2>&1 &
app=$!
sleep 8
tree() { echo "$1"; for c in $(ps -o pid= --ppid "$1"); do tree "$c"; done; }
kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
rss=0; total=0
for p in $(tree "$app"); do rss=$((rss + $(kib "$p"))); total=$((total + $(pss "$p"))); done
awk -v a="$(kib "$app")" -v t="$total" -v r="$rss" 'BEGIN {printf "desktop idle: app process %.1f MiB RSS; whole app (app + its WebKit processes) %.1f MiB PSS (%.1f MiB summed RSS, shared libraries counted in each)\n", a / 1024, t / 1024, r / 1024}'
kill -TERM "$app"; wait "$app" || true
SH
xvfb-run -a dbus-run-session -- bash "$work/desktop.sh" "$PWD/$release/ccscope-desktop" 2>/dev/null

CCSCOPE_DESKTOP_BIN="$PWD/$release/ccscope-desktop" xvfb-run -a dbus-run-session -- node --test --test-concurrency=1 tests/desktop/window.test.mjs 2>/dev/null | grep -o 'first chart [0-9]* ms.*' | sed 's/^/cold start to /' || true

big=target/bench-queries-1
if [ -f "$big/ccscope.db" ]; then
  cp "$big/ccscope.db" "$work/big.db" && mkdir -p "$work/big" && mv "$work/big.db" "$work/big/ccscope.db"
  "$release/ccscope" serve --data-dir "$work/big" --otlp-grpc 127.0.0.1:0 --otlp-http 127.0.0.1:0 --ui 127.0.0.1:0 --retention-days 0 --max-db-size 0 >"$work/big.out" 2>/dev/null &
  serve=$!
  for _ in $(seq 100); do grep -q '^ *dashboard' "$work/big.out" && break; sleep 0.2; done
  url=$(sed -n 's/^ *dashboard *//p' "$work/big.out")
  origin=${url%%/?token=*}
  token=${url##*token=}
  end_ns=$(cat "$big/end_ns")
  from=$((end_ns - 30 * 86400 * 1000000000))
  curl -s -o /dev/null -H "Authorization: Bearer $token" "$origin/api/overview?from=$from&to=$end_ns"
  for chart in cost tokens cache sessions lines decisions active latency errors tools; do
    curl -s -o /dev/null -H "Authorization: Bearer $token" "$origin/api/charts/$chart?from=$from&to=$end_ns"
  done
  echo "backend after 1M events (30-day overview and charts served): $(mib "$(rss_kib $serve)")"
  kill -TERM $serve; wait $serve || true
else
  echo "skipped the 1M-event figure: run cargo bench --bench queries first"
fi
