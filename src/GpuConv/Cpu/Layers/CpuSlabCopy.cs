using System.Runtime.CompilerServices;
using GpuConv.Cpu.Threading;
using GpuConv.Tensors;

namespace GpuConv.Cpu.Layers;

/// <summary>
/// <see cref="ConvEngine.Concat"/>, <see cref="ConvEngine.Narrow"/> and <see cref="ConvEngine.Split"/> on the CPU: one
/// span copy per row of a <see cref="DimSlab"/>. Large slabs are split over the CPU backend's worker threads by rows (a
/// copy is bound by memory bandwidth, so only where one thread would take a while). A copy has one result, whatever the split.
/// </summary>
internal static unsafe class CpuSlabCopy
{
    /// <summary>Elements below which one thread copies: waking the workers costs more than a copy of 1 MiB saves.</summary>
    internal const long ParallelThreshold = 1 << 18;

    /// <summary>The slab of <paramref name="whole"/> = <paramref name="part"/> (a dense tensor of the slab's shape): Concat's step.</summary>
    public static void Scatter(in DimSlab slab, ReadOnlySpan<float> part, Span<float> whole, CpuWorkers? workers = null)
    {
        Check(slab, part.Length, whole.Length);
        fixed (float* pp = part, pw = whole)
            SplitLoop.Run(new Loop(slab, pp, pw, toWhole: true, Tasks(slab, workers)), workers);
    }

    /// <summary><paramref name="part"/> = the slab of <paramref name="whole"/>: Narrow's (and Split's) step.</summary>
    public static void Gather(in DimSlab slab, ReadOnlySpan<float> whole, Span<float> part, CpuWorkers? workers = null)
    {
        Check(slab, part.Length, whole.Length);
        fixed (float* pp = part, pw = whole)
            SplitLoop.Run(new Loop(slab, pp, pw, toWhole: false, Tasks(slab, workers)), workers);
    }

    static void Check(in DimSlab slab, int partLength, int wholeLength)
    {
        if (partLength != slab.Count || wholeLength < slab.WholeOffset + (slab.Rows - 1) * slab.WholePitch + slab.RowLength)
            throw new ArgumentException($"slab copy {slab}: the part has {partLength} elements (expected {slab.Count}) and the whole {wholeLength}.", nameof(partLength));
    }

    static int Tasks(in DimSlab slab, CpuWorkers? workers) =>
        workers is not { Threads: > 1 } || slab.Count < ParallelThreshold || slab.Rows < 2
            ? 1 : (int)Math.Min(slab.Rows, workers.Threads);

    readonly struct Loop(DimSlab slab, float* part, float* whole, bool toWhole, int tasks) : ISplitLoop
    {
        public int Tasks => tasks;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            long first = slab.Rows * task / tasks, end = slab.Rows * (task + 1) / tasks;
            int n = (int)slab.RowLength;
            for (long r = first; r < end; r++)
            {
                var p = new Span<float>(part + r * slab.RowLength, n);
                var w = new Span<float>(whole + slab.WholeOffset + r * slab.WholePitch, n);
                if (toWhole) p.CopyTo(w);
                else w.CopyTo(p);
            }
        }
    }
}
