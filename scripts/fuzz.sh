#!/usr/bin/env bash
# Fuzzes the OTLP decoders (protobuf, JSON, gzip) with cargo-fuzz/libFuzzer, seeded with the
# recorded Claude Code payloads. Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] (default 30).
# Uses the stable toolchain with RUSTC_BOOTSTRAP=1 (libFuzzer needs -Z sanitizer flags).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
seconds=${1:-30}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --version 0.13.2
export RUSTC_BOOTSTRAP=1
fixtures=tests/fixtures/claude-code-2.1.197
seed() { # target pattern
  mkdir -p "fuzz/corpus/$1"
  find "$fixtures" -name "$2" ! -name '*.meta.json' -exec cp {} "fuzz/corpus/$1/" \;
}
seed decode_protobuf '*.pb'
seed decode_json '*.json'
seed decode_gzip '*.body.gz'
for target in decode_protobuf decode_json decode_gzip; do
  echo "fuzz: $target for ${seconds}s"
  cargo fuzz run -O "$target" "fuzz/corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=262144 2>&1 \
    | grep -E "^#[0-9]+.*(DONE|pulse)|Done|SUMMARY|ERROR|panicked" | tail -3
done
echo "fuzz: no crash in $((seconds * 3)) s over 3 targets"
