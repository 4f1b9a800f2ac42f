#!/usr/bin/env bash
# Build assets/plotly-explorer*.min.js, plotly.js with only the trace types the explorer draws
# (PARTS in build.mjs: a core part with the 2D traces, a 3D part, and the chunk they share), from
# the npm packages pinned in package-lock.json, and bundle.json beside this script. The bundle is
# committed: run this after changing PARTS or the plotly.js version (which must be the one
# plotly.py ships: tests/explorer/test_plotly_bundle.py checks).
#   tools/plotly-bundle/build.sh        (needs node >= 18 and npm; installs into node_modules here)
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
node build.mjs
