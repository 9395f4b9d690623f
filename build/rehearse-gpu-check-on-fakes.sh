#!/usr/bin/env bash
# Rehearses the H200 run on this (CPU-only, SDK) machine: the pack (build/pack-gpu-check.sh) unpacked in a
# temporary folder and its gpu-check.sh run WHOLE, every step, with the native fakes of tests/NativeFakes
# first on LD_LIBRARY_PATH (a "GPU": libcuda.so.1, libcudnn.so.9, libcublas.so.13), as the device command of
# docs/gpu-runs/README.md runs it (same budget, same archive folder). What differs from the H200, and why:
#   - GPUCONV_NATIVE_FAKES: the packed test process runs kernel launches on the PTX interpreter (the CLI has no
#     interpreter: its ptx launches fail, so smoke's ptx rows FAIL here and only here);
#   - GPUCONV_CHECK_NO_COMPUTE_STEPS=torch,probe,bench,resnet50,tables: those steps' fakes skip their arithmetic
#     (GPUCONV_FAKE_NO_COMPUTE=1; naive loops would take hours), so they finish; their correctness lines
#     and their MISMATCH verdicts are then meaningless, their times are the fakes' bookkeeping;
#   - PyTorch is /usr/bin/python3's (CPU only): torch_compare.py times PyTorch on the CPU (auto device).
# Then, second run: the torch step alone WITH arithmetic, for correctness[cudnn] (its speed half runs into
# the step's limit on the fakes' naive loops: the TIMEOUT path, whose note must still carry the correctness).
# Last: build/gpu-run-report.py on the first run's results. Evidence goes to $1 (default
# docs/gpu-runs/native-fake-rehearsal), files named *-s7-*; the whole results folders stay in $WORK when
# GPUCONV_REHEARSAL_KEEP=1.
# GPUCONV_REHEARSAL_ONLY=KEY (one step key, e.g. resnet50): instead of the above, that step alone twice — against the
# fakes with GPUCONV_FAKE_NO_COMPUTE=1 (the GPU path end to end; results wrong, times the fakes' bookkeeping) and
# with GPUCONV_CHECK_REHEARSAL=1 (the cpu stand-in, real arithmetic, PyTorch on the CPU) — evidence *-$TAG-KEY-*.
# Other GPUCONV_CHECK_* settings pass through to gpu-check.sh, e.g. GPUCONV_CHECK_NETWORKS=resnet50,mobilenetv2 with
# GPUCONV_REHEARSAL_ONLY=resnet50: the whole-network step with MobileNetV2 too (samples/GpuConv.Networks, mobilenetv2_torch.py).
#   usage: build/rehearse-gpu-check-on-fakes.sh [evidence-dir]    GPUCONV_DRY_RUN_REUSE_PACK=1 reuses pack/
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EVIDENCE=${1:-$ROOT/docs/gpu-runs/native-fake-rehearsal}
TAG=${GPUCONV_REHEARSAL_TAG:-s7}
cd "$ROOT"
T0=$(date +%s)

if [ "${GPUCONV_DRY_RUN_REUSE_PACK:-0}" = 1 ] && [ -f pack/gpu-check.tar.xz ]; then
  echo "== reusing pack/gpu-check.tar.xz"
else
  build/pack-gpu-check.sh || { echo "rehearsal: the pack did not build"; exit 1; }
fi
PTXAS=${GPUCONV_PTXAS:-$(build/fetch-ptxas.sh 2>/dev/null || true)}
PY=/usr/bin/python3   # the one with numpy and torch here (a python3 earlier on PATH may lack numpy)
"$PY" -c 'import torch, numpy' 2>/dev/null || { echo "rehearsal: $PY has no torch and numpy"; exit 1; }

WORK=$(mktemp -d)
[ "${GPUCONV_REHEARSAL_KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
FAKES=$WORK/fakes
tests/NativeFakes/build.sh "$FAKES" >/dev/null || { echo "rehearsal: the native fakes did not build"; exit 1; }
tar -C "$WORK" -xJf pack/gpu-check.tar.xz || { echo "rehearsal: the pack did not unpack"; exit 1; }

fake_env=(LD_LIBRARY_PATH="$FAKES" GPUCONV_NATIVE_FAKES="$FAKES" PATH="$(dirname "$PY"):$PATH" ${PTXAS:+GPUCONV_PTXAS=$PTXAS})
if [ -n "${GPUCONV_REHEARSAL_ONLY:-}" ]; then
  KEY=$GPUCONV_REHEARSAL_ONLY
  echo "== $KEY alone against the fakes (GPUCONV_FAKE_NO_COMPUTE=1: results wrong, times meaningless)"
  T1=$(date +%s)
  env "${fake_env[@]}" GPUCONV_CHECK_ONLY="$KEY" GPUCONV_CHECK_NO_COMPUTE_STEPS="$KEY" \
    "$WORK/gpu-check/gpu-check.sh" "$WORK/results" "$WORK/out" 2>&1 | tee "$WORK/console-fakes.txt"
  RC1=${PIPESTATUS[0]}; S1=$(( $(date +%s) - T1 ))
  echo "== $KEY alone on the cpu stand-in (GPUCONV_CHECK_REHEARSAL=1: real arithmetic, PyTorch on the CPU)"
  T2=$(date +%s)
  env PATH="$(dirname "$PY"):$PATH" GPUCONV_CHECK_ONLY="$KEY" GPUCONV_CHECK_REHEARSAL=1 \
    "$WORK/gpu-check/gpu-check.sh" "$WORK/results-cpu" "$WORK/out-cpu" 2>&1 | tee "$WORK/console-cpu.txt"
  RC2=${PIPESTATUS[0]}; S2=$(( $(date +%s) - T2 ))
  mkdir -p "$EVIDENCE"
  cp "$WORK/console-fakes.txt" "$EVIDENCE/console-$TAG-$KEY-fakes-no-compute.txt"
  cp "$WORK/results/summary.txt" "$EVIDENCE/summary-$TAG-$KEY-fakes-no-compute.txt"
  cp "$WORK/results/$KEY.txt" "$EVIDENCE/$KEY-$TAG-$KEY-fakes-no-compute.txt" 2>/dev/null
  cp "$WORK/console-cpu.txt" "$EVIDENCE/console-$TAG-$KEY-cpu-stand-in.txt"
  cp "$WORK/results-cpu/summary.txt" "$EVIDENCE/summary-$TAG-$KEY-cpu-stand-in.txt"
  cp "$WORK/results-cpu/$KEY.txt" "$EVIDENCE/$KEY-$TAG-$KEY-cpu-stand-in.txt" 2>/dev/null
  {
    echo "rehearsal of the $KEY step alone: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    grep -E '^(built|commit|runtime):' "$WORK/gpu-check/PACK-INFO.txt" | sed 's/^/pack /'
    echo "fakes, no arithmetic: ${S1} s, exit $RC1; cpu stand-in: ${S2} s, exit $RC2"
    echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "pack: $(stat -c %s pack/gpu-check.tar.xz) bytes"
  } | tee "$EVIDENCE/rehearsal-$TAG-$KEY.txt"
  [ "${GPUCONV_REHEARSAL_KEEP:-0}" = 1 ] && echo "results kept in $WORK"
  exit 0
fi
echo "== run 1: the whole gpu-check.sh against the fakes (speed steps without arithmetic)"
T1=$(date +%s)
env "${fake_env[@]}" GPUCONV_CHECK_NO_COMPUTE_STEPS=torch,probe,bench,resnet50,tables \
  "$WORK/gpu-check/gpu-check.sh" "$WORK/results" "$WORK/out" 2>&1 | tee "$WORK/console-run1.txt"
RC1=${PIPESTATUS[0]}
S1=$(( $(date +%s) - T1 ))

echo "== run 2: the torch step alone, with arithmetic (correctness[cudnn] against PyTorch float64)"
T2=$(date +%s)
env "${fake_env[@]}" GPUCONV_CHECK_ONLY=torch \
  "$WORK/gpu-check/gpu-check.sh" "$WORK/results-torch" "$WORK/out-torch" 2>&1 | tee "$WORK/console-run2.txt"
RC2=${PIPESTATUS[0]}
S2=$(( $(date +%s) - T2 ))

mkdir -p "$EVIDENCE"
R=$WORK/results
cp "$WORK/console-run1.txt" "$EVIDENCE/console-$TAG-whole-check.txt"
cp "$WORK/console-run2.txt" "$EVIDENCE/console-$TAG-torch-with-arithmetic.txt"
cp "$R/summary.txt" "$EVIDENCE/summary-$TAG-whole-check.txt"
cp "$WORK/results-torch/torch-compare.txt" "$EVIDENCE/torch-compare-$TAG-with-arithmetic.txt" 2>/dev/null
# The logs the report reads, for the record and for GpuRunReportTests (small: no trace, no trx, no plan cache).
mkdir -p "$EVIDENCE/results-$TAG"
rm -f "$EVIDENCE/results-$TAG"/*
for f in summary console system devices libraries torch-import torch-compare probe-cudnn probe-ptx bench-ptx-vs-cudnn plan-start-processes gpu-tests-skips resnet50; do
  cp "$R/$f.txt" "$EVIDENCE/results-$TAG/" 2>/dev/null
done
# The test platform's summaries and failures of both test steps, not their 200 KB of detailed output.
for t in gpu-tests all-tests; do
  { grep -E '^(failed|skipped) ' -A3 "$R/$t.txt" | grep -v '^--$' | head -n 80; echo "..."; tail -n 12 "$R/$t.txt"; } \
    >"$EVIDENCE/results-$TAG/$t.txt" 2>/dev/null
done
# The report from the copied logs (what a reader of the evidence can re-run), named relative to the repository.
"$PY" build/gpu-run-report.py "$(realpath --relative-to="$ROOT" "$EVIDENCE/results-$TAG")" >"$EVIDENCE/report-$TAG.md" \
  || echo "rehearsal: gpu-run-report.py failed"
{
  echo "rehearsal of the GPU-check pack against the native fakes: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  grep -E '^(built|commit|runtime):' "$WORK/gpu-check/PACK-INFO.txt" | sed 's/^/pack /'
  echo "run 1 (whole check): ${S1} s, exit $RC1; run 2 (torch with arithmetic): ${S2} s, exit $RC2; all: $(( $(date +%s) - T0 )) s"
  echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "archive folder (what \$OUT returns): $(cd "$WORK/out" && ls -l | tail -n +2 | awk '{print $9 " (" $5 " bytes)"}' | paste -sd ' ' -)"
  echo "archive contents:"; tar -tzvf "$WORK/out/gpu-results.tar.gz" 2>/dev/null | awk '{print "  " $3 "  " $6}'
} | tee "$EVIDENCE/rehearsal-$TAG.txt"
[ "${GPUCONV_REHEARSAL_KEEP:-0}" = 1 ] && echo "results kept in $WORK"
exit 0
