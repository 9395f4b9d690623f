using System.Runtime.CompilerServices;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.Layers;

/// <summary>
/// A 5-d strided float32 copy on host arrays, the definition kernels/strided_copy.ptx follows: dst[i0·t0 + … + i4·t4] =
/// src[i0·s0 + … + i4·s4] for every index of the view (PixelShuffle and PixelUnshuffle walk their views with it). Large
/// copies are split over the CPU backend's worker threads by the two outermost dims. A copy has one result, whatever the split.
/// </summary>
internal static unsafe class CpuStridedCopy
{
    /// <summary>Copies the view; the caller has checked that every index of it falls inside both arrays.</summary>
    public static void Run(ReadOnlySpan<float> source, Span<float> destination, ReadOnlySpan<int> dims, ReadOnlySpan<long> sourceStrides,
        ReadOnlySpan<long> destinationStrides, CpuWorkers? workers = null)
    {
        if (dims.Length != 5 || sourceStrides.Length != 5 || destinationStrides.Length != 5)
            throw new ArgumentException($"a strided copy takes 5 dims with one stride each per side; got {dims.Length}, {sourceStrides.Length} and {destinationStrides.Length}.", nameof(dims));
        long count = (long)dims[0] * dims[1] * dims[2] * dims[3] * dims[4];
        long outer = (long)dims[0] * dims[1];
        int tasks = workers is not { Threads: > 1 } || count < CpuSlabCopy.ParallelThreshold || outer < 2 ? 1 : (int)Math.Min(outer, workers.Threads);
        fixed (float* src = source, dst = destination)
        {
            var loop = new Loop(src, dst, new View(dims, sourceStrides, destinationStrides), tasks);
            if (tasks == 1 || workers is null) loop.Run(0, null!);
            else workers.For(tasks, loop);
        }
    }

    /// <summary>The view by value, so the loop struct carries it to the workers without an allocation.</summary>
    readonly struct View(ReadOnlySpan<int> d, ReadOnlySpan<long> s, ReadOnlySpan<long> t)
    {
        public readonly int D0 = d[0], D1 = d[1], D2 = d[2], D3 = d[3], D4 = d[4];
        public readonly long S0 = s[0], S1 = s[1], S2 = s[2], S3 = s[3], S4 = s[4];
        public readonly long T0 = t[0], T1 = t[1], T2 = t[2], T3 = t[3], T4 = t[4];
    }

    readonly struct Loop(float* src, float* dst, View v, int tasks) : ICpuLoop
    {
        public int Tasks => tasks;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            long outer = (long)v.D0 * v.D1, first = outer * task / tasks, end = outer * (task + 1) / tasks;
            for (long i01 = first; i01 < end; i01++)
            {
                long i0 = i01 / v.D1, i1 = i01 % v.D1;
                for (long i2 = 0; i2 < v.D2; i2++)
                    for (long i3 = 0; i3 < v.D3; i3++)
                    {
                        float* s = src + i0 * v.S0 + i1 * v.S1 + i2 * v.S2 + i3 * v.S3;
                        float* t = dst + i0 * v.T0 + i1 * v.T1 + i2 * v.T2 + i3 * v.T3;
                        for (long i4 = 0; i4 < v.D4; i4++) t[i4 * v.T4] = s[i4 * v.S4];
                    }
            }
        }
    }
}
