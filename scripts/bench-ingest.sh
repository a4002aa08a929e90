#!/usr/bin/env bash
# The ingest benchmark on Claude Code's real traffic, with rotel (PyPI) as the peer measured in
# the same run: installs rotel if missing, then `cargo bench --bench ingest`.
#   scripts/bench-ingest.sh            (CCSCOPE_BENCH_SCALE=0.3 for a shorter run)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import rotel' 2>/dev/null || python3 -m pip install --quiet rotel
exec cargo bench --bench ingest
