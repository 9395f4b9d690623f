#!/usr/bin/env bash
# GpuConv's GPU check, for a Linux GPU host with an NVIDIA driver but no .NET SDK and no network.
# Runs from the unpacked pack (build/pack-gpu-check.sh) with the .NET runtime carried beside it.
#   usage: ./gpu-check.sh [results-dir [archive-dir]]     (default ./gpu-results)
# Steps, in the order of what each tells us for issue 13 (a later step that hangs costs only itself: each
# has its own time limit inside a total budget, GPUCONV_CHECK_BUDGET seconds, default 360, so the whole
# check ends within 6.5 minutes):
#   1 system    system.txt, libraries.txt (driver, CUDA/cuDNN/cuBLAS wheels, torch), `gpuconv devices`
#   2 smoke     `gpuconv smoke`: small convolutions per GPU backend, op and algorithm vs the reference,
#               with GPUCONV_TRACE=1 (every native call logged)
#   3 gpu-tests the TestCategory=Gpu tests (not the NativeFakesOnly ones); on a GPU host a skipped test is a
#               failure unless its reason names something genuinely absent there (GPUCONV_ALLOWED_SKIPS, a regex)
#   4 torch     torch_compare.py: 200 random cases per GPU backend through `gpuconv run --manifest`
#               against PyTorch float64, and the speed tables against PyTorch/cuDNN on the ResNet-50 and
#               MobileNetV2 shapes (exhaustive planning, which fills the plan cache)
#   5 probe     `gpuconv probe` per GPU backend: engine overhead per call against the bare call, the
#               im2col kernel's bandwidth against a device copy, warm plan cache against cold exhaustive
#   6 bench     `gpuconv bench --backend ptx --vs cudnn` on both networks from that plan cache: ratios
#               per shape and per kind (3x3, 1x1, depthwise); per GPU backend when only one is usable;
#               then the start comparison of step 5 as two whole `gpuconv bench` processes (for the record)
#   7 resnet50  whole-network evidence (not one of issue 13's goals): samples/GpuConv.Networks (batch 1, 224x224,
#               device-resident, exhaustive planning into a fresh plan cache, the cold first run apart, checked
#               against the CPU engine) and resnet50_torch.py (the same net in torch.nn, BatchNorm folded,
#               cudnn.benchmark, TF32 off) timed alike; the note states both medians and PyTorch/ours; the sample's
#               --profile adds every layer's time, each call between two stream synchronizations, after its result. With
#               GPUCONV_CHECK_NETWORKS=resnet50,mobilenetv2 MobileNetV2 follows, the same way (mobilenetv2_torch.py),
#               within the same limit (see the step: by default it does not fit); convnexttiny likewise
#               (convnexttiny_torch.py: torchvision's graph, LayerNorm and GELU, nothing to fold)
#   8 tables    cuDNN's candidate tables per op for three layers (`gpuconv plan --policy exhaustive`:
#               strict and TF32 candidates, times, statuses): diagnostics, not a goal of issue 13
#   9 all-tests every other test (not the OnnxRuntime category: ORT's native library is not packed), last, skipped when the budget is spent
# GPUCONV_CHECK_ONLY=smoke,gpu-tests,… runs only the named steps (keys: smoke tables gpu-tests torch bench
# probe resnet50 all-tests; system, libraries and devices always run): a second run after a fix repeats what failed.
# GPUCONV_CHECK_STEP_SCALE=N multiplies each step's limit (still within the budget), for a step that timed out.
# An unknown key or a scale that is not a whole number >= 1 stops the script before any step (exit 2).
# Each step logs into results-dir as it runs; summary.txt gets one line per step as it ends:
#   PASS / FAIL / TIMEOUT / SKIPPED, seconds, step, log, and a note. With archive-dir, results-dir is
# archived there as gpu-results.tar.gz (plus a copy of summary.txt) after every step, so a run cut
# short still leaves what ran. Exit status 0 only if no step failed or timed out.
# GPUCONV_ALLOW_NO_GPU=1 (trying the pack on a CPU machine): the GPU steps skip with the reason.
# GPUCONV_CHECK_REHEARSAL=1 (a CPU machine): the cpu backend stands in for the GPU backends, so every
# GPU branch of this script runs (small shape sets, PyTorch on the CPU); the GPU tests then fail, as
# they must when every one of them skips.
# For rehearsals against the native fakes (tests/NativeFakes, build/rehearse-gpu-check-on-fakes.sh):
# GPUCONV_CHECK_NO_COMPUTE_STEPS=torch,probe,… runs those steps with GPUCONV_FAKE_NO_COMPUTE=1, which only the
# fakes read (they then skip their arithmetic, so the speed steps finish; results are wrong); a real library
# ignores it. GPUCONV_CHECK_TORCH_DEVICE=cuda|cpu|auto (default auto: cuda when PyTorch sees a GPU, else cpu,
# so that the correctness half of torch_compare.py still runs; its speed tables then say "CPU").
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RESULTS=${1:-./gpu-results}
ARCHIVE_DIR=${2:-}
mkdir -p "$RESULTS" || exit 2
RESULTS=$(cd "$RESULTS" && pwd)
if [ -n "$ARCHIVE_DIR" ]; then mkdir -p "$ARCHIVE_DIR" && ARCHIVE_DIR=$(cd "$ARCHIVE_DIR" && pwd) || exit 2; fi
BUDGET=${GPUCONV_CHECK_BUDGET:-360}
ONLY=${GPUCONV_CHECK_ONLY:-}
SCALE=${GPUCONV_CHECK_STEP_SCALE:-1}   # multiplies every step's own limit (a re-run of one slow step: 3)
CASES=${GPUCONV_CHECK_CASES:-200}
ALLOW_NO_GPU=${GPUCONV_ALLOW_NO_GPU:-0}
REHEARSAL=${GPUCONV_CHECK_REHEARSAL:-0}
NO_COMPUTE_STEPS=${GPUCONV_CHECK_NO_COMPUTE_STEPS:-}
TORCH_DEVICE=${GPUCONV_CHECK_TORCH_DEVICE:-auto}
NETWORKS=${GPUCONV_CHECK_NETWORKS:-resnet50}   # the whole networks step 7 times, in order (resnet50, mobilenetv2, convnexttiny)
# A misspelt step key would leave every step out and the run would still PASS, spending a GPU loan on
# nothing: unknown keys and a scale that is not a positive whole number stop the script before any step.
STEP_KEYS="smoke tables gpu-tests torch bench probe resnet50 all-tests"
for key in ${ONLY//,/ }; do
  if [[ " $STEP_KEYS " != *" $key "* ]]; then
    echo "GPUCONV_CHECK_ONLY: unknown step '$key' in '$ONLY'; steps: ${STEP_KEYS// /,}" >&2; exit 2
  fi
done
for key in ${NO_COMPUTE_STEPS//,/ }; do
  if [[ " $STEP_KEYS " != *" $key "* ]]; then
    echo "GPUCONV_CHECK_NO_COMPUTE_STEPS: unknown step '$key' in '$NO_COMPUTE_STEPS'; steps: ${STEP_KEYS// /,}" >&2; exit 2
  fi
done
if [[ ! "$TORCH_DEVICE" =~ ^(auto|cuda|cpu)$ ]]; then
  echo "GPUCONV_CHECK_TORCH_DEVICE: expected auto, cuda or cpu, got '$TORCH_DEVICE'" >&2; exit 2
fi
for net in ${NETWORKS//,/ }; do
  if [[ " resnet50 mobilenetv2 convnexttiny " != *" $net "* ]]; then
    echo "GPUCONV_CHECK_NETWORKS: unknown network '$net' in '$NETWORKS'; networks: resnet50,mobilenetv2,convnexttiny" >&2; exit 2
  fi
done
# A list of commas or spaces only would time no network and still PASS the step.
if [ -z "${NETWORKS//[, ]/}" ]; then
  echo "GPUCONV_CHECK_NETWORKS: no network in '$NETWORKS'; networks: resnet50,mobilenetv2,convnexttiny (unset: resnet50)" >&2; exit 2
fi
if ! [[ "$SCALE" =~ ^[1-9][0-9]*$ ]]; then
  echo "GPUCONV_CHECK_STEP_SCALE: expected a whole number >= 1, got '$SCALE'" >&2; exit 2
fi
# What the GPU steps use; a rehearsal swaps in the cpu backend, PyTorch on the CPU and fewer shapes.
SMOKE_BACKENDS=cudnn,ptx; TABLE_BACKEND=cudnn; BENCH_LIMIT=()
[ "$REHEARSAL" = 1 ] && { SMOKE_BACKENDS=cpu; TABLE_BACKEND=cpu; TORCH_DEVICE=cpu; BENCH_LIMIT=(--limit 3); }
# Skip reasons that name something an H200 host genuinely lacks (more GPUs, another architecture, an AVX-512 CPU…).
ALLOWED_SKIPS=${GPUCONV_ALLOWED_SKIPS:-'(second GPU|more than one GPU|multi-?GPU|[0-9]+ GPUs|AVX-?512|not an? (Volta|Turing|Ampere)|sm_[0-9]+ only)'}
START=$(date +%s)

export DOTNET_ROOT="$HERE/dotnet"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 TESTINGPLATFORM_TELEMETRY_OPTOUT=1 DOTNET_gcServer=0
# Plans (and what exhaustive searches measured) are kept with the results, never in a per-user cache.
export GPUCONV_PLAN_CACHE="$RESULTS/plan-cache.json"
DOTNET="$HERE/dotnet/dotnet"
APP="$HERE/app"
GPUCONV=("$DOTNET" "$APP/GpuConv.Cli.dll")
NETWORKS_APP=("$DOTNET" "$APP/GpuConv.Networks.dll")
TESTS=("$DOTNET" "$APP/GpuConv.Tests.dll")
# .NET needs ICU for culture data; without it, run invariant rather than crash at start-up.
if ! ldconfig -p 2>/dev/null | grep -q 'libicuuc\.so'; then export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1; fi

SUMMARY="$RESULTS/summary.txt"
: >"$SUMMARY"
: >"$RESULTS/console.txt"
overall=0
GPU_BACKENDS=""      # cudnn and/or ptx, as `gpuconv devices` reports them usable
GPU_REASON=""        # why the GPU backends are off, when they are

elapsed() { echo $(( $(date +%s) - START )); }
# wanted KEY: whether the step KEY runs (all do unless GPUCONV_CHECK_ONLY names some).
wanted() { [ -z "$ONLY" ] || [[ ",${ONLY// /}," == *",$1,"* ]]; }
# not_wanted NAME: the summary line of a step left out by GPUCONV_CHECK_ONLY.
not_wanted() { printf '%-8s %4ss  %-22s %-22s %s\n' SKIPPED 0 "$1" "-" "not in GPUCONV_CHECK_ONLY=$ONLY" >>"$SUMMARY"; }
# Console lines also go to results/console.txt: the device tool returns only the output's tail.
log() { local line; line="[$(date -u +%H:%M:%S) +$(elapsed)s] $*"; echo "$line"; echo "$line" >>"$RESULTS/console.txt"; }

archive() { # the results folder as ONE file (plus summary.txt) in archive-dir
  [ -n "$ARCHIVE_DIR" ] || return 0
  tar -C "$(dirname "$RESULTS")" -czf "$ARCHIVE_DIR/gpu-results.tar.gz.tmp" "$(basename "$RESULTS")" 2>/dev/null \
    && mv -f "$ARCHIVE_DIR/gpu-results.tar.gz.tmp" "$ARCHIVE_DIR/gpu-results.tar.gz"
  cp -f "$SUMMARY" "$ARCHIVE_DIR/summary.txt" 2>/dev/null
  return 0
}

record() { # record VERDICT SECONDS NAME LOG NOTE
  printf '%-8s %4ss  %-22s %-22s %s\n' "$1" "$2" "$3" "$(basename "$4")" "$5" >>"$SUMMARY"
  log "$1 $3 ($2 s) $5"
  case "$1" in FAIL|TIMEOUT) overall=1 ;; esac
  archive
}

# run_limited LIMIT LOG command…: runs with a time limit (TERM, then KILL 10 s later), output appended
# to LOG as it comes; returns the command's status (124 or 137 on timeout).
# STEP_KEY (set by the caller for one call) names the step: GPUCONV_CHECK_NO_COMPUTE_STEPS may name it.
run_limited() {
  local limit=$1 logfile=$2; shift 2
  local nc=""; no_compute "${STEP_KEY:-}" && nc=" with GPUCONV_FAKE_NO_COMPUTE=1 (native fakes: no arithmetic, results wrong)"
  { echo "\$ $*"; echo "(limit ${limit} s, started $(date -u +%H:%M:%S))$nc"; } >>"$logfile"
  ( cd "$HERE" && { [ -z "$nc" ] || export GPUCONV_FAKE_NO_COMPUTE=1; } && exec timeout -k 10 "$limit" "$@" ) >>"$logfile" 2>&1
}
no_compute() { [ -n "$1" ] && [[ ",${NO_COMPUTE_STEPS// /}," == *",$1,"* ]]; }

# limit_for WANT: the step's limit, cut to what is left of the budget; empty when under MIN is left.
limit_for() {
  local want=$(( $1 * SCALE )) min=${2:-15} left=$(( BUDGET - $(elapsed) ))
  if [ "$left" -lt "$min" ]; then echo ""; elif [ "$left" -lt "$want" ]; then echo "$left"; else echo "$want"; fi
}

# step NAME WANT_SECONDS LOG JUDGE command…: runs one step; JUDGE (a function, or "-") may turn the
# exit status into a verdict by reading the log: it prints "VERDICT note".
step() {
  local name=$1 want=$2 logfile=$3 judge=$4; shift 4
  local limit; limit=$(limit_for "$want")
  if [ -z "$limit" ]; then record SKIPPED 0 "$name" "$logfile" "budget spent ($(elapsed) of ${BUDGET} s used)"; return; fi
  log "start $name (limit ${limit} s)"
  local t0; t0=$(date +%s)
  run_limited "$limit" "$logfile" "$@"
  local rc=$? secs=$(( $(date +%s) - t0 )) verdict note
  echo "[exit $rc after ${secs} s]" >>"$logfile"
  if [ "$judge" != "-" ]; then read -r verdict note < <("$judge" "$rc" "$logfile"); verdict=${verdict:-FAIL}
  elif [ "$rc" -eq 0 ]; then verdict=PASS; note=""
  else verdict=FAIL; note="exit $rc"; fi
  # A step cut at its limit still says what it measured before (the judge reads the partial log).
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    note=${note#exit $rc}; note=${note#[:,] }; verdict=TIMEOUT; note="over its ${limit} s limit${note:+; $note}"
  fi
  no_compute "${STEP_KEY:-}" && note="[no-compute fakes] $note"
  record "$verdict" "$secs" "$name" "$logfile" "$note"
}

gpu_skip() { # gpu_skip NAME LOG: a GPU step on a machine without a usable GPU backend
  local note="GPU unavailable: ${GPU_REASON:-no cudnn or ptx backend}"
  echo "$note" >"$2"
  if [ "$ALLOW_NO_GPU" = 1 ]; then record SKIPPED 0 "$1" "$2" "$note"; else record FAIL 0 "$1" "$2" "$note"; fi
}

# ---------------------------------------------------------------- 1 system and libraries
system_report() {
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -a)"
  [ -f /etc/os-release ] && grep -E '^PRETTY_NAME=' /etc/os-release
  echo "cpus: $(nproc 2>/dev/null)  memory: $(free -g 2>/dev/null | awk '/^Mem:/{print $2 " GiB"}')"
  echo "budget: ${BUDGET} s; GPUCONV_ALLOW_NO_GPU=${ALLOW_NO_GPU}; GPUCONV_CHECK_REHEARSAL=${REHEARSAL}"
  cat "$HERE/PACK-INFO.txt" 2>/dev/null
  echo; echo "--- nvidia-smi"; timeout 20 nvidia-smi 2>&1 || echo "nvidia-smi not available"
  echo; timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,mig.mode.current --format=csv 2>&1 || true
}
library_report() {
  echo "--- ldconfig (driver, cuBLAS, cuDNN, NVRTC)"
  ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libcublas|libcudnn|libnvrtc' || echo "(none in the loader cache)"
  echo; echo "--- LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"; echo "--- CUDA_HOME=${CUDA_HOME:-} CUDA_PATH=${CUDA_PATH:-} VIRTUAL_ENV=${VIRTUAL_ENV:-}"
  ls -d /usr/local/cuda* /opt/*/.venv /opt/*/venv 2>/dev/null
  echo "ptxas: $(command -v ptxas 2>/dev/null || echo 'not on PATH') $(ptxas --version 2>/dev/null | grep -o 'release [0-9.]*')"
  for py in python3 python; do
    command -v "$py" >/dev/null 2>&1 || continue
    echo; echo "--- $py: $(command -v "$py")"
    timeout 60 "$py" - <<'PY' 2>&1
import glob, os, site, sys, sysconfig
print("python", sys.version.split()[0], sys.prefix)
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
            if line.startswith(("#define CUDNN_MAJOR", "#define CUDNN_MINOR", "#define CUDNN_PATCHLEVEL")):
                print("   ", line.strip())
try:
    import torch
    print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(),
          "cuda available", torch.cuda.is_available())
except Exception as e:
    print("torch not importable:", e)
PY
    break
  done
}
log "GpuConv GPU check: results in $RESULTS, budget ${BUDGET} s"
t0=$(date +%s)
system_report >"$RESULTS/system.txt" 2>&1
library_report >"$RESULTS/libraries.txt" 2>&1
record PASS $(( $(date +%s) - t0 )) "system+libraries" "$RESULTS/system.txt" "see system.txt, libraries.txt"

judge_devices() { # the backends usable now decide which GPU steps run
  local rc=$1 logfile=$2 usable gpu=""
  usable=$(grep -m1 '^Backends usable now:' "$logfile" | sed 's/^Backends usable now: *//')
  case ",${usable// /}," in *,cudnn,*|*,ptx,*) gpu=yes ;; esac
  if [ "$rc" -ne 0 ]; then echo "FAIL exit $rc"; return; fi
  if [ -z "$usable" ]; then echo "FAIL no 'Backends usable now:' line"; return; fi
  if [ -z "$gpu" ] && [ "$ALLOW_NO_GPU" != 1 ]; then echo "FAIL no GPU backend usable (backends: $usable)"; return; fi
  echo "PASS backends: $usable"
}
step "gpuconv devices" 45 "$RESULTS/devices.txt" judge_devices "${GPUCONV[@]}" devices
# Judges run in a subshell (process substitution): the GPU backends are read from the log here.
usable=$(grep -m1 '^Backends usable now:' "$RESULTS/devices.txt" 2>/dev/null | sed 's/^Backends usable now: *//;s/ //g')
for b in cudnn ptx; do case ",$usable," in *",$b,"*) GPU_BACKENDS="${GPU_BACKENDS:+$GPU_BACKENDS,}$b" ;; esac; done
GPU_REASON=$(grep -m1 -E '^(GPU|cuBLAS|cuDNN): off' "$RESULTS/devices.txt" 2>/dev/null | cut -c1-200)
[ "$REHEARSAL" = 1 ] && GPU_BACKENDS=cpu
log "GPU backends usable: ${GPU_BACKENDS:-none}$([ "$REHEARSAL" = 1 ] && echo ' (rehearsal: cpu stands in)')"

WORK=$(mktemp -d)   # scratch: torch_compare.py's .npy cases, small shape files (only logs are kept)
trap 'rm -rf "$WORK"' EXIT
TORCH_WORK=$WORK

# ---------------------------------------------------------------- 2 smoke
# Every GPU backend the pack knows, not only the usable ones: on a GPU host a missing cuDNN must show as a failure.
judge_smoke() { # the CLI's own count, then per backend "passed/run" and the first failure (the native status is in the log)
  local rc=$1 logfile=$2 line per first
  line=$(grep -m1 '^smoke:' "$logfile")
  per=$(awk '$1 == "PASS" || $1 == "FAIL" || $1 == "DECLINED" { run[$2]++; if ($1 == "PASS") ok[$2]++ }
    END { for (b in run) printf "%s%s %d/%d", (n++ ? ", " : ""), b, ok[b], run[b] }' "$logfile")
  first=$(grep -m1 -E '^FAIL ' "$logfile" | tr -s ' ' | cut -c6-150)
  if [ "$rc" -eq 0 ]; then echo "PASS ${line#smoke: }${per:+ ($per)}"; else echo "FAIL exit $rc: ${line#smoke: }${per:+ ($per)}${first:+; first: $first}"; fi
}
if ! wanted smoke; then
  not_wanted "smoke"
elif [ -n "$GPU_BACKENDS" ] || [ "$ALLOW_NO_GPU" != 1 ]; then
  STEP_KEY=smoke step "smoke (GPUCONV_TRACE=1)" 60 "$RESULTS/smoke.txt" judge_smoke env GPUCONV_TRACE=1 "${GPUCONV[@]}" smoke --backends "$SMOKE_BACKENDS"
else
  # No GPU and allowed: run the smoke on the cpu backend anyway (it proves the command in the pack), but the step is a skip.
  [ -n "$(limit_for 60)" ] && run_limited "$(limit_for 60)" "$RESULTS/smoke.txt" env GPUCONV_TRACE=1 "${GPUCONV[@]}" smoke --backends cudnn,ptx,cpu
  gpu_skip "smoke (GPUCONV_TRACE=1)" "$RESULTS/smoke-skipped.txt"
fi

# ---------------------------------------------------------------- 3 GPU tests
# count KEY LOG: a number from the test platform's run summary, the last one in the log (tests print lines of their own).
count() { grep -E "^  $1: *[0-9]+" "$2" | tail -n 1 | awk -F: '{print $2+0}'; }

# failed_names LOG: the first failed tests' names, for the summary line ("failed NAME (…ms)" in MTP's output).
failed_names() { grep -E '^failed ' "$1" | awk '{print $2}' | head -n 3 | paste -sd ' ' -; }

# Reads MTP's detailed output: "skipped NAME (…ms)" followed by the reason on the next line.
judge_gpu_tests() {
  local rc=$1 logfile=$2 total skipped failed bad
  awk '/^skipped /{name=$2; getline; sub(/^ +/, ""); print name ": " $0}' "$logfile" >"$RESULTS/gpu-tests-skips.txt"
  total=$(count total "$logfile"); failed=$(count failed "$logfile"); skipped=$(count skipped "$logfile")
  [ -n "$total" ] || { echo "FAIL exit $rc, no test summary"; return; }
  local allowed=$ALLOWED_SKIPS
  if [ -z "$GPU_BACKENDS" ] && [ "$ALLOW_NO_GPU" = 1 ]; then
    [ "${skipped:-0}" = "$total" ] && { echo "SKIPPED all $total skipped: GPU unavailable"; return; }
    allowed="($ALLOWED_SKIPS|no usable GPU|GPU unavailable)"
  fi
  bad=$(grep -v -E "$allowed" "$RESULTS/gpu-tests-skips.txt" | wc -l)
  if [ "$rc" -ne 0 ] || [ "${failed:-0}" -ne 0 ]; then echo "FAIL $failed of $total failed, $skipped skipped (exit $rc): $(failed_names "$logfile")"; return; fi
  if [ "$bad" -gt 0 ]; then echo "FAIL $total tests, 0 failed, $skipped skipped: $bad for a reason a GPU host must not have (gpu-tests-skips.txt)"; return; fi
  echo "PASS $total tests, 0 failed, ${skipped:-0} skipped$([ "${skipped:-0}" -gt 0 ] && echo ' (allowed reasons: gpu-tests-skips.txt)')"
}
# Left out: tests that need the native fakes' fault injection (category NativeFakesOnly; CI runs them against
# the fakes): on a GPU host they could only skip, and a skip there counts against issue 13's "0 skipped".
if wanted gpu-tests; then
  STEP_KEY=gpu-tests step "GPU tests" 150 "$RESULTS/gpu-tests.txt" judge_gpu_tests \
    "${TESTS[@]}" --filter "TestCategory=Gpu&TestCategory!=NativeFakesOnly" --output Detailed \
    --report-trx --report-trx-filename gpu-tests.trx --results-directory "$RESULTS"
else
  not_wanted "GPU tests"
fi

# ---------------------------------------------------------------- 4 PyTorch comparison
# The note states issue 13's numbers: correctness per backend, and the geomean speedup over PyTorch per backend.
judge_torch() {
  local rc=$1 logfile=$2 correct speed peer mismatches
  cp "$TORCH_WORK/out/commands.log" "$RESULTS/torch-compare-commands.log" 2>/dev/null
  correct=$(sed -nE 's/^correctness\[([a-z]+)\]: ([0-9]+\/[0-9]+) .*worst ([^,]+),.*/\1 \2 (worst \3)/p' "$logfile" | paste -sd ';' - | sed 's/;/, /g')
  speed=$(sed -nE 's/^speed\[([a-z]+)\]: geomean speedup over PyTorch \([^)]*\) = ([0-9.]+x) on ([0-9]+) shapes.*/\1 \2 (\3 shapes)/p;
    s/^speed\[([a-z]+)\]: (bench .*)/\1 \2/p' "$logfile" | paste -sd ';' - | sed 's/;/, /g')
  peer=$(sed -nE 's/^speed\[[a-z]+\]: geomean speedup over PyTorch \(([^)]*)\).*/\1/p' "$logfile" | head -n 1)
  mismatches=$(grep -c '^MISMATCH' "$logfile")
  local note="correctness ${correct:-none}${speed:+; geomean over PyTorch ($peer): $speed}"
  [ "$mismatches" -gt 0 ] && note="$note; $mismatches MISMATCH lines (first 20 per backend)"
  if [ "$rc" -eq 0 ]; then echo "PASS $note"; else echo "FAIL exit $rc: $note"; fi
}
PY=$(command -v python3 || true)
# Both networks of issue 13's speed goal in one shape file (same header; row names do not collide).
cnn_shapes() { # cnn_shapes ROWS OUT: the first ROWS rows of each set (all when ROWS is empty)
  { head -n 1 "$HERE/shapes/resnet50.csv"
    for set in resnet50 mobilenet_v2; do tail -n +2 "$HERE/shapes/$set.csv" | grep -v '^#' | head -n "${1:-100000}"; done; } >"$2"
}
# The import check also says whether PyTorch sees the GPU (auto: PyTorch on the GPU when it does).
torch_check() { timeout 60 "$PY" -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__, 'cuda', torch.cuda.is_available())"; }
if ! wanted torch; then
  not_wanted "torch_compare.py"
elif [ ! -f "$HERE/torch_compare.py" ]; then
  record SKIPPED 0 "torch_compare.py" "$RESULTS/torch-compare.txt" "torch_compare.py is not in the pack"
elif [ -z "$PY" ] || ! torch_check >"$RESULTS/torch-import.txt" 2>&1; then
  # The GPU host has them (its venv); a CPU machine trying the pack may not.
  record "$([ -z "$GPU_BACKENDS" ] && [ "$ALLOW_NO_GPU" = 1 ] && echo SKIPPED || echo FAIL)" 0 "torch_compare.py" \
    "$RESULTS/torch-import.txt" "no python3 with torch and numpy (${PY:-no python3 on PATH})"
elif [ -n "$GPU_BACKENDS" ]; then
  if [ "$TORCH_DEVICE" = auto ]; then
    # Without a GPU in PyTorch the correctness half still runs (its reference is float64 on the CPU); the speed lines then say CPU.
    if grep -q 'cuda True' "$RESULTS/torch-import.txt"; then TORCH_DEVICE=cuda; else TORCH_DEVICE=cpu; log "PyTorch sees no GPU: torch_compare.py times PyTorch on the CPU"; fi
  fi
  TORCH_SHAPES=$TORCH_WORK/shapes.csv
  cnn_shapes "$([ "$REHEARSAL" = 1 ] && echo 3)" "$TORCH_SHAPES"
  STEP_KEY=torch step "torch_compare.py" 150 "$RESULTS/torch-compare.txt" judge_torch \
    env PYTHONUNBUFFERED=1 "$PY" "$HERE/torch_compare.py" --gpuconv "$DOTNET $APP/GpuConv.Cli.dll" --backends "$GPU_BACKENDS" --cases "$CASES" \
    --device "$TORCH_DEVICE" --shapes "$TORCH_SHAPES" --out "$TORCH_WORK/out"
elif [ "$ALLOW_NO_GPU" = 1 ]; then
  # No GPU: the same script on the CPU (cpu backend, PyTorch on the CPU, fewer cases, a few shapes) proves the path.
  head -n 4 "$HERE/shapes/resnet50.csv" >"$TORCH_WORK/shapes.csv"
  STEP_KEY=torch step "torch_compare.py (cpu)" 150 "$RESULTS/torch-compare.txt" judge_torch \
    env PYTHONUNBUFFERED=1 "$PY" "$HERE/torch_compare.py" --gpuconv "$DOTNET $APP/GpuConv.Cli.dll" --backends cpu --device cpu --cases 50 \
    --shapes "$TORCH_WORK/shapes.csv" --out "$TORCH_WORK/out"
else
  gpu_skip "torch_compare.py" "$RESULTS/torch-compare.txt"
fi

# ---------------------------------------------------------------- 5 probe
# Issue 13's remaining numbers: engine overhead per call over the bare call, the im2col kernel's bandwidth
# against a device copy, and a warm plan-cache start against a cold exhaustive search.
judge_probe() {
  local rc=$1 logfile=$2 lines errors mismatches
  lines=$(grep -E '^(overhead|bandwidth|plan-start):' "$logfile" | sed -E 's/ on .*//; s/ to the first result of [^,]*//' | cut -c1-110 | paste -sd ';' -)
  # A failed section prints one "error:" line and no summary line; a wrong result prints MISMATCH: name both.
  errors=$(grep '^error:' "$logfile" | cut -c1-120 | paste -sd ';' -)
  mismatches=$(grep -oE 'MISMATCH[^,;]*|\(MISMATCH' "$logfile" | wc -l)
  [ "$mismatches" -gt 0 ] && errors="${errors:+$errors; }$mismatches result(s) MISMATCH the reference (probe-*.txt)"
  if [ "$rc" -eq 0 ]; then echo "PASS $lines"; else echo "FAIL exit $rc: ${errors:-no error line}${lines:+; $lines}"; fi
}
if ! wanted probe; then
  not_wanted "probe"
elif [ -n "$GPU_BACKENDS" ]; then
  # cudnn first: its log holds the overhead and plan-start goals; ptx's holds the im2col bandwidth.
  for b in ${GPU_BACKENDS//,/ }; do
    STEP_KEY=probe step "probe $b" 60 "$RESULTS/probe-$b.txt" judge_probe "${GPUCONV[@]}" probe --backend "$b"
  done
else
  gpu_skip "probe" "$RESULTS/probe-skipped.txt"
fi

# ---------------------------------------------------------------- 6 benchmarks
# The by-kind ratios are always stated (also when a shape failed or disagreed), with where the main
# side's plans came from: issue 13 asks for exhaustive planning, which step 4 put in the plan cache.
judge_bench() {
  local rc=$1 logfile=$2 total kinds sources err
  total=$(grep -m1 -E '^total ' "$logfile" | cut -c1-80)
  kinds=$(grep -m1 -E '^geomean .* by kind:' "$logfile" | sed 's/^geomean //' | cut -c1-160)
  sources=$(grep -oE '\((cache|heuristic|exhaustive|fallback)\) *│' "$logfile" | tr -d '()│ ' | sort | uniq -c | awk '{printf "%s%d %s", (n++ ? ", " : ""), $1, $2}')
  err=$(grep -E '^error:' "$logfile" | sed -E 's/(disagree with the peer by more than 1e-4):.*/\1 (bench-*.txt)/' | head -n 2 | cut -c1-100 | paste -sd ';' -)
  local note="${kinds:-$total}${sources:+; plans: $sources}"
  if [ "$rc" -eq 0 ]; then echo "PASS $note"; else echo "FAIL exit $rc: ${err:+$err; }$note"; fi
}
BENCH_SETS=resnet50+mobilenet_v2
# A rehearsal's first 3 rows: MobileNetV2's stem, first depthwise and first 1x1, so every kind is read.
[ "$REHEARSAL" = 1 ] && BENCH_SETS=mobilenet_v2+resnet50
if ! wanted bench; then
  not_wanted "bench"
elif [[ ",$GPU_BACKENDS," == *,ptx,* && ",$GPU_BACKENDS," == *,cudnn,* ]] || [ "$REHEARSAL" = 1 ]; then
  # Issue 13's ptx-vs-cudnn goals per kind, both sides from the plans step 4's exhaustive benches cached.
  main=ptx; peer=cudnn; [ "$REHEARSAL" = 1 ] && { main=cpu; peer=cpu; }
  STEP_KEY=bench step "bench $main vs $peer" 90 "$RESULTS/bench-$main-vs-$peer.txt" judge_bench \
    "${GPUCONV[@]}" bench --backend "$main" --vs "$peer" --shapes "$BENCH_SETS" --policy cached "${BENCH_LIMIT[@]}"
elif [ -n "$GPU_BACKENDS" ]; then
  for b in ${GPU_BACKENDS//,/ }; do
    STEP_KEY=bench step "bench $b" 90 "$RESULTS/bench-$b.txt" judge_bench \
      "${GPUCONV[@]}" bench --backend "$b" --shapes "$BENCH_SETS" --policy cached "${BENCH_LIMIT[@]}"
  done
else
  gpu_skip "benchmarks" "$RESULTS/bench-skipped.txt"
fi

# plan_start_processes LABEL COMMAND…: COMMAND (a bench) once cold with --policy exhaustive and a fresh plan
# cache, once warm with --policy cached on that cache; prints both wall times and their ratio. Exported:
# step runs its command under `timeout`, which starts a new bash.
plan_start_processes() {
  local label=$1 cache t0 t1 t2; shift
  cache=$(mktemp -u).json
  t0=$(date +%s%N); "$@" --policy exhaustive --plan-cache "$cache" >/dev/null || return $?
  t1=$(date +%s%N); "$@" --policy cached --plan-cache "$cache" >/dev/null || return $?
  t2=$(date +%s%N); rm -f "$cache" "$cache.lock"
  awk -v c=$(( (t1 - t0) / 1000000 )) -v w=$(( (t2 - t1) / 1000000 )) -v r="$label" \
    'BEGIN { printf "plan-start (processes): cold exhaustive %d ms, warm plan cache %d ms for %s, %.1fx\n", c, w, r, c / w }'
}
export -f plan_start_processes
judge_plan_start_processes() {
  local line; line=$(grep -m1 '^plan-start (processes):' "$2" | cut -c1-140)
  if [ "$1" -eq 0 ] && [ -n "$line" ]; then echo "PASS $line"; else echo "FAIL exit $1"; fi
}
# Step 5's start comparison as two whole processes (what an application restart sees): .NET start, CUDA
# context, library loading and lazy kernel loading included on both sides, so the ratio is far lower
# than probe's in-process one. For the record beside it; not how the goal is stated. Part of "bench".
if wanted bench && [ -n "$GPU_BACKENDS" ]; then
  ps_backend=${GPU_BACKENDS%%,*}
  STEP_KEY=bench step "plan-start processes" 60 "$RESULTS/plan-start-processes.txt" judge_plan_start_processes \
    bash -c 'plan_start_processes "$@"' _ "resnet50 (${BENCH_LIMIT[*]:-53 layers}, one run each, process start to exit)" \
    "${GPUCONV[@]}" bench --backend "$ps_backend" --shapes resnet50 --warmup 0 --repeat 1 "${BENCH_LIMIT[@]}"
fi

# ---------------------------------------------------------------- 7 ResNet-50 (and MobileNetV2) end to end
# The question users ask: a whole network on GpuConv against PyTorch on the same GPU. Both sides time the same
# thing with the host clock: one upload of the batch from pageable memory, the network, one download of the logits
# (PyTorch also with CUDA events around the same span). Ours: the planner's choice among the GPU backends, exhaustive
# planning into a fresh plan cache (the first run, search included, is reported apart), 2 s of untimed runs (the JIT optimizes hot code only after ~30 calls and ~100 ms), median of 30 runs, the logits
# checked against the CPU engine (fp32, max rel <= 1e-4; the float64 judge of the same code is ResNet50GpuTests /
# MobileNetV2GpuTests in step 3). PyTorch: BatchNorm folded too (same graph), cudnn.benchmark, TF32 off, median of 30
# after 5 warm-up runs, checked against its unfolded net in float64. Evidence beside issue 13's goals, not one of them.
# GPUCONV_CHECK_NETWORKS (default resnet50): the networks, in order, each PyTorch first then ours, all in this step's
# one limit. MobileNetV2 is left out by default: in the packed rehearsals against the fakes ResNet-50 alone took 33 s
# of the 40 and ran past them on a busier machine, and both networks ran past them once and took 35 s once (MobileNetV2
# adds an estimated ~8 s there; docs/gpu-runs/README.md, Budget): it does not fit reliably. A second run can add it:
# GPUCONV_CHECK_ONLY=resnet50 GPUCONV_CHECK_NETWORKS=resnet50,mobilenetv2 GPUCONV_CHECK_STEP_SCALE=2.
# GPUCONV_CHECK_RESNET50_SIZE: the image size (default 224; a rehearsal on the cpu stand-in uses 64).
# network_note KEY LOGFILE: one network's part of the note, from the two result lines "KEY[gpuconv]: …" and "KEY[torch]: …";
# fails when either median is missing.
network_note() {
  local key=$1 logfile=$2 ours theirs o_ms t_ms ratio
  ours=$(grep -m1 "^$key\[gpuconv\]:" "$logfile"); theirs=$(grep -m1 "^$key\[torch\]:" "$logfile")
  o_ms=$(sed -nE 's/^[a-z0-9]+\[gpuconv\]: .* median ([0-9.]+) ms wall.*/\1/p' <<<"$ours")
  t_ms=$(sed -nE 's/^[a-z0-9]+\[torch\]: .* median ([0-9.]+) ms wall.*/\1/p' <<<"$theirs")
  local o_first o_check t_ev t_check t_dev
  o_first=$(sed -nE 's/.*, first ([0-9.]+) ms.*/\1/p' <<<"$ours")
  o_check=$(sed -nE 's/.*; (max rel error [^ ]+) vs [^(]* (PASS|FAIL) \(.*/\1 \2/p; s/.*; not checked .*/not checked/p' <<<"$ours")
  t_ev=$(sed -nE 's/.* ms wall, ([0-9.]+) ms events.*/\1/p' <<<"$theirs")
  t_check=$(sed -nE 's/.*(max rel error [^ ]+) \((PASS|FAIL),.*/\1 \2/p' <<<"$theirs")
  t_dev=$(sed -nE 's/.*\(device ([a-z]+).*/\1/p' <<<"$theirs")
  [ -n "$o_ms" ] && [ -n "$t_ms" ] && ratio=$(awk -v t="$t_ms" -v o="$o_ms" 'BEGIN { if (o > 0) printf "%.2f", t / o }')
  echo "batch 1: gpuconv ${o_ms:-?} ms (first ${o_first:-?} ms, ${o_check:-no result line}), torch[${t_dev:-?}] ${t_ms:-?} ms${t_ev:+ (events $t_ev ms)} (${t_check:-no result line}); PyTorch/ours ${ratio:-?}x"
  [ -n "${ratio:-}" ]
}
judge_resnet50() {
  local rc=$1 logfile=$2 note part net complete=1
  for net in ${NETWORKS//,/ }; do
    part=$(network_note "$net" "$logfile") || complete=0
    # ResNet-50's part keeps the note's old form; another network's is named.
    if [ "$net" = resnet50 ]; then note="${note:+$note; }$part"; else note="${note:+$note; }$net: $part"; fi
  done
  # On a GPU host the sample must have run in GPU memory (it falls back to the CPU when the GPU path is off).
  if [ "$REHEARSAL" != 1 ] && grep -qE '^[a-z0-9]+\[gpuconv\]: .*host memory' "$logfile"; then echo "FAIL ran on the CPU (resnet50.txt: 'GPU path off'): $note"; return; fi
  if [ "$rc" -eq 0 ] && [ "$complete" = 1 ]; then echo "PASS $note"; else echo "FAIL exit $rc: $note"; fi
}
RESNET50_SIZE=${GPUCONV_CHECK_RESNET50_SIZE:-$([ "$REHEARSAL" = 1 ] && echo 64 || echo 224)}
missing=""
for f in "$HERE/torch_network_timing.py" "$APP/GpuConv.Networks.dll"; do [ -f "$f" ] || missing="${missing:+$missing, }${f#"$HERE/"}"; done
for net in ${NETWORKS//,/ }; do [ -f "$HERE/${net}_torch.py" ] || missing="${missing:+$missing, }${net}_torch.py"; done
if ! wanted resnet50; then
  not_wanted "resnet50 vs PyTorch"
elif [ -n "$missing" ]; then
  record FAIL 0 "resnet50 vs PyTorch" "$RESULTS/resnet50.txt" "the pack lacks $missing"
elif [ -z "$PY" ]; then
  record FAIL 0 "resnet50 vs PyTorch" "$RESULTS/resnet50.txt" "no python3 on PATH for resnet50_torch.py"
elif [ -n "$GPU_BACKENDS" ]; then
  # The rehearsal's cpu stand-in: the sample on the CPU engine (--cpu), PyTorch on the CPU.
  rn_where=(); [ "$REHEARSAL" = 1 ] && rn_where=(--cpu)
  rn_torch_device=$TORCH_DEVICE; [ "$REHEARSAL" = 1 ] && rn_torch_device=cpu
  # Per network, PyTorch first: its time is predictable (~10 s), ours includes an exhaustive search; a cut at the limit
  # still leaves one side. Exit status: our first failure, else PyTorch's.
  STEP_KEY=resnet50 step "resnet50 vs PyTorch" 40 "$RESULTS/resnet50.txt" judge_resnet50 bash -c '
    ours=0; theirs=0
    for net in '"${NETWORKS//,/ }"'; do
      env PYTHONUNBUFFERED=1 "'"$PY"'" "'"$HERE"'/${net}_torch.py" --batch 1 --size '"$RESNET50_SIZE"' --runs 30 --warmup 5 --device '"$rn_torch_device"'; rc=$?; [ $theirs -eq 0 ] && theirs=$rc
      "$@" --model $net --batch 1 --size '"$RESNET50_SIZE"' --runs 30 --warmup-seconds 2 --policy exhaustive --plan-cache "'"$RESULTS"'/${net}-plans.json" --check cpu --profile '"${rn_where[*]}"'; rc=$?; [ $ours -eq 0 ] && ours=$rc
    done
    exit $(( ours ? ours : theirs ))
  ' _ "${NETWORKS_APP[@]}"
else
  gpu_skip "resnet50 vs PyTorch" "$RESULTS/resnet50.txt"
fi

# ---------------------------------------------------------------- 8 candidate tables
# What cuDNN lists per op for three layers (3x3, 1x1 stride 2, depthwise), every candidate timed: the
# planner's table shows strict and TF32 candidates, their workspace, time, status and why each lost.
# Diagnostics for whoever tunes the cudnn backend, so after every step that measures a goal of issue 13.
if ! wanted tables; then
  not_wanted "cudnn candidate tables"
elif [[ ",$GPU_BACKENDS," == *,$TABLE_BACKEND,* ]]; then
  printf '%s\n' "name,n,c,h,w,k,r,s,stride_h,stride_w,pad_h,pad_w,dil_h,dil_w,groups" \
    "conv3x3,2,64,28,28,64,3,3,1,1,1,1,1,1,1" "conv1x1_s2,2,256,28,28,512,1,1,2,2,0,0,1,1,1" \
    "dw3x3,2,96,28,28,96,3,3,1,1,1,1,1,1,96" >"$WORK/tables.csv"
  judge_tables() { # the planner prints one "plan:" line per layer and op (9 here) when every table was made
    local plans; plans=$(grep -c '^  plan:' "$2")
    if [ "$1" -eq 0 ]; then echo "PASS $plans plans, candidates with status Failed: $(grep -c ' Failed ' "$2")"; else echo "FAIL exit $1 after $plans plans"; fi
  }
  STEP_KEY=tables step "cudnn candidate tables" 45 "$RESULTS/cudnn-candidates.txt" judge_tables bash -c \
    'for op in Forward BackwardData BackwardFilter; do "$@" plan --backend '"$TABLE_BACKEND"' --shapes "'"$WORK/tables.csv"'" --policy exhaustive --op $op --plan-cache "'"$WORK/tables-plans.json"'" || exit $?; done' \
    _ "${GPUCONV[@]}"
elif [ -z "$GPU_BACKENDS" ]; then
  gpu_skip "cudnn candidate tables" "$RESULTS/cudnn-candidates.txt"
else
  record FAIL 0 "cudnn candidate tables" "$RESULTS/cudnn-candidates.txt" "cudnn backend not usable: ${GPU_REASON:-see devices.txt}"
fi

# ---------------------------------------------------------------- 9 everything else
# The GPU tests ran in step 3. Left out: the ONNX Runtime peer test (its native library is not in the
# pack) and the test that the repository surrounds the test assembly (a pack has no repository).
judge_all_tests() {
  local rc=$1 logfile=$2 counts
  counts="$(count total "$logfile") tests, $(count failed "$logfile") failed, $(count skipped "$logfile") skipped"
  if [ "$rc" -eq 0 ]; then echo "PASS $counts"; else echo "FAIL exit $rc: $counts; $(failed_names "$logfile")"; fi
}
if ! wanted all-tests; then
  not_wanted "all other tests"
elif [ -n "$(limit_for 60 60)" ]; then
  STEP_KEY=all-tests step "all other tests" 9999 "$RESULTS/all-tests.txt" judge_all_tests \
    "${TESTS[@]}" --filter "TestCategory!=Gpu&TestCategory!=OnnxRuntime&FullyQualifiedName!~RepositoryRootHoldsTheSolution" \
    --report-trx --report-trx-filename all-tests.trx --results-directory "$RESULTS"
else
  record SKIPPED 0 "all other tests" "$RESULTS/all-tests.txt" "budget spent: $(elapsed) of ${BUDGET} s used, a full run needs ~60 s"
fi

echo "overall  $(elapsed)s  $([ $overall -eq 0 ] && echo PASS || echo FAIL)" >>"$SUMMARY"
archive
log "done: $([ $overall -eq 0 ] && echo PASS || echo FAIL); summary:"
cat "$SUMMARY"
exit $overall
