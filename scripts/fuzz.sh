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
# Hostile shapes: many empty records, many empty attributes, deep AnyValue nesting.
python3 - fuzz/corpus/decode_protobuf <<'PY'
import sys
def varint(n):
    out = b""
    while True:
        b = n & 0x7F; n >>= 7
        if n: out += bytes([b | 0x80])
        else: return out + bytes([b])
def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload
def logs(records):
    return field(1, field(2, b"".join(records)))
empty = logs([field(2, b"")] * 5000)
attrs = logs([field(2, field(6, b"") * 3000)])
deep = b""
for _ in range(120):
    deep = field(5, field(1, deep))  # AnyValue.array_value -> ArrayValue.values
nested = logs([field(2, field(5, deep))])
for name, data in [("hostile-empty-records", empty), ("hostile-empty-attributes", attrs), ("hostile-deep", nested)]:
    open(f"{sys.argv[1]}/{name}.pb", "wb").write(data)
PY
seed decode_json '*.json'
seed decode_gzip '*.body.gz'
for target in decode_protobuf decode_json decode_gzip; do
  echo "fuzz: $target for ${seconds}s"
  cargo fuzz run -O "$target" "fuzz/corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=262144 2>&1 \
    | grep -E "^#[0-9]+.*(DONE|pulse)|Done|SUMMARY|ERROR|panicked" | tail -3
done
echo "fuzz: no crash in $((seconds * 3)) s over 3 targets"
