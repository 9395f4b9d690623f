#!/usr/bin/env bash
# Packs everything a GPU host needs to run GpuConv's GPU checks WITHOUT a .NET SDK or network:
# the test project and the gpuconv CLI (framework-dependent, Release), the local .NET runtime
# (dotnet host + host/fxr + shared/Microsoft.NETCore.App/<version>), and build/gpu-check.sh.
# Output: pack/gpu-check.tar.xz (pack/ is git-ignored). Runs on the SDK machine.
#   usage: build/pack-gpu-check.sh            then on the GPU host:
#          tar xJf gpu-check.tar.xz && gpu-check/gpu-check.sh [results-dir]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
MAX_MB=60

STAGE_PARENT=$(mktemp -d)
trap 'rm -rf "$STAGE_PARENT"' EXIT
STAGE=$STAGE_PARENT/gpu-check
mkdir -p "$STAGE" pack

echo "== publishing tests/GpuConv.Tests"
# A RID keeps only linux-x64 native libraries (the tests reference the CLI, which brings ONNX Runtime for every platform).
dotnet publish tests/GpuConv.Tests -c Release -r linux-x64 --no-self-contained -o "$STAGE/tests" -p:GenerateDocumentationFile=false >"$STAGE_PARENT/publish-tests.log" 2>&1 \
  || { cat "$STAGE_PARENT/publish-tests.log"; exit 1; }

CLI=samples/GpuConv.Cli
if [ -f "$CLI/GpuConv.Cli.csproj" ]; then
  if ! grep -qE 'Main|args|Command' "$CLI/Program.cs" 2>/dev/null; then
    echo "note: $CLI/Program.cs has no real program yet; publishing it anyway"
  fi
  echo "== publishing $CLI (linux-x64 native assets only)"
  # A RID keeps only linux-x64 native libraries (ONNX Runtime ships one per platform otherwise).
  dotnet publish "$CLI" -c Release -r linux-x64 --no-self-contained -o "$STAGE/cli" >"$STAGE_PARENT/publish-cli.log" 2>&1 \
    || { cat "$STAGE_PARENT/publish-cli.log"; exit 1; }
else
  echo "note: $CLI not found; the pack has no CLI"
fi

echo "== copying the .NET runtime"
DOTNET_HOME=$(dirname "$(readlink -f "$(command -v dotnet)")")
# The runtime the tests were built for: highest installed patch of the runtimeconfig's major.minor.
WANT=$(sed -n 's/.*"version": *"\([0-9]*\.[0-9]*\)\..*/\1/p' "$STAGE/tests/GpuConv.Tests.runtimeconfig.json" | head -n1)
RUNTIME_VERSION=$(ls "$DOTNET_HOME/shared/Microsoft.NETCore.App" | grep "^$WANT\." | sort -V | tail -n1)
[ -n "$RUNTIME_VERSION" ] || { echo "no Microsoft.NETCore.App $WANT.* under $DOTNET_HOME"; exit 1; }
FXR_VERSION=$(ls "$DOTNET_HOME/host/fxr" | sort -V | tail -n1)
mkdir -p "$STAGE/dotnet/shared/Microsoft.NETCore.App" "$STAGE/dotnet/host/fxr"
cp "$DOTNET_HOME/dotnet" "$STAGE/dotnet/"
cp -r "$DOTNET_HOME/host/fxr/$FXR_VERSION" "$STAGE/dotnet/host/fxr/"
cp -r "$DOTNET_HOME/shared/Microsoft.NETCore.App/$RUNTIME_VERSION" "$STAGE/dotnet/shared/Microsoft.NETCore.App/"
[ -f "$DOTNET_HOME/LICENSE.txt" ] && cp "$DOTNET_HOME/LICENSE.txt" "$DOTNET_HOME/ThirdPartyNotices.txt" "$STAGE/dotnet/" 2>/dev/null || true

cp build/gpu-check.sh "$STAGE/gpu-check.sh"
mkdir -p "$STAGE/shapes" && cp samples/GpuConv.Cli/shapes/*.csv "$STAGE/shapes/"
# The independent PyTorch comparison lives in the shared folder (not in this repository): carry it when present.
SHARED=${GPUCONV_SHARED:-$ROOT/../shared}
if [ -f "$SHARED/gpu/torch_compare.py" ]; then cp "$SHARED/gpu/torch_compare.py" "$STAGE/"; else echo "note: $SHARED/gpu/torch_compare.py not found; the pack will skip it"; fi
chmod +x "$STAGE/gpu-check.sh"
{
  echo "GpuConv GPU check pack"
  echo "built:   $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit:  $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
  echo "runtime: Microsoft.NETCore.App $RUNTIME_VERSION, hostfxr $FXR_VERSION"
  echo "run:     ./gpu-check.sh [results-dir]   (default ./gpu-results)"
} >"$STAGE/PACK-INFO.txt"

echo "== compressing"
rm -f pack/gpu-check.tar.xz
tar -C "$STAGE_PARENT" -cf - gpu-check | xz -T0 -6 >pack/gpu-check.tar.xz
SIZE_MB=$(( $(stat -c %s pack/gpu-check.tar.xz) / 1024 / 1024 ))
echo "pack/gpu-check.tar.xz: ${SIZE_MB} MB (runtime $RUNTIME_VERSION)"
if [ "$SIZE_MB" -ge "$MAX_MB" ]; then echo "pack is over ${MAX_MB} MB"; exit 1; fi
