#!/usr/bin/env bash
# Installs what ccscope needs on Debian/Ubuntu, then builds and installs the `ccscope` binary.
#   scripts/setup.sh            build dependencies + `cargo install` of ccscope and its settings helper into ~/.cargo/bin
#   scripts/setup.sh --test     build and test dependencies only (used by scripts/test.sh)
#   scripts/setup.sh --bundle   what building the desktop bundles needs (used by scripts/bundle.sh)
# Idempotent: installs only what is missing. Runs apt through sudo unless already root.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-install}
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# Installs those of the given Debian packages that are not installed yet.
apt_install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

apt_install_missing build-essential pkg-config curl ca-certificates git

# What the desktop app (Tauri: GTK, WebKitGTK, the tray) needs to build, and what `tauri build`
# needs to make the .deb and .rpm (`file`, `rpmbuild`, the npm Tauri CLI).
DESKTOP_BUILD_PACKAGES=(libwebkit2gtk-4.1-dev libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev
  file rpm python3)

install_npm() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing nodejs and npm"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
  fi
}

install_tauri_cli() {
  install_npm
  # Prebuilt, from npm: `cargo install tauri-cli` takes 15 minutes.
  [ -d node_modules/@tauri-apps ] || npm install --no-audit --no-fund --loglevel=error
}

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: installing the Rust toolchain (rustup)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

case "$mode" in
  --test)
    rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy rustfmt || true
    # The real Claude Code CLI the end-to-end tests run (a native binary shipped in an npm package).
    install_npm
    # Debian's Chromium for the browser tests (playwright-core drives it; it downloads nothing).
    if ! command -v chromium >/dev/null 2>&1; then
      echo "setup: installing chromium"
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
    fi
    # The desktop app: Tauri's build libraries, the .rpm tool, and for its end-to-end test Xvfb,
    # a D-Bus session (single instance), WebKitWebDriver and pkexec (the .deb depends on it).
    apt_install_missing "${DESKTOP_BUILD_PACKAGES[@]}" librsvg2-bin \
      xvfb xauth webkit2gtk-driver dbus dbus-x11 pkexec python3-xlib
    # D-Bus (the session bus of the E2E test, the system bus polkit uses) needs a machine id,
    # which containers often lack.
    [ -s /var/lib/dbus/machine-id ] || [ -s /etc/machine-id ] || $sudo dbus-uuidgen --ensure
    # The Tauri CLI and tauri-driver (WebDriver for the real window).
    install_tauri_cli
    command -v tauri-driver >/dev/null 2>&1 || cargo install --locked tauri-driver --version "^2"
    for dir in ui tests/browser; do
      [ -d "$dir/node_modules" ] || npm install --prefix "$dir" --no-audit --no-fund --loglevel=error
    done
    # The real ClickHouse engine for the organisation tests (PyPI's chdb-core, in-process).
    if ! python3 -c 'import chdb' >/dev/null 2>&1; then
      echo "setup: installing chdb-core (ClickHouse in-process) for the tests"
      python3 -m pip install --quiet chdb-core==26.9.0 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages chdb-core==26.9.0
    fi
    if ! ls tests/claude-code/node_modules/@anthropic-ai/claude-code-*/claude >/dev/null 2>&1; then
      echo "setup: installing the Claude Code CLI for the tests (tests/claude-code)"
      npm install --prefix tests/claude-code --no-audit --no-fund --loglevel=error
    fi
    ;;
  --bundle)
    apt_install_missing "${DESKTOP_BUILD_PACKAGES[@]}"
    install_tauri_cli
    ;;
  install)
    cargo install --locked --path . --root "$HOME/.cargo"
    # The settings helper sits beside ccscope, which runs it through pkexec (or directly as root).
    cargo install --locked --path crates/settings-helper --root "$HOME/.cargo"
    echo "setup: installed $(command -v ccscope || echo "$HOME/.cargo/bin/ccscope")"
    ;;
  *)
    echo "usage: scripts/setup.sh [--test|--bundle]" >&2
    exit 2
    ;;
esac
