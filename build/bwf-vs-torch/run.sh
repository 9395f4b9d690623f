#!/usr/bin/env bash
# Backward-filter (weight gradient; with --op data the backward-data, the input gradient, with --op forward the forward
# again against F.conv2d; per-call weights, as in training: "bwf" in the table then means that op) of the CPU backend
# against its own forward and PyTorch CPU (oneDNN), per unique layer of a shape set, same thread count, in one run: the .NET harness and the torch script alternate
# PASSES times (each pass: 2 warm-up rounds, ROUNDS timed rounds per layer, medians of single calls), then
# merge.py prints per-layer medians over the passes, the ratios and their geomeans.
# BASELINE=<another checkout of this repository> also runs this harness built against that checkout's sources
# in every pass (old / new in the same window).
#   build/bwf-vs-torch/run.sh <set> <batch> [threads=2] [rounds=7] [passes=3] [--only substring] [--all] [--op filter|data|forward]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
set_name=$1 batch=$2 threads=${3:-2} rounds=${4:-7} passes=${5:-3}
shift $(( $# < 5 ? $# : 5 ))
csv="$here/../../samples/GpuConv.Cli/shapes/$set_name.csv"
out=$(mktemp -d)
# No build servers left running: they took CPU from the first pass.
dotnet build -c Release --disable-build-servers "$here/BwfBench.csproj" -o "$out/bin" >/dev/null
if [ -n "${BASELINE:-}" ]; then
  mkdir -p "$BASELINE/build/bwf-vs-torch"
  cp "$here/BwfBench.csproj" "$here/Program.cs" "$BASELINE/build/bwf-vs-torch/"
  dotnet build -c Release --disable-build-servers "$BASELINE/build/bwf-vs-torch/BwfBench.csproj" -o "$out/base" >/dev/null
fi
for p in $(seq 1 "$passes"); do
  echo "pass $p/$passes, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  # The two builds take turns going first.
  if [ -n "${BASELINE:-}" ] && [ $((p % 2)) -eq 0 ]; then
    dotnet "$out/base/GpuConv.Benchmarks.dll" "$csv" "$batch" "$threads" "$rounds" "$@" > "$out/base.$p.tsv"
  fi
  dotnet "$out/bin/GpuConv.Benchmarks.dll" "$csv" "$batch" "$threads" "$rounds" "$@" > "$out/ours.$p.tsv"
  if [ -n "${BASELINE:-}" ] && [ $((p % 2)) -eq 1 ]; then
    dotnet "$out/base/GpuConv.Benchmarks.dll" "$csv" "$batch" "$threads" "$rounds" "$@" > "$out/base.$p.tsv"
  fi
  /usr/bin/python3 "$here/torch_bwf.py" "$csv" "$batch" "$threads" "$rounds" "$@" > "$out/torch.$p.tsv"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
/usr/bin/python3 "$here/merge.py" "$out"
