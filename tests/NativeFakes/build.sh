#!/usr/bin/env bash
# Builds the native fakes of the CUDA driver, cuDNN 9 and cuBLAS 13 into one folder:
#   tests/NativeFakes/build.sh OUTDIR     (prints OUTDIR on stdout; progress and errors on stderr)
# OUTDIR then holds libcuda.so.1, libcudnn.so.9 and libcublas.so.13: put it first on LD_LIBRARY_PATH of a
# CHILD process and GpuConv's discovery finds a "GPU" (an H200 described by the fake driver).
# Compiler: $CC, else cc, else gcc. None on the machine: exit 3 with a one-line reason (a fresh Debian
# image with only the .NET SDK has none; install gcc, e.g. `apt-get install gcc`).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:?usage: build.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

CCBIN=${CC:-}
if [ -z "$CCBIN" ]; then
  for c in cc gcc; do if command -v "$c" >/dev/null 2>&1; then CCBIN=$c; break; fi; done
fi
if [ -z "$CCBIN" ]; then
  echo "native fakes: no C compiler (cc/gcc) on this machine; install gcc to build tests/NativeFakes" >&2
  exit 3
fi

# -fvisibility=hidden: only FAKE_EXPORT symbols leave each library, so the exports are exactly the API names.
FLAGS=(-std=gnu11 -O2 -g -fPIC -shared -fvisibility=hidden -Wall -Wextra -Werror -Wno-unused-parameter)
# Skip the build when the sources are older than the libraries.
newest_src=$(stat -c %Y "$HERE"/*.c "$HERE"/*.h | sort -n | tail -n1)
if [ -f "$OUT/libcublas.so.13" ] && [ "$(stat -c %Y "$OUT/libcublas.so.13")" -ge "$newest_src" ] \
   && [ -f "$OUT/libcudnn.so.9" ] && [ -f "$OUT/libcuda.so.1" ]; then
  echo "$OUT"; exit 0
fi
"$CCBIN" "${FLAGS[@]}" -Wl,-soname,libcuda.so.1 -o "$OUT/libcuda.so.1.tmp" "$HERE/fake_cuda.c" -lpthread
mv "$OUT/libcuda.so.1.tmp" "$OUT/libcuda.so.1"
# cuDNN and cuBLAS ask the driver fake whether pointers are device memory: linked against it, found beside them.
for lib in cudnn:libcudnn.so.9 cublas:libcublas.so.13; do
  src=${lib%%:*}; so=${lib#*:}
  "$CCBIN" "${FLAGS[@]}" -Wl,-soname,"$so" -Wl,-rpath,'$ORIGIN' -o "$OUT/$so.tmp" "$HERE/fake_$src.c" \
    "$OUT/libcuda.so.1" -lm -lpthread
  mv "$OUT/$so.tmp" "$OUT/$so"
done
echo "$OUT"
