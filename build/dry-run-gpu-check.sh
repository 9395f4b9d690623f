#!/usr/bin/env bash
# Proves the GPU-check pack on this (CPU-only, SDK) machine: builds it (build/pack-gpu-check.sh),
# unpacks it into a temporary folder and runs gpu-check.sh there as a GPU host would, but with
# GPUCONV_ALLOW_NO_GPU=1 and no .NET SDK reachable: PATH holds only system folders, and a `dotnet`
# placed first on it fails loudly if anything calls it (the pack must use its own runtime); HOME and
# DOTNET_ROOT point nowhere useful. Checks that every step has its summary line, that no step failed,
# and that the archive came out; copies the evidence into docs/gpu-runs/dry-run/ (or $1).
#   usage: build/dry-run-gpu-check.sh [evidence-dir]      GPUCONV_DRY_RUN_REUSE_PACK=1 skips the build
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EVIDENCE=${1:-$ROOT/docs/gpu-runs/dry-run}
cd "$ROOT"
T0=$(date +%s)

if [ "${GPUCONV_DRY_RUN_REUSE_PACK:-0}" = 1 ] && [ -f pack/gpu-check.tar.xz ]; then
  echo "== reusing pack/gpu-check.tar.xz"
else
  build/pack-gpu-check.sh || { echo "dry run: the pack did not build"; exit 1; }
fi
PACK_BYTES=$(stat -c %s pack/gpu-check.tar.xz)

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/host" "$WORK/out" "$WORK/bin" "$WORK/home"
tar -C "$WORK/host" -xJf pack/gpu-check.tar.xz || { echo "dry run: the pack did not unpack"; exit 1; }
cat >"$WORK/bin/dotnet" <<'EOF'
#!/bin/sh
echo "dry run: the system dotnet was called ($*): the pack must run on its own runtime" >&2
exit 127
EOF
chmod +x "$WORK/bin/dotnet"

echo "== running gpu-check.sh from the unpacked pack (no SDK on PATH, GPUCONV_ALLOW_NO_GPU=1)"
T1=$(date +%s)
( cd "$WORK/host" && env -i PATH="$WORK/bin:/usr/bin:/bin" HOME="$WORK/home" LANG=C.UTF-8 TERM=dumb \
    GPUCONV_ALLOW_NO_GPU=1 ${GPUCONV_CHECK_BUDGET:+GPUCONV_CHECK_BUDGET=$GPUCONV_CHECK_BUDGET} \
    ./gpu-check/gpu-check.sh "$WORK/host/results" "$WORK/out" ) 2>&1 | tee "$WORK/console.txt"
RC=${PIPESTATUS[0]}
CHECK_SECONDS=$(( $(date +%s) - T1 ))

problems=()
[ -f "$WORK/out/gpu-results.tar.gz" ] || problems+=("no gpu-results.tar.gz in the archive folder")
[ -f "$WORK/out/summary.txt" ] || problems+=("no summary.txt in the archive folder")
SUMMARY="$WORK/host/results/summary.txt"
for step in "system+libraries" "gpuconv devices" "smoke" "cudnn candidate tables" "GPU tests" "torch_compare.py" "bench" "all other tests" "overall"; do
  grep -q -- "$step" "$SUMMARY" 2>/dev/null || problems+=("summary.txt has no line for '$step'")
done
grep -qE '^(FAIL|TIMEOUT) ' "$SUMMARY" 2>/dev/null && problems+=("a step failed or timed out: $(grep -E '^(FAIL|TIMEOUT) ' "$SUMMARY" | tr '\n' ';')")
grep -q 'dry run: the system dotnet was called' "$WORK/console.txt" "$WORK"/host/results/*.txt 2>/dev/null && problems+=("something called the system dotnet")
[ "$RC" -eq 0 ] || problems+=("gpu-check.sh exited $RC")

mkdir -p "$EVIDENCE"
rm -f "$EVIDENCE"/*.txt
cp "$WORK/console.txt" "$EVIDENCE/console.txt"
cp "$SUMMARY" "$EVIDENCE/summary.txt" 2>/dev/null
for f in system devices smoke gpu-tests-skips torch-compare; do cp "$WORK/host/results/$f.txt" "$EVIDENCE/$f.txt" 2>/dev/null; done
tail -n 12 "$WORK/host/results/all-tests.txt" >"$EVIDENCE/all-tests-tail.txt" 2>/dev/null
grep -A 20 -E "^failed " "$WORK/host/results/all-tests.txt" "$WORK/host/results/gpu-tests.txt" >"$EVIDENCE/failed-tests.txt" 2>/dev/null || rm -f "$EVIDENCE/failed-tests.txt"
{
  echo "dry run of the GPU-check pack: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  sed 's/^/pack /' "$WORK/host/gpu-check/PACK-INFO.txt" | grep -E '^pack (built|commit|runtime)'   # what the pack was built from
  echo "pack: $PACK_BYTES bytes; gpu-check.sh: ${CHECK_SECONDS} s, exit $RC; whole dry run: $(( $(date +%s) - T0 )) s"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "archive folder: $(cd "$WORK/out" && ls -l | tail -n +2 | awk '{print $9 " (" $5 " bytes)"}' | paste -sd ' ' -)"
  echo "archive contents:"; tar -tzvf "$WORK/out/gpu-results.tar.gz" 2>/dev/null | awk '{print "  " $3 "  " $6}'
  if [ ${#problems[@]} -eq 0 ]; then echo "verdict: PASS"; else printf 'verdict: FAIL: %s\n' "${problems[@]}"; fi
} >"$EVIDENCE/dry-run.txt"
cat "$EVIDENCE/dry-run.txt"
[ ${#problems[@]} -eq 0 ]
