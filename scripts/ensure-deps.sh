#!/usr/bin/env bash
# Installs what Weft's build, tests and sim need on a Debian machine, saying what it installs.
# Not root or not Debian: stops with a sentence naming what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# The systemd package (a container may lack it) brings systemd-analyze, which checks deploy/systemd, and
# systemd-notify and systemd-socket-activate, which carry and receive the readiness notices in test/sd-notify.
# dig (dnsutils) asks the daemons' resolvers in the DNS tests, as an operator would; dbus-daemon is the private
# system bus of the systemd-resolved those tests run (test/e2e/resolved-ns.ts). chromium (/usr/bin/chromium) is
# the headless browser playwright-core drives in the dashboard's tests (test/e2e/browser.ts); playwright's own
# browser downloads are never used.
declare -A pkg_for=( [wireguard-go]=wireguard-go [wg]=wireguard-tools [ip]=iproute2 [nft]=nftables [ping]=iputils-ping [fping]=fping [openssl]=openssl
  [systemd-analyze]=systemd [dig]=dnsutils [dbus-daemon]=dbus-daemon [chromium]=chromium )
missing=()
for bin in wireguard-go wg ip nft ping fping openssl systemd-analyze dig dbus-daemon chromium; do
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

# Two binaries are taken from Debian packages without installing them: promtool checks deploy/prometheus
# (test/deploy), etcd backs the controller tests on etcd and the sim's controllers. Installing the packages
# would also set up (and, under systemd, start) a Prometheus server and an etcd member on this host.
binary_from_package() { # BIN PACKAGE WHY
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "weft: missing $1; install it (Debian: the $2 package has it) or run this as root on Debian." >&2
    exit 1
  fi
  echo "weft: installing $1 ($3; the binary only, from Debian's $2 package) to /usr/local/bin"
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && { apt-get download -qq "$2" 2>/dev/null || { apt-get update -qq && apt-get download -qq "$2" 2>/dev/null; }; })
  dpkg-deb -x "$tmp/$2"_*.deb "$tmp/root"
  install -m 0755 "$tmp/root/usr/bin/$1" "/usr/local/bin/$1"
  rm -rf "$tmp"
}
binary_from_package promtool prometheus 'checks the Prometheus files'
binary_from_package etcd etcd-server "the controllers' shared store"

if [ ! -x node_modules/.bin/tsc ] || [ ! -x node_modules/.bin/tap ] || [ ! -x node_modules/.bin/eslint ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # Not `npm ci`: the lock file cannot list msgpackr's optional native builds for other platforms (darwin,
  # win32) when the registry here does not serve them, and `npm ci` refuses such a lock as out of sync.
  echo "weft: installing npm packages (npm install)"
  npm install --no-audit --no-fund --loglevel=error
fi
