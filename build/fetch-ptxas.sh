#!/usr/bin/env bash
# Fetches NVIDIA's PTX assembler (ptxas) from Debian bookworm's non-free nvidia-cuda-toolkit package
# (CUDA 11.8) into .tools/ptxas/ptxas, so that CPU-only machines can assemble kernels/*.ptx
# (PtxasAssemblyTests). ptxas is a self-contained binary that needs only libc.
#   usage: build/fetch-ptxas.sh     prints the path of ptxas on stdout (progress on stderr); exit 0 when it is there
# The download is build/apt-download.sh's: the machine's apt configuration is not used or changed. Only ptxas is kept (the .deb is
# ~84 MB). Cached: when .tools/ptxas/ptxas exists and runs, nothing is fetched.
# Environment: PTXAS_DEBIAN_MIRROR (default http://deb.debian.org/debian), PTXAS_FETCH_TIMEOUT (seconds
# per apt step, default 300), PTXAS_KEYRING (default /usr/share/keyrings/debian-archive-keyring.gpg).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=$ROOT/.tools/ptxas
PTXAS=$DEST/ptxas
MIRROR=${PTXAS_DEBIAN_MIRROR:-http://deb.debian.org/debian}

fail() { echo "fetch-ptxas: $*" >&2; exit 1; }

if [ -x "$PTXAS" ] && "$PTXAS" --version >/dev/null 2>&1; then
  echo "fetch-ptxas: cached ($(sed -n 's/.*release \([0-9.]*\).*/\1/p' "$DEST/VERSION.txt" 2>/dev/null | head -n1))" >&2
  echo "$PTXAS"
  exit 0
fi

command -v tar >/dev/null 2>&1 || fail "needs tar; ptxas not fetched"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$ROOT/build/apt-download.sh" fetch-ptxas non-free "$WORK/deb" nvidia-cuda-toolkit || fail "ptxas not fetched (see above)"
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
