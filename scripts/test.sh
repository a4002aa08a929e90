#!/usr/bin/env bash
# Runs every check and test of ccscope: formatting, clippy, unit and end-to-end tests (real
# SQLite files, real sockets on loopback, the real binary), the decoders' fuzz properties on a
# fixed corpus of mutations.
# Installs what it needs first (scripts/setup.sh --test). Prints each step's time.
#
#   scripts/test.sh           everything (what CI runs)
#   scripts/test.sh --quick   the inner loop: format, clippy, and the unit and integration tests
#                             of the crates the change touches (against CCSCOPE_QUICK_BASE,
#                             default HEAD, plus files not committed yet)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

# Each step's name and seconds, printed as a table at the end (and when a step fails).
step_names=()
step_seconds=()
step_started=$SECONDS
step_open=0
step_close() {
  if [ $step_open -eq 1 ]; then
    step_seconds+=($((SECONDS - step_started)))
    step_open=0
  fi
}
step() {
  step_close
  step_names+=("$*")
  step_started=$SECONDS
  step_open=1
  printf '\n== %s\n' "$*"
}
step_times() {
  step_close
  printf '\n== step times (total %d s)\n' "$SECONDS"
  local i
  for i in "${!step_names[@]}"; do
    printf '%6d s  %s\n' "${step_seconds[$i]:-0}" "${step_names[$i]}"
  done
}
trap 'status=$?; [ $status -eq 0 ] || step_times; exit $status' EXIT

if [ "${1:-}" = "--quick" ]; then
  step "quick: cargo fmt --check"
  cargo fmt --all -- --check
  base=${CCSCOPE_QUICK_BASE:-HEAD}
  changed=$( { git diff --name-only "$base"; git ls-files --others --exclude-standard; } | sort -u)
  packages=()
  for dir in crates/*/; do
    name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$dir/Cargo.toml" | head -1)
    if grep -q "^${dir}" <<<"$changed"; then packages+=(-p "$name"); fi
  done
  if grep -qE '^(src/|tests/[^/]*\.rs|tests/common/|Cargo\.toml)' <<<"$changed"; then packages+=(-p ccscope); fi
  step "quick: cargo clippy ${packages[*]:-(nothing changed)}"
  if [ ${#packages[@]} -gt 0 ]; then
    cargo clippy --locked "${packages[@]}" --all-targets -- -D warnings
    step "quick: cargo test ${packages[*]}"
    cargo build --locked -p ccscope -p ccscope-settings-helper --features ccscope-settings/test-hooks
    cargo test --locked "${packages[@]}"
  fi
  step_times
  trap - EXIT
  exit 0
fi

scripts/setup.sh --test
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
mkdir -p target

# What this run has to work with: a full disk shows up later as a linker "Bus error" (lld maps
# its output file), so say it up front.
step "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2 " GiB memory"}'), disk:"
df -h . | tail -1
avail_kb=$(df -Pk . | awk 'NR == 2 {print $4}')
if [ "$avail_kb" -lt $((15 * 1024 * 1024)) ]; then
  echo "warning: only $((avail_kb / 1024 / 1024)) GiB free here; a full run (builds, bundles, fuzz targets) takes about 10 GiB" >&2
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "web UI: type-check, build, unit tests"
npm --prefix ui run build
# ui/dist is committed (the binary embeds it): it must be what the sources build.
if git rev-parse --git-dir >/dev/null 2>&1 && [ -n "$(git status --porcelain -- ui/dist)" ]; then
  git status --short -- ui/dist
  echo "ui/dist is stale: run 'npm --prefix ui run build' and commit ui/dist" >&2
  exit 1
fi
npm --prefix ui test 2>&1 | tee target/ui-test-output.txt

# One debug build of the CLI and the settings helper: with the settings test hooks (a scratch
# managed root) the suites run them with, staged as the desktop app's sidecars (tauri-build
# needs them present; the bundles stage their own release builds).
step "debug binaries (the CLI and the settings helper), staged as the desktop app's sidecars"
cargo build --locked -p ccscope -p ccscope-settings-helper --features ccscope-settings/test-hooks
TAURI_ENV_DEBUG=true CCSCOPE_SIDECARS_BUILT=1 scripts/stage-sidecars.sh

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "settings crates for Windows and macOS (their registry and plist code compiles and lints)"
for target in x86_64-pc-windows-gnu x86_64-apple-darwin; do
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
  cargo clippy --locked --target "$target" -p ccscope-settings -p ccscope-settings-helper --all-targets -- -D warnings
done

step "cargo test"
cargo test --workspace --locked 2>&1 | tee target/test-output.txt

step "browser tests (Chromium + playwright-core against a real ccscope serve)"
npm --prefix tests/browser test 2>&1 | tee target/browser-test-output.txt

# The desktop app's end-to-end test runs once, on the installed bundle (the real window under
# Xvfb, tauri-driver + WebKitWebDriver): what users install is what is tested.
step "bundles: .deb and .rpm (release), installed, and the desktop app's window tested"
scripts/bundle.sh 2>&1 | tee target/bundle-output.txt
deb=$(ls -t target/release/bundle/deb/*.deb | head -1)
$sudo_cmd apt-get install -y -qq --reinstall "./$deb" >/dev/null
tests/desktop/installed.sh 2>&1 | tee target/installed-test-output.txt
CCSCOPE_DESKTOP_BIN=/usr/bin/ccscope-desktop xvfb-run -a dbus-run-session -- npm --prefix tests/desktop test 2>&1 | tee target/desktop-installed-test-output.txt

# The fuzz targets' properties run in `cargo test` on a fixed corpus of recorded payloads,
# hostile shapes and their seeded mutations (crates/telemetry/tests/mutations.rs);
# `scripts/fuzz.sh 600` runs libFuzzer for new cases.

step_times
step "summary"
{
  grep -E "^test result: " target/test-output.txt
  grep -hE "^[0-9]+ passed, [0-9]+ failed$" target/installed-test-output.txt | sed 's/^\([0-9]*\) passed, \([0-9]*\) failed/test result: \1 passed; \2 failed;/'
  grep -hE "^# (pass|fail) " target/ui-test-output.txt target/browser-test-output.txt target/desktop-installed-test-output.txt | sed 's/^# pass \([0-9]*\)/test result: \1 passed;/; s/^# fail \([0-9]*\)/test result: \1 failed;/'
} | awk '
  { for (i = 1; i <= NF; i++) { if ($i == "passed;") p += $(i-1); if ($i == "failed;") f += $(i-1) } }
  END { printf "tests: %d passed, %d failed\n", p, f }'
