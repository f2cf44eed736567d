#!/usr/bin/env bash
# The README's quick start: on a Debian machine as root, installs what is missing, builds, and runs a
# 10-node `weft sim` (real daemons and wireguard-go in network namespaces) that joins, pings every pair,
# crashes one node, shows it removed everywhere, brings it back, and prints where the report is.
# Everything it creates on the machine (namespaces, interfaces, processes) is removed when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "weft demo: needs root (it creates network namespaces and WireGuard interfaces); run: sudo $0" >&2
  exit 1
fi

node_major () { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 20 ] && command -v apt-get >/dev/null 2>&1; then
  echo "weft demo: installing Node.js and npm with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ "$(node_major)" -lt 20 ]; then
  echo "weft demo: needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none)); install it from your distribution or nodejs.org" >&2
  exit 1
fi

bash scripts/ensure-deps.sh
echo "weft demo: building (tsc)"
# tsc emits even when it reports a type error; say so rather than stop, and stop only if nothing was built.
npx tsc -p tsconfig.json || echo "weft demo: tsc reported type errors (see above); running what it emitted"
[ -f dist/cmd/weft.js ] || { echo "weft demo: the build produced no dist/cmd/weft.js" >&2; exit 1; }
out="${WEFT_DEMO_OUT:-./weft-demo}"
exec node dist/cmd/weft.js sim run --nodes "${WEFT_DEMO_NODES:-10}" --scenario demo --seed "${WEFT_DEMO_SEED:-1}" --out "$out" --keep
