#!/usr/bin/env bash
# Installs what Weft's build, tests and sim need on a Debian machine, saying what it installs.
# Not root or not Debian: stops with a sentence naming what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A pkg_for=( [wireguard-go]=wireguard-go [wg]=wireguard-tools [ip]=iproute2 [nft]=nftables [ping]=iputils-ping [fping]=fping [openssl]=openssl )
missing=()
for bin in wireguard-go wg ip nft ping fping openssl; do
  command -v "$bin" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$bin" >/dev/null 2>&1 || missing+=("${pkg_for[$bin]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "weft: missing system packages: ${missing[*]}; install them (Debian: apt-get install ${missing[*]}) or run this as root on Debian." >&2
    exit 1
  fi
  echo "weft: installing with apt-get: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# promtool checks deploy/prometheus (test/deploy). Only the binary is taken from Debian's prometheus package:
# installing the package would also set up (and, under systemd, start) a Prometheus server.
if ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "weft: missing promtool; install it (Debian: the prometheus package has it) or run this as root on Debian." >&2
    exit 1
  fi
  echo "weft: installing promtool (the binary only, from Debian's prometheus package) to /usr/local/bin"
  tmp=$(mktemp -d)
  (cd "$tmp" && { apt-get download -qq prometheus 2>/dev/null || { apt-get update -qq && apt-get download -qq prometheus 2>/dev/null; }; })
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root"
  install -m 0755 "$tmp/root/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$tmp"
fi

if [ ! -x node_modules/.bin/tsc ] || [ ! -x node_modules/.bin/tap ] || [ ! -x node_modules/.bin/eslint ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # Not `npm ci`: the lock file cannot list msgpackr's optional native builds for other platforms (darwin,
  # win32) when the registry here does not serve them, and `npm ci` refuses such a lock as out of sync.
  echo "weft: installing npm packages (npm install)"
  npm install --no-audit --no-fund --loglevel=error
fi
