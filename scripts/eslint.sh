#!/usr/bin/env bash
# Runs eslint (eslint.config.js) over every source file git does not ignore; extra arguments go to eslint (e.g. --fix).
# The cache (node_modules/.cache/eslint) keyed by file content makes a run over unchanged files take about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
exec npx --no-install eslint --cache --cache-location node_modules/.cache/eslint/ --cache-strategy content "$@" .
