#!/usr/bin/env bash
# The one test command (`npm test`): install what is missing, build, lint, run the whole suite.
# Ends with the line `N passed, N failed`; an eslint violation counts as one failure (the suite still runs).
# Extra arguments are passed to tap (e.g. a file).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-deps.sh

echo "weft: building (tsc)"
rm -rf dist
npx --no-install tsc -p tsconfig.json

echo "weft: linting (eslint)"
lint_status=0
bash scripts/eslint.sh || lint_status=$?
if [ "$lint_status" -ne 0 ]; then echo "weft: eslint found problems (listed above; npm run lint:fix fixes some)" >&2; fi

log=$(mktemp -t weft-test.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0
npx --no-install tap --reporter=tap "$@" 2>&1 | tee "$log" || status=$?

summary=$(grep -E '^# \{ total: [0-9]+' "$log" | tail -n 1 || true)
num() { echo "$summary" | grep -oE "$1: [0-9]+" | grep -oE '[0-9]+' || echo 0; }
total=$(num total); pass=$(num pass); skip=$(num skip); todo=$(num todo)
failed=$(( total - pass - skip - todo ))
if [ -z "$summary" ] || [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=$(( failed + 1 )); fi
if [ "$lint_status" -ne 0 ]; then failed=$(( failed + 1 )); fi
echo "$pass passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
