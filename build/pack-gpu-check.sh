#!/usr/bin/env bash
# Packs everything a GPU host needs to run GpuConv's GPU check WITHOUT a .NET SDK or network, at most
# 40 MB (what is sent to the host must stay under 64 MiB with the repository, ~2.5 MB tracked, and
# whatever untracked files the checkout holds):
#   app/       the test assembly, the gpuconv CLI and the whole-network sample (GpuConv.Networks: ResNet-50, MobileNetV2)
#              published into ONE folder (one copy of every shared assembly), framework-dependent, linux-x64 only (the GPU host is linux-x64)
#   dotnet/    the local .NET runtime: dotnet host, host/fxr, shared/Microsoft.NETCore.App/<version>
#   gpu-check.sh, resnet50_torch.py, mobilenetv2_torch.py and convnexttiny_torch.py (the resnet50 step's PyTorch peers) with the module they share
#   (torch_network_timing.py), shapes/*.csv, PACK-INFO.txt, and ../shared/gpu/torch_compare.py when present
# Left out on purpose: ONNX Runtime's native library (29 MB; only `gpuconv bench --vs onnxruntime`, a
# CPU peer, and its one test use it: gpu-check.sh filters that test out), Windows DLLs, and the runtime's
# debugger and alternative-GC libraries (libmscordaccore, libmscordbi, libclrgc*, the LTTng provider).
# Output: pack/gpu-check.tar.xz (pack/ is git-ignored). Runs on the SDK machine.
#   usage: build/pack-gpu-check.sh            then on the GPU host:
#          tar xJf gpu-check.tar.xz && gpu-check/gpu-check.sh [results-dir]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
MAX_BYTES=$((40 * 1000 * 1000))

STAGE_PARENT=$(mktemp -d)
trap 'rm -rf "$STAGE_PARENT"' EXIT
STAGE=$STAGE_PARENT/gpu-check
APP=$STAGE/app
mkdir -p "$APP" pack

publish() { # publish PROJECT: into app/, linux-x64 assets only
  echo "== publishing $1 into app/"
  dotnet publish "$1" -c Release -r linux-x64 --no-self-contained -o "$APP" -p:GenerateDocumentationFile=false \
    >"$STAGE_PARENT/publish.log" 2>&1 || { cat "$STAGE_PARENT/publish.log"; exit 1; }
}
# The tests reference the CLI and the whole-network sample, so the first publish already holds every assembly; the
# others add each program's own deps.json, runtimeconfig.json and launcher (a few KB). Same build, same files: no copies.
publish tests/GpuConv.Tests
publish samples/GpuConv.Cli
publish samples/GpuConv.Networks
for f in GpuConv.Tests.dll GpuConv.Cli.dll GpuConv.Cli.runtimeconfig.json GpuConv.Tests.runtimeconfig.json \
         GpuConv.Networks.dll GpuConv.Networks.runtimeconfig.json; do
  [ -f "$APP/$f" ] || { echo "app/$f missing after publish"; exit 1; }
done
rm -f "$APP"/*.dll.config "$APP"/*.xml
# Native files that are not for linux-x64 (ONNX Runtime's Windows DLLs land in the root folder) and ONNX Runtime's own.
rm -f "$APP"/onnxruntime*.dll "$APP"/libonnxruntime*.so "$APP"/*.dylib
rm -rf "$APP/runtimes"
if find "$APP" -name '*.dll' -exec sh -c 'head -c 2 "$1" | grep -q MZ && ! grep -q "BSJB" "$1"' _ {} \; -print | grep -q .; then
  echo "app/ still holds native Windows DLLs:"; find "$APP" -name '*.dll' -exec sh -c 'head -c 2 "$1" | grep -q MZ && ! grep -q "BSJB" "$1"' _ {} \; -print
  exit 1
fi

echo "== copying the .NET runtime"
DOTNET_HOME=$(dirname "$(readlink -f "$(command -v dotnet)")")
# The runtime the app was built for: highest installed patch of the runtimeconfig's major.minor.
WANT=$(sed -n 's/.*"version": *"\([0-9]*\.[0-9]*\)\..*/\1/p' "$APP/GpuConv.Tests.runtimeconfig.json" | head -n1)
RUNTIME_VERSION=$(ls "$DOTNET_HOME/shared/Microsoft.NETCore.App" | grep "^$WANT\." | sort -V | tail -n1)
[ -n "$RUNTIME_VERSION" ] || { echo "no Microsoft.NETCore.App $WANT.* under $DOTNET_HOME"; exit 1; }
FXR_VERSION=$(ls "$DOTNET_HOME/host/fxr" | sort -V | tail -n1)
RUNTIME=$STAGE/dotnet/shared/Microsoft.NETCore.App/$RUNTIME_VERSION
mkdir -p "$STAGE/dotnet/shared/Microsoft.NETCore.App" "$STAGE/dotnet/host/fxr"
cp "$DOTNET_HOME/dotnet" "$STAGE/dotnet/"
cp -r "$DOTNET_HOME/host/fxr/$FXR_VERSION" "$STAGE/dotnet/host/fxr/"
cp -r "$DOTNET_HOME/shared/Microsoft.NETCore.App/$RUNTIME_VERSION" "$RUNTIME"
# Debugger support (used only by an attached debugger or createdump), the standalone GCs (only with
# DOTNET_GCName) and the LTTng trace provider (loaded only when present): none runs in the check.
rm -f "$RUNTIME"/libmscordaccore.so "$RUNTIME"/libmscordbi.so "$RUNTIME"/libclrgc*.so "$RUNTIME"/libcoreclrtraceptprovider.so
[ -f "$DOTNET_HOME/LICENSE.txt" ] && cp "$DOTNET_HOME/LICENSE.txt" "$DOTNET_HOME/ThirdPartyNotices.txt" "$STAGE/dotnet/" 2>/dev/null || true

cp build/gpu-check.sh "$STAGE/gpu-check.sh"
cp build/resnet50_torch.py build/mobilenetv2_torch.py build/convnexttiny_torch.py build/torch_network_timing.py "$STAGE/"
chmod +x "$STAGE/gpu-check.sh"
mkdir -p "$STAGE/shapes" && cp samples/GpuConv.Cli/shapes/*.csv "$STAGE/shapes/"
# The independent PyTorch comparison lives in the shared folder (not in this repository): carry it when present.
SHARED=${GPUCONV_SHARED:-$ROOT/../shared}
if [ -f "$SHARED/gpu/torch_compare.py" ]; then cp "$SHARED/gpu/torch_compare.py" "$STAGE/"; else echo "note: $SHARED/gpu/torch_compare.py not found; the check will skip that step"; fi
{
  echo "GpuConv GPU check pack"
  echo "built:   $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit:  $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (dirty)')"
  echo "runtime: Microsoft.NETCore.App $RUNTIME_VERSION, hostfxr $FXR_VERSION (linux-x64)"
  echo "torch_compare.py: $([ -f "$STAGE/torch_compare.py" ] && sha256sum "$STAGE/torch_compare.py" | cut -c1-16 || echo 'not in the pack')"
  echo "not in the pack: ONNX Runtime's native library (bench --vs onnxruntime and its test)"
  echo "run:     ./gpu-check.sh [results-dir]   (default ./gpu-results)"
} >"$STAGE/PACK-INFO.txt"

echo "== compressing"
rm -f pack/gpu-check.tar.xz
tar -C "$STAGE_PARENT" -cf - gpu-check | xz -T0 -9 >pack/gpu-check.tar.xz.tmp
mv pack/gpu-check.tar.xz.tmp pack/gpu-check.tar.xz
BYTES=$(stat -c %s pack/gpu-check.tar.xz)
echo "pack/gpu-check.tar.xz: $((BYTES / 1000 / 1000)).$(((BYTES / 10000) % 100)) MB ($BYTES bytes; unpacked $(du -sm "$STAGE" | cut -f1) MiB; runtime $RUNTIME_VERSION)"
if [ "$BYTES" -gt "$MAX_BYTES" ]; then echo "pack is over 40 MB ($BYTES > $MAX_BYTES bytes)"; exit 1; fi
