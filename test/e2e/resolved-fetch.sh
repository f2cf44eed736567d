#!/usr/bin/env bash
# Unpacks systemd-resolved (the daemon and resolvectl) from Debian's package into a cache directory without
# installing it: installing would replace the host's /etc/resolv.conf and start a resolver on the host.
# test/e2e/host-dns-resolved.test.ts runs the unpacked daemon inside a namespace of its own.
#
# Usage: resolved-fetch.sh [CACHE_DIR]   (default: ${TMPDIR:-/tmp}/weft-resolved)
# Prints two lines for the caller:
#   ROOT=<dir>              holding lib/systemd/systemd-resolved and usr/bin/resolvectl
#   LD_LIBRARY_PATH=<dir>   libsystemd-shared of the same version, or empty when the installed one matches
# Needs apt-get and dpkg-deb (Debian); runs `apt-get update` once when the package lists do not know the package.
set -euo pipefail
cache=${1:-${TMPDIR:-/tmp}/weft-resolved}

download() { # DIR PACKAGE...
  (cd "$1" && { apt-get download -qq "${@:2}" 2>/dev/null || { apt-get update -qq && apt-get download -qq "${@:2}" 2>/dev/null; }; })
}

# The daemon links libsystemd-shared-<major>.so, private to one systemd build: take the package of exactly the
# installed version where the archive still has it, else the newest of both and load its library instead.
installed=$(dpkg-query -W -f='${Version}' libsystemd-shared 2>/dev/null || true)
root=""
libdir=""
if [ -n "$installed" ]; then
  root="$cache/$installed"
  if [ ! -e "$root/.complete" ]; then
    rm -rf "$root" && mkdir -p "$root/debs"
    if download "$root/debs" "systemd-resolved=$installed"; then
      dpkg-deb -x "$root"/debs/systemd-resolved_*.deb "$root"
      touch "$root/.complete"
    else
      rm -rf "$root"
      root=""
    fi
  fi
fi
if [ -z "$root" ]; then
  root="$cache/candidate"
  if [ ! -e "$root/.complete" ]; then
    rm -rf "$root" && mkdir -p "$root/debs"
    if ! download "$root/debs" systemd-resolved libsystemd-shared; then
      echo "resolved-fetch: apt-get download systemd-resolved libsystemd-shared failed (no network or no Debian archive?)" >&2
      exit 1
    fi
    for deb in "$root"/debs/*.deb; do dpkg-deb -x "$deb" "$root"; done
    touch "$root/.complete"
  fi
  libdir=$(dirname "$(find "$root/usr/lib" -name 'libsystemd-shared-*.so' | head -n 1)")
fi

bin="$root/lib/systemd/systemd-resolved"
[ -x "$bin" ] || bin="$root/usr/lib/systemd/systemd-resolved"
missing=$(LD_LIBRARY_PATH="$libdir" ldd "$bin" | awk '/not found/ { print $1 }' | tr '\n' ' ')
if [ -n "$missing" ]; then
  echo "resolved-fetch: systemd-resolved needs libraries this host lacks: $missing(install the systemd package, which brings them)" >&2
  exit 1
fi
echo "ROOT=$root"
echo "LD_LIBRARY_PATH=$libdir"
