#!/usr/bin/env bash
# Builds the desktop app's Linux packages (.deb and .rpm) with the npm Tauri CLI from the
# repository root, and prints their sizes. AppImage, dmg and msi/nsis are configured in
# src-tauri/tauri.conf.json but need their own platforms (AppImage downloads its runtime).
# Installs what it needs first (scripts/setup.sh --bundle: GTK/WebKit development packages,
# rpm, npm and the Tauri CLI), so it works on a fresh Debian or Ubuntu machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/setup.sh --bundle
# The CLI rejects CI=1; it wants true or false.
CI=true npx tauri build --bundles deb,rpm -- --locked
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
for f in "$target_dir"/release/bundle/deb/*.deb "$target_dir"/release/bundle/rpm/*.rpm; do
  printf 'bundle %s %s bytes\n' "$f" "$(stat -c %s "$f")"
done
