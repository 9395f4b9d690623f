#!/usr/bin/env bash
# Fetches the Tiny C Compiler and the C library headers from Debian bookworm (packages tcc, libc6-dev,
# linux-libc-dev; about 5 MB) into .tools/tcc/root, for machines with no C compiler (a fresh Debian image
# with only the .NET SDK), so tests/NativeFakes/build.sh can still build the native fakes.
#   usage: tests/NativeFakes/fetch-tcc.sh     prints the root folder on stdout (progress on stderr); exit 0 when tcc runs
# Like build/fetch-ptxas.sh: apt runs against a private sources list, package lists and cache in a temporary
# folder; the machine's apt configuration is neither used nor changed, and nothing is installed. Cached.
# Environment: PTXAS_DEBIAN_MIRROR (default http://deb.debian.org/debian), PTXAS_FETCH_TIMEOUT (seconds per
# apt step, default 300), PTXAS_KEYRING (default /usr/share/keyrings/debian-archive-keyring.gpg).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEST=$ROOT/.tools/tcc
TCC_ROOT=$DEST/root
MIRROR=${PTXAS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
LIMIT=${PTXAS_FETCH_TIMEOUT:-300}
KEYRING=${PTXAS_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}

fail() { echo "fetch-tcc: $*" >&2; exit 1; }

if [ -x "$TCC_ROOT/usr/bin/tcc" ] && "$TCC_ROOT/usr/bin/tcc" -v >/dev/null 2>&1; then
  echo "fetch-tcc: cached" >&2
  echo "$TCC_ROOT"
  exit 0
fi

for tool in apt-get dpkg-deb timeout; do
  command -v "$tool" >/dev/null 2>&1 || fail "needs $tool (a Debian or Ubuntu machine); tcc not fetched"
done
ARCH=$(dpkg --print-architecture 2>/dev/null || uname -m)
[ "$ARCH" = amd64 ] || fail "the native fakes are built for amd64 only; this machine is $ARCH"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/parts" "$WORK/deb" "$WORK/root"
if [ -r "$KEYRING" ]; then SIGNED="[signed-by=$KEYRING] "; else SIGNED=""; echo "fetch-tcc: $KEYRING missing; verifying with apt's trusted keys" >&2; fi
echo "deb ${SIGNED}$MIRROR bookworm main" >"$WORK/sources.list"
: >"$WORK/status"
APT=(apt-get -q
  -o Dir::Etc::SourceList="$WORK/sources.list" -o Dir::Etc::SourceParts="$WORK/parts"
  -o Dir::State::Lists="$WORK/lists" -o Dir::State::status="$WORK/status" -o Dir::Cache="$WORK/cache"
  -o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o Debug::NoLocking=1
  -o APT::Sandbox::User="$(id -un)" -o Acquire::Retries=2 -o Acquire::http::Timeout=30)

echo "fetch-tcc: reading the package list of $MIRROR bookworm main (at most ${LIMIT} s)" >&2
timeout "$LIMIT" "${APT[@]}" update >"$WORK/update.log" 2>&1 \
  || { cat "$WORK/update.log" >&2; fail "apt-get update against $MIRROR failed or timed out (${LIMIT} s)"; }
echo "fetch-tcc: downloading tcc, libc6-dev, linux-libc-dev (~5 MB)" >&2
( cd "$WORK/deb" && timeout "$LIMIT" "${APT[@]}" download tcc libc6-dev linux-libc-dev ) >"$WORK/download.log" 2>&1 \
  || { cat "$WORK/download.log" >&2; fail "apt-get download failed or timed out (${LIMIT} s)"; }
for deb in "$WORK"/deb/*.deb; do dpkg-deb -x "$deb" "$WORK/root" || fail "could not unpack $(basename "$deb")"; done
"$WORK/root/usr/bin/tcc" -v >/dev/null 2>&1 || fail "the extracted tcc does not run"
mkdir -p "$DEST"
rm -rf "$TCC_ROOT.tmp"
mv "$WORK/root" "$TCC_ROOT.tmp" && rm -rf "$TCC_ROOT" && mv "$TCC_ROOT.tmp" "$TCC_ROOT"
echo "fetch-tcc: $("$TCC_ROOT/usr/bin/tcc" -v 2>&1 | head -n1)" >&2
echo "$TCC_ROOT"
