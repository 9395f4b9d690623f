#!/usr/bin/env bash
# GpuConv's GPU check, for a Linux GPU host with an NVIDIA driver but no .NET SDK and no network.
# Runs from the unpacked pack (see build/pack-gpu-check.sh) with the .NET runtime carried beside it.
#   usage: ./gpu-check.sh [results-dir]      (default ./gpu-results)
# Writes into results-dir: system.txt (nvidia-smi, OS), libraries.txt (what CUDA libraries exist),
# gpu-tests.txt (+ .trx), all-tests.txt, devices.txt, verify.txt, summary.txt. Exit status 0 only
# if every step passed.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RESULTS=${1:-./gpu-results}
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)

export DOTNET_ROOT="$HERE/dotnet"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
DOTNET="$HERE/dotnet/dotnet"
# .NET needs ICU for culture data; without it, run invariant rather than crash at start-up.
if ! ldconfig -p 2>/dev/null | grep -q 'libicuuc\.so'; then export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1; fi

SUMMARY="$RESULTS/summary.txt"
: >"$SUMMARY"
overall=0
step() { # step NAME LOGFILE command... : runs, records the exit status
  local name=$1 log=$2; shift 2
  echo "== $name" | tee -a "$SUMMARY"
  ( cd "$HERE" && "$@" ) >"$log" 2>&1
  local rc=$?
  echo "   exit $rc ($(basename "$log"))" | tee -a "$SUMMARY"
  [ "$rc" -eq 0 ] || overall=1
  return 0
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -a)"
  [ -f /etc/os-release ] && grep -E '^(PRETTY_NAME)=' /etc/os-release
  cat "$HERE/PACK-INFO.txt" 2>/dev/null
  echo; echo "--- nvidia-smi"; nvidia-smi 2>&1 || echo "nvidia-smi not available"
  echo; nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1 || true
} >"$RESULTS/system.txt" 2>&1

{
  echo "--- ldconfig (driver, cuBLAS, cuDNN, NVRTC)"
  ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libcublas|libcudnn|libnvrtc' || echo "(none in the loader cache)"
  echo; echo "--- LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"; echo "--- CUDA_HOME=${CUDA_HOME:-} CUDA_PATH=${CUDA_PATH:-}"
  ls -d /usr/local/cuda* 2>/dev/null
  for py in python3 python; do
    command -v "$py" >/dev/null 2>&1 || continue
    echo; echo "--- $py: $(command -v "$py")"
    timeout 60 "$py" - <<'PY' 2>&1
import glob, os, site, sysconfig
dirs = []
try: dirs += site.getsitepackages()
except Exception: pass
dirs.append(sysconfig.get_paths().get("purelib", ""))
for d in dict.fromkeys(x for x in dirs if x):
    for lib in sorted(glob.glob(os.path.join(d, "nvidia", "*", "lib", "*.so*"))):
        print(lib)
    for inc in sorted(glob.glob(os.path.join(d, "nvidia", "cudnn", "include", "cudnn_version*.h"))):
        print("cuDNN header:", inc)
        for line in open(inc, errors="replace"):
            if line.startswith("#define CUDNN_MAJOR") or line.startswith("#define CUDNN_MINOR") or line.startswith("#define CUDNN_PATCHLEVEL"):
                print("   ", line.strip())
try:
    import torch
    print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())
except Exception as e:
    print("torch not importable:", e)
PY
    break
  done
} >"$RESULTS/libraries.txt" 2>&1

step "GPU tests (TestCategory=Gpu)" "$RESULTS/gpu-tests.txt" \
  "$DOTNET" tests/GpuConv.Tests.dll --filter "TestCategory=Gpu" --output Detailed \
  --report-trx --report-trx-filename gpu-tests.trx --results-directory "$RESULTS"
step "all tests" "$RESULTS/all-tests.txt" \
  "$DOTNET" tests/GpuConv.Tests.dll --report-trx --report-trx-filename all-tests.trx --results-directory "$RESULTS"
CLI_DLL=cli/GpuConv.Cli.dll   # the `gpuconv` command (assembly renamed: names are matched case-insensitively)
if [ -f "$HERE/$CLI_DLL" ]; then
  step "gpuconv devices" "$RESULTS/devices.txt" "$DOTNET" "$CLI_DLL" devices
  step "gpuconv verify" "$RESULTS/verify.txt" "$DOTNET" "$CLI_DLL" verify
  # Benchmarks: the planner's exhaustive choice per backend, strict FP32 (tables, then CSV for tools).
  for b in cudnn ptx; do
    step "gpuconv bench $b resnet50" "$RESULTS/bench-$b-resnet50.txt" \
      "$DOTNET" "$CLI_DLL" bench --backend "$b" --shapes resnet50 --policy exhaustive
  done
  step "gpuconv bench ptx mobilenet_v2" "$RESULTS/bench-ptx-mobilenet_v2.txt" \
    "$DOTNET" "$CLI_DLL" bench --backend ptx --shapes mobilenet_v2 --policy exhaustive
  step "gpuconv bench cudnn mobilenet_v2" "$RESULTS/bench-cudnn-mobilenet_v2.txt" \
    "$DOTNET" "$CLI_DLL" bench --backend cudnn --shapes mobilenet_v2 --policy exhaustive
  # The independent check against PyTorch (shared/gpu/torch_compare.py, carried in the pack when present).
  if [ -f "$HERE/torch_compare.py" ] && python3 -c "import torch, numpy" >/dev/null 2>&1; then
    step "torch_compare.py (PyTorch vs gpuconv run/bench)" "$RESULTS/torch-compare.txt" \
      python3 "$HERE/torch_compare.py" --gpuconv "$DOTNET $HERE/$CLI_DLL" --backends cudnn,ptx --cases 200 \
        --shapes "$HERE/shapes/resnet50.csv" --out "$RESULTS/torch-compare"
  else
    echo "== torch_compare.py: skipped (script not in the pack, or no python3 with torch and numpy)" | tee -a "$SUMMARY"
  fi
else
  echo "== gpuconv CLI not in the pack: skipped" | tee -a "$SUMMARY"
fi

for f in gpu-tests all-tests; do
  grep -E '^\s*(total|failed|succeeded|skipped):' "$RESULTS/$f.txt" 2>/dev/null | tr -s ' ' | sed "s/^/$f: /" >>"$SUMMARY"
done
# On a GPU host, GPU tests that all skipped mean the GPU path is off: that is a failed check
# (the reason is in gpu-tests.txt). GPUCONV_ALLOW_NO_GPU=1 accepts it, for trying the pack on a CPU box.
gpu_total=$(grep -E '^\s*total:' "$RESULTS/gpu-tests.txt" 2>/dev/null | awk -F: '{print $2+0}' | head -n1)
gpu_skipped=$(grep -E '^\s*skipped:' "$RESULTS/gpu-tests.txt" 2>/dev/null | awk -F: '{print $2+0}' | head -n1)
if [ -n "$gpu_total" ] && [ "$gpu_total" -gt 0 ] && [ "$gpu_skipped" = "$gpu_total" ]; then
  reason=$(grep -m1 -o 'GPU unavailable: .*' "$RESULTS/gpu-tests.txt" | cut -c1-400)
  echo "every GPU test skipped: ${reason:-see gpu-tests.txt}" | tee -a "$SUMMARY"
  [ "${GPUCONV_ALLOW_NO_GPU:-0}" = "1" ] || overall=1
fi
echo "overall: $([ $overall -eq 0 ] && echo PASS || echo FAIL)" | tee -a "$SUMMARY"
echo "results in $RESULTS"
exit $overall
