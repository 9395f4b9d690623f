#!/usr/bin/env bash
# Line/branch coverage of GpuConv.dll while the GPU tests run against the native fakes (tests/NativeFakes):
#   build/gpu-coverage.sh            -> .coverage/report.md (per-file table of the GPU folders, uncovered blocks)
# Everything lands under .coverage/ (git-ignored): its own build (coverlet.MTP is referenced only when
# GpuConvCoverage=true, and ArtifactsPath keeps that build out of bin/ and obj/), the fakes, one coverlet JSON per
# test process, the merged report. The normal build and .ci/run never see coverlet.
#
# Runs (each one test process under coverlet; processes it starts from the same folder load the same instrumented
# GpuConv.dll and add their hits when they exit normally, so children are measured too):
#   fakes           what CI runs against the fakes: NativeFakeRunTests (the Gpu category, padding plan B, the CLI's
#                   verify and manifest runs, each in a child), FaultInjectionRunTests (the fault groups' children),
#                   the samples' *FakeRunTests (DeviceChain, Networks executables against the fakes)
#   gpu             the Gpu category in this process (quicker, for work on one test)
#   planb           the cuDNN Gpu tests with the transform refusing interior pointers (padding plan B)
#   fault-<group>   one group of FaultScenarioTests with its injected faults, as FaultInjectionRunTests runs it
#   cpu             every other test (no GPU, no fakes): with fakes, shows which GPU-file lines no test runs at all
# Usage: build/gpu-coverage.sh [--no-build] [RUN...]   (default: fakes; the report merges every RUN's file)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
COV=$ROOT/.coverage
build=1
if [ "${1:-}" = --no-build ]; then build=0; shift; fi
runs=("$@")
[ ${#runs[@]} -eq 0 ] && runs=(fakes)

if [ $build = 1 ]; then
  echo "+ coverage build (.coverage/artifacts)" >&2
  dotnet build tests/GpuConv.Tests -c Release -p:GpuConvCoverage=true -p:ArtifactsPath="$COV/artifacts" -v quiet -nologo >&2
fi
TESTS=$COV/artifacts/bin/GpuConv.Tests/release/GpuConv.Tests
[ -x "$TESTS" ] || { echo "no coverage build at $TESTS (run without --no-build)" >&2; exit 2; }
FAKES=$(bash tests/NativeFakes/build.sh "$COV/fakes")
# The fault groups' library folders, as FaultInjectionRunTests lays them out: one library left out of each.
mkdir -p "$FAKES/without-cudnn" "$FAKES/without-cublas"
ln -sf "$FAKES/libcuda.so.1" "$FAKES/libcublas.so.13" "$FAKES/without-cudnn/"
ln -sf "$FAKES/libcuda.so.1" "$FAKES/libcudnn.so.9" "$FAKES/without-cublas/"
PTXAS=${GPUCONV_PTXAS:-}
if [ -z "$PTXAS" ]; then PTXAS=$(build/fetch-ptxas.sh | tail -n 1); fi

OUT=$COV/runs
mkdir -p "$OUT"
rm -rf "$OUT/this"; mkdir -p "$OUT/this"   # only this invocation's runs go into the report
status=0
for run in "${runs[@]}"; do
  folder=$FAKES filter="TestCategory=Gpu"
  extra=()
  case $run in
    gpu) ;;
    cpu) filter="TestCategory!=Gpu&FullyQualifiedName!~FakeRunTests&FullyQualifiedName!~FaultInjectionRunTests" ;;
    fakes) filter="FullyQualifiedName~FakeRunTests|FullyQualifiedName~FaultInjectionRunTests"; extra=(GPUCONV_REQUIRE_NATIVE_FAKES=1) ;;
    planb) filter="TestCategory=Gpu&FullyQualifiedName~CudnnBackendGpuTests"; extra=(GPUCONV_FAKE_TRANSFORM_ALIGNMENT=16) ;;
    fault-*)
      group=${run#fault-}
      filter="FullyQualifiedName~GpuConv.Tests.Faults.FaultScenarioTests&TestCategory=fault-$group"
      extra=(GPUCONV_FAULT_CHILD="$group")
      case $group in
        cuinit) extra+=("GPUCONV_FAKE_FAULTS=cuInit@*=999") ;;
        nodevice) extra+=(GPUCONV_FAKE_DEVICE_COUNT=0) ;;
        cudnncreate) extra+=("GPUCONV_FAKE_FAULTS=cudnnCreate@*=4000") ;;
        cudnnmissing) folder=$FAKES/without-cudnn ;;
        cublascreate) extra+=("GPUCONV_FAKE_FAULTS=cublasCreate_v2@*=3") ;;
        cublasmissing) folder=$FAKES/without-cublas ;;
        run) ;;
        *) echo "unknown fault group $group" >&2; exit 2 ;;
      esac ;;
    *) echo "unknown run $run (fakes, gpu, planb, fault-<group>, cpu)" >&2; exit 2 ;;
  esac
  rm -f "$OUT/$run".coverage.*json "$OUT/$run.log"
  # In-process runs load the fakes themselves; the fakes and cpu runs' processes must see no GPU (its children get the fakes).
  if [ $run != fakes ] && [ $run != cpu ]; then
    extra+=(LD_LIBRARY_PATH="$folder${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" GPUCONV_NATIVE_FAKES="$folder" GPUCONV_FAKE_REPORT="$OUT/$run.fake-report.txt")
  fi
  echo "+ $run: $filter" >&2
  if ! env GPUCONV_PTXAS="$PTXAS" "${extra[@]}" \
      "$TESTS" --filter "$filter" --coverlet --coverlet-output-format json --coverlet-include "[GpuConv]*" \
      --coverlet-file-prefix "$run" --results-directory "$OUT" > "$OUT/$run.log" 2>&1; then
    echo "  $run: tests FAILED (see $OUT/$run.log)" >&2
    status=1
  fi
  grep -E '^ {0,2}(total|failed|succeeded|skipped): *[0-9]+$' "$OUT/$run.log" | tr -s ' \n' ' ' >&2; echo >&2
  mv "$OUT/$run".coverage.*json "$OUT/this/" 2>/dev/null || { echo "  $run: no coverage file" >&2; status=1; }
done
python3 build/gpu-coverage-report.py "$ROOT" "$COV/report.md" "$OUT"/this/*.coverage.*json
echo "report: $COV/report.md" >&2
exit $status
