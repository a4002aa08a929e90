#!/usr/bin/env bash
# Runs every check and test of ccscope: formatting, clippy, unit and end-to-end tests (real
# SQLite files, real sockets on loopback, the real binary), and a short fuzzing pass.
# Installs what it needs first (scripts/setup.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/setup.sh --test

step() { printf '\n== %s\n' "$*"; }
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

step "desktop sidecars (the CLI and the settings helper every bundle carries; tauri-build needs them present)"
TAURI_ENV_DEBUG=true scripts/stage-sidecars.sh

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "settings crates for Windows and macOS (their registry and plist code compiles and lints)"
for target in x86_64-pc-windows-gnu x86_64-apple-darwin; do
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
  cargo clippy --locked --target "$target" -p ccscope-settings -p ccscope-settings-helper --all-targets -- -D warnings
done

step "cargo test"
# The test suites run the binaries with the settings test hooks (a scratch managed root); the
# sidecars staged above are built without them, and a helper without them refuses to run
# under a test root.
cargo build --locked -p ccscope -p ccscope-settings-helper --features ccscope-settings/test-hooks
cargo test --workspace --locked 2>&1 | tee target/test-output.txt

step "browser tests (Chromium + playwright-core against a real ccscope serve)"
npm --prefix tests/browser test 2>&1 | tee target/browser-test-output.txt

step "desktop app: the real window under Xvfb (tauri-driver + WebKitWebDriver)"
cargo build --locked -p ccscope-desktop
xvfb-run -a dbus-run-session -- npm --prefix tests/desktop test 2>&1 | tee target/desktop-test-output.txt

step "bundles: .deb and .rpm (release), installed and checked"
scripts/bundle.sh 2>&1 | tee target/bundle-output.txt
deb=$(ls -t target/release/bundle/deb/*.deb | head -1)
$sudo_cmd apt-get install -y -qq --reinstall "./$deb" >/dev/null
tests/desktop/installed.sh 2>&1 | tee target/installed-test-output.txt
CCSCOPE_DESKTOP_BIN=/usr/bin/ccscope-desktop xvfb-run -a dbus-run-session -- npm --prefix tests/desktop test 2>&1 | tee target/desktop-installed-test-output.txt

step "fuzz (short pass; scripts/fuzz.sh 600 for a long one)"
scripts/fuzz.sh 15

step "summary"
{
  grep -E "^test result: " target/test-output.txt
  grep -hE "^[0-9]+ passed, [0-9]+ failed$" target/installed-test-output.txt | sed 's/^\([0-9]*\) passed, \([0-9]*\) failed/test result: \1 passed; \2 failed;/'
  grep -hE "^# (pass|fail) " target/ui-test-output.txt target/browser-test-output.txt target/desktop-test-output.txt target/desktop-installed-test-output.txt | sed 's/^# pass \([0-9]*\)/test result: \1 passed;/; s/^# fail \([0-9]*\)/test result: \1 failed;/'
} | awk '
  { for (i = 1; i <= NF; i++) { if ($i == "passed;") p += $(i-1); if ($i == "failed;") f += $(i-1) } }
  END { printf "tests: %d passed, %d failed\n", p, f }'
