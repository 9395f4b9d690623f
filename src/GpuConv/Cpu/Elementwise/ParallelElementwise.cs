using System.Runtime.CompilerServices;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// <see cref="CpuElementwise"/> over the CPU backend's worker threads: a large tensor is cut into contiguous chunks, each
/// run by the same SIMD loop, so the bits are those of one loop over the whole tensor (every element is computed by the
/// same IEEE operations wherever a chunk or the vector part ends). On 1×256×56×56, 2 threads run the ops 1.66–1.89×
/// faster than one when the second core is free, and no faster when another process holds it (docs/benchmarks.md, 2026-12-05).
/// A call hands the workers a struct (<see cref="ChunkLoop"/>), so a warm call allocates nothing.
/// </summary>
internal sealed class ParallelElementwise
{
    /// <summary>
    /// Elements below which one thread runs the op: 64 Ki floats (256 KiB per operand) take some 5–12 µs on one core
    /// (docs/benchmarks.md: 802 816 floats in 65–150 µs by op and load), where waking the workers and joining them is a few µs; smaller
    /// tensors stay on the calling thread.
    /// </summary>
    public const int MinParallelElements = 1 << 16;

    /// <summary>Chunks per participating thread: the workers balance a late or descheduled thread's share.</summary>
    const int ChunksPerThread = 4;

    /// <summary>Chunk lengths are multiples of 16 floats (a 64-byte cache line): no two threads write one line.</summary>
    const int ChunkAlignment = 16;

    readonly CpuWorkers? _workers;

    /// <summary>Over <paramref name="workers"/>; null: every call is one loop on the calling thread (an engine without a CPU backend).</summary>
    public ParallelElementwise(CpuWorkers? workers) => _workers = workers;

    /// <summary>The worker threads the loops are split over; null when there are none.</summary>
    public CpuWorkers? Workers => _workers;

    /// <summary>output[i] = op(a[i], b[i], alpha) for every i (b ignored by the one-input ops); output may be a or b.</summary>
    public void Run(ElementwiseOp op, float[] a, float[]? b, float alpha, float[] output)
    {
        int n = output.Length;
        if (_workers is not { Threads: > 1 } workers || n < MinParallelElements)
        {
            CpuElementwise.Run(op, a, b, alpha, output);
            return;
        }
        if (a.Length != n || (op.Inputs() == 2 && (b?.Length ?? 0) != n))
            throw new ArgumentException($"{op}: a has {a.Length}, b {b?.Length ?? 0} and output {n} elements; they must match.", nameof(output));
        var (chunk, tasks) = Split(n, workers.Threads);
        workers.For(tasks, new ChunkLoop(op, a, b, alpha, output, chunk));
    }

    /// <summary>
    /// The chunk length (a multiple of <see cref="ChunkAlignment"/>) and the number of chunks that cover
    /// <paramref name="n"/> elements with about <see cref="ChunksPerThread"/> per thread. In 64-bit arithmetic: near
    /// Array.MaxLength, n + chunk - 1 in int wrapped negative, CpuWorkers.For ran no task and the output stayed unwritten.
    /// </summary>
    internal static (int Chunk, int Tasks) Split(int n, int threads)
    {
        long chunks = (long)threads * ChunksPerThread;
        long chunk = ((n + chunks - 1) / chunks + ChunkAlignment - 1) / ChunkAlignment * ChunkAlignment;
        return ((int)chunk, (int)((n + chunk - 1) / chunk));
    }

    /// <summary>One call's operands; task i runs the op over chunk i.</summary>
    readonly struct ChunkLoop(ElementwiseOp op, float[] a, float[]? b, float alpha, float[] output, int chunk) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            int start = task * chunk, length = Math.Min(chunk, output.Length - start);
            var bs = op.Inputs() == 2 ? b.AsSpan(start, length) : default;
            CpuElementwise.Run(op, a.AsSpan(start, length), bs, alpha, output.AsSpan(start, length));
        }
    }
}
