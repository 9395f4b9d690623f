#!/usr/bin/env bash
# Fetches NVIDIA's PTX assembler (ptxas) from Debian bookworm's non-free nvidia-cuda-toolkit package
# (CUDA 11.8) into .tools/ptxas/ptxas, so that CPU-only machines can assemble kernels/*.ptx
# (PtxasAssemblyTests). ptxas is a self-contained binary that needs only libc.
#   usage: build/fetch-ptxas.sh     prints the path of ptxas on stdout (progress on stderr); exit 0 when it is there
# The machine's apt configuration is not used or changed: apt runs against a private sources list,
# package lists and cache in a temporary folder (removed afterwards). Only ptxas is kept (the .deb is
# ~84 MB). Cached: when .tools/ptxas/ptxas exists and runs, nothing is fetched.
# Environment: PTXAS_DEBIAN_MIRROR (default http://deb.debian.org/debian), PTXAS_FETCH_TIMEOUT (seconds
# per apt step, default 300), PTXAS_KEYRING (default /usr/share/keyrings/debian-archive-keyring.gpg).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=$ROOT/.tools/ptxas
PTXAS=$DEST/ptxas
MIRROR=${PTXAS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
LIMIT=${PTXAS_FETCH_TIMEOUT:-300}
KEYRING=${PTXAS_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}

fail() { echo "fetch-ptxas: $*" >&2; exit 1; }

if [ -x "$PTXAS" ] && "$PTXAS" --version >/dev/null 2>&1; then
  echo "fetch-ptxas: cached ($(sed -n 's/.*release \([0-9.]*\).*/\1/p' "$DEST/VERSION.txt" 2>/dev/null | head -n1))" >&2
  echo "$PTXAS"
  exit 0
fi

for tool in apt-get dpkg-deb tar timeout; do
  command -v "$tool" >/dev/null 2>&1 || fail "needs $tool (a Debian or Ubuntu machine); ptxas not fetched"
done
ARCH=$(dpkg --print-architecture 2>/dev/null || uname -m)
[ "$ARCH" = amd64 ] || fail "Debian ships ptxas for amd64 only; this machine is $ARCH"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/parts" "$WORK/deb"
# The Release file is verified with Debian's archive keyring, else with apt's own trusted keys (an
# unverifiable list makes apt-get update fail, with apt's message shown below).
if [ -r "$KEYRING" ]; then SIGNED="[signed-by=$KEYRING] "; else SIGNED=""; echo "fetch-ptxas: $KEYRING missing; verifying with apt's trusted keys" >&2; fi
echo "deb ${SIGNED}$MIRROR bookworm non-free" >"$WORK/sources.list"
: >"$WORK/status"
# Every path apt would read or write is redirected into $WORK; the download runs as the current user
# (not the _apt sandbox user, which cannot write into a private folder).
APT=(apt-get -q
  -o Dir::Etc::SourceList="$WORK/sources.list" -o Dir::Etc::SourceParts="$WORK/parts"
  -o Dir::State::Lists="$WORK/lists" -o Dir::State::status="$WORK/status" -o Dir::Cache="$WORK/cache"
  -o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o Debug::NoLocking=1
  -o APT::Sandbox::User="$(id -un)" -o Acquire::Retries=2 -o Acquire::http::Timeout=30)

echo "fetch-ptxas: reading the package list of $MIRROR bookworm non-free (at most ${LIMIT} s)" >&2
timeout "$LIMIT" "${APT[@]}" update >"$WORK/update.log" 2>&1 \
  || { cat "$WORK/update.log" >&2; fail "apt-get update against $MIRROR failed or timed out (${LIMIT} s)"; }
echo "fetch-ptxas: downloading nvidia-cuda-toolkit (~84 MB, at most ${LIMIT} s)" >&2
( cd "$WORK/deb" && timeout "$LIMIT" "${APT[@]}" download nvidia-cuda-toolkit ) >"$WORK/download.log" 2>&1 \
  || { cat "$WORK/download.log" >&2; fail "apt-get download nvidia-cuda-toolkit failed or timed out (${LIMIT} s)"; }
DEB=$(ls "$WORK"/deb/nvidia-cuda-toolkit_*.deb 2>/dev/null | head -n1)
[ -n "$DEB" ] || fail "apt-get download left no nvidia-cuda-toolkit_*.deb"

dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$WORK" ./usr/bin/ptxas \
  || fail "$(basename "$DEB") has no ./usr/bin/ptxas"
"$WORK/usr/bin/ptxas" --version >"$WORK/version.txt" 2>&1 || fail "the extracted ptxas does not run: $(cat "$WORK/version.txt")"
mkdir -p "$DEST"
# Moved in last, so an interrupted fetch never leaves a half-written ptxas that looks cached.
{ echo "from: $(basename "$DEB") ($MIRROR bookworm non-free)"; cat "$WORK/version.txt"; } >"$DEST/VERSION.txt"
cp "$WORK/usr/bin/ptxas" "$PTXAS.tmp" && chmod +x "$PTXAS.tmp" && mv "$PTXAS.tmp" "$PTXAS"
echo "fetch-ptxas: $(grep -m1 'release' "$DEST/VERSION.txt")" >&2
echo "$PTXAS"
