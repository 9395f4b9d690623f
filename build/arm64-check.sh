#!/usr/bin/env bash
# Runs GpuConv's tests on linux-arm64 (the CPU path through NEON: GemmTier.Vector128) under qemu user-mode emulation,
# on an x64 Linux machine. Installs what it needs (root + apt-get: qemu-user-static and the arm64 C runtime, ICU and
# OpenSSL that a self-contained .NET app loads), publishes tests/GpuConv.Tests for linux-arm64 and runs a filter of it.
#
#   build/arm64-check.sh                 # the CI subset (ARM64_SUBSET below)
#   build/arm64-check.sh all             # the whole suite but the OnnxRuntime category (~40 minutes here)
#   build/arm64-check.sh 'FullyQualifiedName~Pooling'
#
# ARM64_PUBLISH_DIR picks the publish folder (default tests/GpuConv.Tests/bin/arm64-check; it is emptied first).
# Ends with the test platform's summary; exit status 0 only when the run passed. Anything missing that cannot be
# installed is a failure with its reason, never a skip. Emulated timings say nothing about ARM64 speed.
set -uo pipefail
cd "$(dirname "$0")/.."

# The subset CI runs: the CPU backend against the float64 reference (forward, backward data and filter sweeps, the
# oracle and the contract), the SIMD-tier tests (GEMM at Vector128, pooling rows, SiLU, depthwise) with the tier pinned,
# the scalar tier in a child (DOTNET_EnableHWIntrinsic=0), the engine's CPU ops and its "no GPU" reason, and the fused
# inverted residual block (its layer calls: the band kernel needs AVX-512 or AVX2; 26 s emulated).
ARM64_SUBSET='FullyQualifiedName~GpuConv.Tests.Backends.CpuBackend|FullyQualifiedName~GpuConv.Tests.Cpu.Simd.|FullyQualifiedName~SimdTierChildProcessTests|FullyQualifiedName~GpuConv.Tests.ConvEngineTests|FullyQualifiedName~PoolCpuEngineTests|FullyQualifiedName~PaddingModeEngineTests|FullyQualifiedName~ElementwiseCpuEngineTests|FullyQualifiedName~CpuFusedActivationTests|FullyQualifiedName~BackwardFilterTests|FullyQualifiedName~PlannerTests|FullyQualifiedName~VectorOpsMaxAbsTests|FullyQualifiedName~BatchNormCpuEngineTests|FullyQualifiedName~UpsampleTorchCasesTests|FullyQualifiedName~UpsampleReferenceTests|FullyQualifiedName~GpuConv.Tests.Fused'
filter=${1:-$ARM64_SUBSET}
publish_dir=${ARM64_PUBLISH_DIR:-tests/GpuConv.Tests/bin/arm64-check}

fail() { echo "arm64 check FAILED: $*"; exit 1; }

apt_install() {
  command -v apt-get > /dev/null || fail "needs $* but apt-get is not available here (install them by hand: see docs/status.md, ARM64)"
  [ "$(id -u)" -eq 0 ] || fail "needs $* but is not root (apt-get install needs root)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" > /tmp/arm64-check-apt.log 2>&1 \
    || { tail -n 20 /tmp/arm64-check-apt.log; fail "apt-get install $* failed (log above)"; }
}

# --- qemu-aarch64-static: user-mode emulation of one aarch64 process (and, through GPUCONV_TEST_EMULATOR, its children).
if ! command -v qemu-aarch64-static > /dev/null; then
  echo "+ apt-get install qemu-user-static"
  apt-get update -q > /dev/null 2>&1 || true
  apt_install qemu-user-static
fi
qemu=$(command -v qemu-aarch64-static) || fail "qemu-aarch64-static is missing after the install"

# --- The arm64 loader and the libraries the runtime opens (multiarch: they go to /usr/lib/aarch64-linux-gnu).
# The ICU and OpenSSL packages carry their version in the name: take the ones this machine has for amd64.
if [ ! -e /lib/ld-linux-aarch64.so.1 ] || ! ls /usr/lib/aarch64-linux-gnu/libicuuc.so.* > /dev/null 2>&1 \
   || ! ls /usr/lib/aarch64-linux-gnu/libssl.so.* > /dev/null 2>&1; then
  command -v dpkg > /dev/null || fail "needs an arm64 C runtime, ICU and OpenSSL under /usr/lib/aarch64-linux-gnu; no dpkg to install them"
  icu=$(dpkg-query -W -f '${Package}\n' 'libicu[0-9]*' 2>/dev/null | grep -E '^libicu[0-9]+$' | head -n 1)
  ssl=$(dpkg-query -W -f '${Package}\n' 'libssl[0-9]*' 2>/dev/null | grep -E '^libssl[0-9]+(t64)?$' | head -n 1)
  [ -n "$icu" ] && [ -n "$ssl" ] || fail "cannot tell this machine's ICU / OpenSSL package names (libicuNN, libsslN)"
  echo "+ dpkg --add-architecture arm64; apt-get install libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64 $icu:arm64 $ssl:arm64 zlib1g:arm64"
  [ "$(id -u)" -eq 0 ] || fail "needs the arm64 libraries but is not root"
  dpkg --add-architecture arm64 || fail "dpkg --add-architecture arm64 failed"
  apt-get update -q > /tmp/arm64-check-apt.log 2>&1 || { tail -n 20 /tmp/arm64-check-apt.log; fail "apt-get update failed (log above)"; }
  apt_install libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64 "$icu:arm64" "$ssl:arm64" zlib1g:arm64
fi

# --- Publish: self-contained, so the arm64 runtime comes from the Microsoft.NETCore.App.Runtime.linux-arm64 package and
# the output is an aarch64 executable (the Microsoft.Testing.Platform host) that qemu runs.
echo "+ dotnet publish tests/GpuConv.Tests -c Release -r linux-arm64 --self-contained -o $publish_dir"
rm -rf "$publish_dir"
publish_start=$(date +%s)
dotnet publish tests/GpuConv.Tests -c Release -r linux-arm64 --self-contained -o "$publish_dir" -v q -nologo > /tmp/arm64-check-publish.log 2>&1 \
  || { tail -n 30 /tmp/arm64-check-publish.log; fail "dotnet publish for linux-arm64 failed (log above)"; }
echo "arm64 check: publish took $(( $(date +%s) - publish_start )) s"

# --- Run. W^X off: with it on, the JIT writes code through a second mapping of the same memory and qemu 7.2 runs
# stale translations of it (discovery dies in a NullReferenceException inside reflection). The tier is pinned so
# ActiveTierIsTheExpectedOne fails if the runtime did not pick Vector128 (NEON).
export DOTNET_EnableWriteXorExecute=0
export GPUCONV_TEST_EMULATOR=$qemu
export GPUCONV_EXPECT_GEMM_TIER=Vector128
# OnnxRuntime's own arm64 library dies with SIGSEGV under qemu 7.2 (any -cpu), taking the test process with it: "all"
# leaves that category out.
[ "$filter" = all ] && filter='TestCategory!=OnnxRuntime'
args=(--no-ansi --progress off --filter "$filter")
echo "+ qemu-aarch64-static $publish_dir/GpuConv.Tests ${args[*]}"
start=$(date +%s)
"$qemu" "$publish_dir/GpuConv.Tests" "${args[@]}"
rc=$?
echo "arm64 check: test run took $(( $(date +%s) - start )) s under emulation, exit status $rc"
exit $rc
