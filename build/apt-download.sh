#!/usr/bin/env bash
# Downloads Debian bookworm packages (.deb files, not installed) into a folder, for build/fetch-ptxas.sh and
# tests/NativeFakes/fetch-tcc.sh. apt runs against a private sources list, package lists, status and cache in a
# temporary folder (removed afterwards): the machine's apt configuration is neither used nor changed.
#   usage: build/apt-download.sh NAME COMPONENT DEST_DIR PACKAGE...
#     NAME prefixes every message ("fetch-ptxas: …"); COMPONENT is main or non-free; the .deb files land in DEST_DIR.
#   exit 0 when every package was downloaded; otherwise 1 with apt's own log on stderr.
# Environment: PTXAS_DEBIAN_MIRROR (default http://deb.debian.org/debian), PTXAS_FETCH_TIMEOUT (seconds per apt
# step, default 300), PTXAS_KEYRING (default /usr/share/keyrings/debian-archive-keyring.gpg).
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 NAME COMPONENT DEST_DIR PACKAGE..." >&2; exit 2; }
NAME=$1 COMPONENT=$2 DEST_DIR=$3
shift 3
MIRROR=${PTXAS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
LIMIT=${PTXAS_FETCH_TIMEOUT:-300}
KEYRING=${PTXAS_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}

fail() { echo "$NAME: $*" >&2; exit 1; }

for tool in apt-get dpkg-deb timeout; do
  command -v "$tool" >/dev/null 2>&1 || fail "needs $tool (a Debian or Ubuntu machine)"
done
ARCH=$(dpkg --print-architecture 2>/dev/null || uname -m)
[ "$ARCH" = amd64 ] || fail "fetches amd64 packages only; this machine is $ARCH"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/parts" "$DEST_DIR"
# The Release file is verified with Debian's archive keyring, else with apt's own trusted keys (an
# unverifiable list makes apt-get update fail, with apt's message shown below).
if [ -r "$KEYRING" ]; then SIGNED="[signed-by=$KEYRING] "; else SIGNED=""; echo "$NAME: $KEYRING missing; verifying with apt's trusted keys" >&2; fi
echo "deb ${SIGNED}$MIRROR bookworm $COMPONENT" >"$WORK/sources.list"
: >"$WORK/status"
# Every path apt would read or write is redirected into $WORK; the download runs as the current user
# (not the _apt sandbox user, which cannot write into a private folder).
APT=(apt-get -q
  -o Dir::Etc::SourceList="$WORK/sources.list" -o Dir::Etc::SourceParts="$WORK/parts"
  -o Dir::State::Lists="$WORK/lists" -o Dir::State::status="$WORK/status" -o Dir::Cache="$WORK/cache"
  -o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o Debug::NoLocking=1
  -o APT::Sandbox::User="$(id -un)" -o Acquire::Retries=2 -o Acquire::http::Timeout=30)

echo "$NAME: reading the package list of $MIRROR bookworm $COMPONENT (at most ${LIMIT} s)" >&2
timeout "$LIMIT" "${APT[@]}" update >"$WORK/update.log" 2>&1 \
  || { cat "$WORK/update.log" >&2; fail "apt-get update against $MIRROR failed or timed out (${LIMIT} s)"; }
echo "$NAME: downloading $* (at most ${LIMIT} s)" >&2
( cd "$DEST_DIR" && timeout "$LIMIT" "${APT[@]}" download "$@" ) >"$WORK/download.log" 2>&1 \
  || { cat "$WORK/download.log" >&2; fail "apt-get download $* failed or timed out (${LIMIT} s)"; }
