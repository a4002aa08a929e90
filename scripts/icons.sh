#!/usr/bin/env bash
# Regenerates every icon in icons/ from icons/source.svg (needs librsvg2-bin and the npm Tauri
# CLI: `npm install` at the repository root). The outputs are committed.
set -euo pipefail
cd "$(dirname "$0")/.."
rsvg-convert -w 1024 -h 1024 icons/source.svg -o icons/source.png
npx tauri icon icons/source.png -o icons
# Only the desktop formats are kept (no mobile icon sets).
rm -rf icons/android icons/ios
