using System.Buffers;
using System.Runtime.CompilerServices;
using GpuConv.Conv;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.Layers;

/// <summary>
/// <see cref="ConvEngine.Pad"/> and its gradient on the CPU, row by row: the middle of every output row is the input row
/// copied as it is (a vectorised memory copy), and only the few border elements map their index through the mode. Large
/// tensors are split over the CPU backend's worker threads by rows; each element is computed the same way wherever a
/// task starts, so the bits do not depend on the split (and match kernels/pad.ptx, which defines the same sums).
/// </summary>
internal static unsafe class CpuPadding
{
    /// <summary>Elements below which one thread runs (as the element-wise ops and pools: waking workers costs a few µs).</summary>
    internal const long ParallelThreshold = 1 << 16;

    /// <summary>y = pad(x): y has <see cref="PadGeometry.OutCount"/> elements, x <see cref="PadGeometry.InCount"/>.</summary>
    public static void Forward(in PadGeometry g, ReadOnlySpan<float> x, Span<float> y, CpuWorkers? workers = null)
    {
        Check(g, x.Length, y.Length, "x", "y");
        fixed (float* px = x, py = y)
        {
            long rows = (long)g.Planes * g.OutD * g.OutH;
            var loop = new ForwardLoop(g, px, py, rows, Tasks(rows, g.OutCount, workers));
            Split(loop.Tasks, loop, workers);
        }
    }

    /// <summary>
    /// dx = the gradient of pad(x) from dy (the padded shape): each input element gets the sum of the padded elements that
    /// read it, in the order <see cref="PadGeometry.Sources"/> lists them — for each padded row that reads its input row
    /// (ascending), the sum of that row's elements that read it, added in turn. <paramref name="accumulate"/>: dx += that sum.
    /// </summary>
    public static void Backward(in PadGeometry g, ReadOnlySpan<float> dy, Span<float> dx, bool accumulate, CpuWorkers? workers = null)
    {
        Check(g, dx.Length, dy.Length, "dx", "dy");
        fixed (float* pdy = dy, pdx = dx)
        {
            long rows = (long)g.Planes * g.InD * g.InH;
            var loop = new BackwardLoop(g, pdy, pdx, rows, accumulate, Tasks(rows, g.InCount, workers));
            Split(loop.Tasks, loop, workers);
        }
    }

    static void Check(in PadGeometry g, int inLength, int outLength, string inName, string outName)
    {
        if (inLength != g.InCount || outLength != g.OutCount)
            throw new ArgumentException($"pad: {inName} has {inLength} elements (expected {g.InCount}) and {outName} {outLength} (expected {g.OutCount}).", outName);
    }

    static int Tasks(long rows, long elements, CpuWorkers? workers) =>
        workers is not { Threads: > 1 } || elements < ParallelThreshold || rows < 2
            ? 1 : (int)Math.Min(rows, (long)workers.Threads * 4);

    static void Split<T>(int tasks, T loop, CpuWorkers? workers) where T : struct, ICpuLoop
    {
        if (tasks == 1 || workers is null) for (int t = 0; t < tasks; t++) loop.Run(t, null!);
        else workers.For(tasks, loop);
    }

    static (long First, long End) RowsOf(int task, int tasks, long rows) => (rows * task / tasks, rows * (task + 1) / tasks);

    readonly struct ForwardLoop(PadGeometry g, float* x, float* y, long rows, int tasks) : ICpuLoop
    {
        public int Tasks => tasks;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            var (first, end) = RowsOf(task, tasks, rows);
            for (long r = first; r < end; r++) Row(g, x, y, r);
        }
    }

    /// <summary>Output row <paramref name="r"/> (plane, od, oh): the mapped input row's border elements, then its copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
    static void Row(in PadGeometry g, float* x, float* y, long r)
    {
        int oh = (int)(r % g.OutH);
        long rest = r / g.OutH;
        int od = (int)(rest % g.OutD);
        long plane = rest / g.OutD;
        var dst = new Span<float>(y + r * g.OutW, g.OutW);
        int sd = PaddingModes.Source(g.Mode, od - g.BeginD, g.InD), sh = PaddingModes.Source(g.Mode, oh - g.BeginH, g.InH);
        if (sd < 0 || sh < 0)
        {
            dst.Fill(g.Value); // a whole row of the constant pad
            return;
        }
        float* src = x + ((plane * g.InD + sd) * g.InH + sh) * g.InW;
        int bw = g.BeginW, n = g.InW;
        for (int j = 0; j < bw; j++) dst[j] = At(g, src, j - bw);
        new ReadOnlySpan<float>(src, n).CopyTo(dst.Slice(bw, n));
        for (int j = bw + n; j < g.OutW; j++) dst[j] = At(g, src, j - bw);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float At(in PadGeometry g, float* row, int i)
    {
        int s = PaddingModes.Source(g.Mode, i, g.InW);
        return s < 0 ? g.Value : row[s];
    }

    readonly struct BackwardLoop(PadGeometry g, float* dy, float* dx, long rows, bool accumulate, int tasks) : ICpuLoop
    {
        public int Tasks => tasks;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            var (first, end) = RowsOf(task, tasks, rows);
            float[]? scratch = null;
            try
            {
                for (long r = first; r < end; r++) BackwardRow(g, dy, dx, r, accumulate, ref scratch);
            }
            finally
            {
                if (scratch is not null) ArrayPool<float>.Shared.Return(scratch);
            }
        }
    }

    /// <summary>
    /// Input row <paramref name="r"/> (plane, d, h) of dx: the padded rows that read it (one in the middle of the plane),
    /// each folded along W into the row — the first written, the others added — then written, or added to dx when accumulating.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
    static void BackwardRow(in PadGeometry g, float* dy, float* dx, long r, bool accumulate, ref float[]? scratch)
    {
        int h = (int)(r % g.InH);
        long rest = r / g.InH;
        int d = (int)(rest % g.InD);
        long plane = rest / g.InD;
        Span<int> dLo = stackalloc int[3], dHi = stackalloc int[3], hLo = stackalloc int[3], hHi = stackalloc int[3];
        int dn = PadGeometry.Sources(g.Mode, d, g.InD, g.BeginD, g.OutD - g.InD - g.BeginD, dLo, dHi);
        int hn = PadGeometry.Sources(g.Mode, h, g.InH, g.BeginH, g.OutH - g.InH - g.BeginH, hLo, hHi);
        bool single = dn == 1 && dLo[0] == dHi[0] && hn == 1 && hLo[0] == hHi[0];
        float* row = dx + r * g.InW;
        bool apart = accumulate && !single; // dx + (the rows' sum): that sum is made apart first, as the kernel makes it
        if (apart && (scratch is null || scratch.Length < g.InW))
        {
            if (scratch is not null) ArrayPool<float>.Shared.Return(scratch);
            scratch = ArrayPool<float>.Shared.Rent(g.InW);
        }
        fixed (float* pin = scratch)
        {
            float* acc = apart ? pin : row;
            bool first = true;
            for (int a = 0; a < dn; a++)
                for (int pd = dLo[a]; pd <= dHi[a]; pd++)
                    for (int b = 0; b < hn; b++)
                        for (int ph = hLo[b]; ph <= hHi[b]; ph++)
                        {
                            float* src = dy + ((plane * g.OutD + pd) * g.OutH + ph) * g.OutW;
                            // One source row with accumulate adds straight into dx (dx + r is the defined result).
                            FoldRow(g, src, acc, add: !first || (accumulate && single));
                            first = false;
                        }
            if (apart) VectorOps.Add(row, acc, g.InW);
        }
    }

    /// <summary>
    /// dst[w] (=, or += when <paramref name="add"/>) the sum of the padded row's elements that read input w: the single-source
    /// middle as a vectorised copy or add, the edges through <see cref="PadGeometry.Sources"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
    static void FoldRow(in PadGeometry g, float* src, float* dst, bool add)
    {
        int n = g.InW, bw = g.BeginW, ew = g.OutW - g.InW - g.BeginW;
        var (first, end) = PadGeometry.SingleSourceRange(g.Mode, n, bw, ew);
        if (end > first)
        {
            if (add) VectorOps.Add(dst + first, src + bw + first, end - first);
            else new ReadOnlySpan<float>(src + bw + first, end - first).CopyTo(new Span<float>(dst + first, end - first));
        }
        Span<int> lo = stackalloc int[3], hi = stackalloc int[3];
        for (int w = 0; w < n; w++)
        {
            if (w == first && end > first) { w = end - 1; continue; }
            int count = PadGeometry.Sources(g.Mode, w, n, bw, ew, lo, hi);
            float sum = src[lo[0]];
            for (int p = lo[0] + 1; p <= hi[0]; p++) sum += src[p];
            for (int k = 1; k < count; k++)
                for (int p = lo[k]; p <= hi[k]; p++) sum += src[p];
            dst[w] = add ? dst[w] + sum : sum;
        }
    }
}
