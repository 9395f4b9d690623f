#!/usr/bin/env bash
# Fetches the Tiny C Compiler and the C library headers from Debian bookworm (packages tcc, libc6-dev,
# linux-libc-dev; about 5 MB) into .tools/tcc/root, for machines with no C compiler (a fresh Debian image
# with only the .NET SDK), so tests/NativeFakes/build.sh can still build the native fakes.
#   usage: tests/NativeFakes/fetch-tcc.sh     prints the root folder on stdout (progress on stderr); exit 0 when tcc runs
# The download is build/apt-download.sh's (a private sources list, lists and cache in a temporary folder; the
# machine's apt configuration is neither used nor changed, and nothing is installed). Cached.
# Environment: PTXAS_DEBIAN_MIRROR (default http://deb.debian.org/debian), PTXAS_FETCH_TIMEOUT (seconds per
# apt step, default 300), PTXAS_KEYRING (default /usr/share/keyrings/debian-archive-keyring.gpg).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEST=$ROOT/.tools/tcc
TCC_ROOT=$DEST/root

fail() { echo "fetch-tcc: $*" >&2; exit 1; }

if [ -x "$TCC_ROOT/usr/bin/tcc" ] && "$TCC_ROOT/usr/bin/tcc" -v >/dev/null 2>&1; then
  echo "fetch-tcc: cached" >&2
  echo "$TCC_ROOT"
  exit 0
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/root"
"$ROOT/build/apt-download.sh" fetch-tcc main "$WORK/deb" tcc libc6-dev linux-libc-dev || fail "tcc not fetched (see above)"
for deb in "$WORK"/deb/*.deb; do dpkg-deb -x "$deb" "$WORK/root" || fail "could not unpack $(basename "$deb")"; done
"$WORK/root/usr/bin/tcc" -v >/dev/null 2>&1 || fail "the extracted tcc does not run"
mkdir -p "$DEST"
rm -rf "$TCC_ROOT.tmp"
mv "$WORK/root" "$TCC_ROOT.tmp" && rm -rf "$TCC_ROOT" && mv "$TCC_ROOT.tmp" "$TCC_ROOT"
echo "fetch-tcc: $("$TCC_ROOT/usr/bin/tcc" -v 2>&1 | head -n1)" >&2
echo "$TCC_ROOT"
