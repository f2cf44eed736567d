#!/usr/bin/env bash
# The one test command (`npm test`): install what is missing, build, lint, run the whole suite.
# Ends with the line `N passed, N failed`; an eslint violation counts as one failure (the suite still runs).
# Extra arguments are passed to tap (e.g. a file).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-deps.sh

echo "weft: building (tsc, then the dashboard with esbuild)"
rm -rf dist
npx --no-install tsc -p tsconfig.json
node scripts/build-ui.mjs

echo "weft: linting (the dashboard's types, eslint)"
lint_status=0
npx --no-install tsc -p ui/tsconfig.json || lint_status=$?
bash scripts/eslint.sh || lint_status=$?
if [ "$lint_status" -ne 0 ]; then echo "weft: eslint found problems (listed above; npm run lint:fix fixes some)" >&2; fi

log=$(mktemp -t weft-test.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0
run_tap() { npx --no-install tap --reporter=tap "$@" 2>&1 | tee -a "$log" || status=$?; }
if [ "$#" -gt 0 ]; then
  run_tap "$@"
else
  # Tests that build namespaces, run wireguard-go or time a mesh run one at a time; the rest two at a time.
  mapfile -t serial < <(find dist/test/e2e dist/test/sim/netns -name '*.test.js' | sort)
  mapfile -t parallel < <(find dist/test -name '*.test.js' -not -path 'dist/test/e2e/*' -not -path 'dist/test/sim/netns/*' | sort)
  run_tap --jobs=2 "${parallel[@]}"
  run_tap --jobs=1 "${serial[@]}"
fi

sum() { { grep -E '^# \{ total: [0-9]+' "$log" || true; } | { grep -oE "$1: [0-9]+" || true; } | awk '{ s += $2 } END { print s + 0 }'; }
runs=$(grep -cE '^# \{ total: [0-9]+' "$log" || true)
total=$(sum total); pass=$(sum pass); skip=$(sum skip); todo=$(sum todo)
failed=$(( total - pass - skip - todo ))
expected=$([ "$#" -gt 0 ] && echo 1 || echo 2)
if [ "$runs" -lt "$expected" ] || [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=$(( failed + 1 )); fi
if [ "$lint_status" -ne 0 ]; then failed=$(( failed + 1 )); fi
# The failures again, next to the summary, so that a log cut to its tail still names them.
if grep -qE '^ *not ok' "$log"; then
  echo "weft: failed:"
  grep -E '^ *not ok' "$log" | grep -vE '# (TODO|SKIP)' | sed -E 's/^ +/  /' | head -40
fi
echo "$pass passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
