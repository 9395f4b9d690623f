#!/usr/bin/env bash
# Builds the native fakes of the CUDA driver, cuDNN 9 and cuBLAS 13 into one folder:
#   tests/NativeFakes/build.sh OUTDIR     (prints OUTDIR on stdout; progress and errors on stderr)
# OUTDIR then holds libcuda.so.1, libcudnn.so.9 and libcublas.so.13: put it first on LD_LIBRARY_PATH of a
# CHILD process (and GPUCONV_NATIVE_FAKES=OUTDIR for the test project's launch hook) and GpuConv's discovery
# finds a "GPU" (an H200 described by the fake driver). Never load them into a process that should see no GPU.
# Compiler: $CC, else cc, else gcc; with none on the machine, the Tiny C Compiler fetched from Debian by
# fetch-tcc.sh (no install, cached in .tools/tcc). Exit 3 with a one-line reason when none can be had.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:?usage: build.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# Skip the build when the libraries are newer than every source.
newest_src=$(stat -c %Y "$HERE"/*.c "$HERE"/*.h "$HERE"/build.sh | sort -n | tail -n1)
if [ -f "$OUT/libcublas.so.13" ] && [ "$(stat -c %Y "$OUT/libcublas.so.13")" -ge "$newest_src" ] \
   && [ -f "$OUT/libcudnn.so.9" ] && [ -f "$OUT/libcuda.so.1" ]; then
  echo "$OUT"; exit 0
fi

# CC=tcc forces the fetched Tiny C Compiler (how the fallback is tested on a machine that has gcc).
CCBIN=${CC:-}
[ "$CCBIN" = tcc ] && CCBIN=none
if [ -z "$CCBIN" ]; then
  for c in cc gcc; do if command -v "$c" >/dev/null 2>&1; then CCBIN=$c; break; fi; done
fi

if [ -n "$CCBIN" ] && [ "$CCBIN" != none ]; then
  # -fvisibility=hidden: only FAKE_EXPORT symbols leave each library, so the exports are exactly the API names.
  FLAGS=(-std=gnu11 -O2 -g -fPIC -shared -fvisibility=hidden -Wall -Wextra -Werror -Wno-unused-parameter)
  "$CCBIN" "${FLAGS[@]}" -Wl,-soname,libcuda.so.1 -o "$OUT/libcuda.so.1.tmp" "$HERE/fake_cuda.c" -lpthread
  mv "$OUT/libcuda.so.1.tmp" "$OUT/libcuda.so.1"
  # cuDNN and cuBLAS ask the driver fake whether pointers are device memory: linked against it, found beside them.
  for lib in cudnn:libcudnn.so.9 cublas:libcublas.so.13; do
    src=${lib%%:*}; so=${lib#*:}
    "$CCBIN" "${FLAGS[@]}" -Wl,-soname,"$so" -Wl,-rpath,'$ORIGIN' -o "$OUT/$so.tmp" "$HERE/fake_$src.c" \
      "$OUT/libcuda.so.1" -lm -lpthread
    mv "$OUT/$so.tmp" "$OUT/$so"
  done
  "$CCBIN" -std=gnu11 -O0 -Wall -Werror -Wl,-rpath,'$ORIGIN' -o "$OUT/selftest" "$HERE/selftest.c" \
    "$OUT/libcuda.so.1" "$OUT/libcudnn.so.9" "$OUT/libcublas.so.13"
  echo "$OUT"
  exit 0
fi

echo "native fakes: no C compiler (cc/gcc) used; fetching tcc from Debian (tests/NativeFakes/fetch-tcc.sh)" >&2
if ! R=$("$HERE/fetch-tcc.sh"); then
  echo "native fakes: no C compiler on this machine and tcc could not be fetched (see above); install gcc to build tests/NativeFakes" >&2
  exit 3
fi
LIBDIR=/lib/x86_64-linux-gnu
TLIB=$R/usr/lib/x86_64-linux-gnu/tcc
TCC=("$R/usr/bin/tcc" -B"$TLIB")
INC=(-nostdinc -I"$TLIB/include" -I"$R/usr/include" -I"$R/usr/include/x86_64-linux-gnu")
# tcc links against the machine's own runtime libc/libm (by path: the private root has only headers).
for lib in cuda:libcuda.so.1 cudnn:libcudnn.so.9 cublas:libcublas.so.13; do
  src=${lib%%:*}; so=${lib#*:}
  "${TCC[@]}" "${INC[@]}" -Wall -c -fPIC -o "$OUT/$src.o" "$HERE/fake_$src.c"
  deps=()
  [ "$src" = cuda ] || deps=("$OUT/libcuda.so.1" -Wl,-rpath='$ORIGIN')
  "${TCC[@]}" -shared -nostdlib -Wl,-soname="$so" -o "$OUT/$so.tmp" "$OUT/$src.o" "${deps[@]}" "$TLIB/libtcc1.a" \
    "$LIBDIR/libm.so.6" "$LIBDIR/libc.so.6"
  mv "$OUT/$so.tmp" "$OUT/$so"
  rm -f "$OUT/$src.o"
done
CRT=$R/usr/lib/x86_64-linux-gnu
"${TCC[@]}" "${INC[@]}" -c -o "$OUT/selftest.o" "$HERE/selftest.c"
"${TCC[@]}" -nostdlib -Wl,-rpath='$ORIGIN' -o "$OUT/selftest" "$CRT/crt1.o" "$CRT/crti.o" "$OUT/selftest.o" \
  "$OUT/libcuda.so.1" "$OUT/libcudnn.so.9" "$OUT/libcublas.so.13" "$TLIB/libtcc1.a" "$LIBDIR/libc.so.6" "$CRT/crtn.o"
rm -f "$OUT/selftest.o"
echo "$OUT"
