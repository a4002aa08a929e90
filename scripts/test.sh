#!/usr/bin/env bash
# Runs every check and test of ccscope: formatting, clippy, unit and end-to-end tests (real
# SQLite files, real sockets on loopback, the real binary), and a short fuzzing pass.
# Installs what it needs first (scripts/setup.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/setup.sh --test

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked 2>&1 | tee target/test-output.txt

step "fuzz (short pass; scripts/fuzz.sh 600 for a long one)"
scripts/fuzz.sh 15

step "summary"
grep -E "^test result: " target/test-output.txt | awk '
  { for (i = 1; i <= NF; i++) { if ($i == "passed;") p += $(i-1); if ($i == "failed;") f += $(i-1) } }
  END { printf "tests: %d passed, %d failed\n", p, f }'
