#!/usr/bin/env bash
# Builds the `ccscope` CLI and the settings helper and puts them where Tauri's `externalBin`
# expects them (src-tauri/binaries/<name>-<target triple>), so every bundle installs them beside
# the app. Run by `tauri build` (beforeBuildCommand); release unless TAURI_ENV_DEBUG=true.
set -euo pipefail
cd "$(dirname "$0")/.."
triple="${TAURI_ENV_TARGET_TRIPLE:-$(rustc -vV | sed -n 's/^host: //p')}"
profile=release
flags=(--release)
if [ "${TAURI_ENV_DEBUG:-false}" = "true" ]; then profile=debug; flags=(); fi
target_flag=()
if [ "$triple" != "$(rustc -vV | sed -n 's/^host: //p')" ]; then target_flag=(--target "$triple"); fi
# CCSCOPE_SIDECARS_BUILT=1: the binaries are built already (scripts/test.sh builds its debug ones
# with the settings test hooks, for its suites, and stages those).
if [ "${CCSCOPE_SIDECARS_BUILT:-0}" != 1 ]; then
  cargo build --locked "${flags[@]}" "${target_flag[@]}" -p ccscope -p ccscope-settings-helper
fi
# Cargo's output directory: CARGO_TARGET_DIR (or build.target-dir) when set, else target/.
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
dir="$target_dir/${target_flag:+$triple/}$profile"
ext=""
case "$triple" in *windows*) ext=".exe" ;; esac
mkdir -p src-tauri/binaries
for bin in ccscope ccscope-settings-helper; do
  cp "$dir/$bin$ext" "src-tauri/binaries/$bin-$triple$ext"
done
echo "stage-sidecars: $profile binaries for $triple staged in src-tauri/binaries"
