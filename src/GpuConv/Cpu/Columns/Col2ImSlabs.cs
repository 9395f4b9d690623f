using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Columns;

/// <summary>
/// How gemm-col2im splits dx into slabs when its channel tiles alone leave threads idle (few dx channels:
/// Conv-TasNet's 512 → 1 decoder is one task per image). dx is cut along its outermost spatial dimension
/// in which dy has more than one position (<see cref="Dim"/>, 0..2 of the widened geometry); each slab's task
/// owns dx's positions [Lo, Hi) along it (all of the other dimensions), computes the columns of every dy
/// position that reaches them — a contiguous run of dy's flattened plane, since the dimensions outside
/// <see cref="Dim"/> have one dy position — and sums only into its own positions. Neighbouring slabs both
/// compute the few dy positions on their border (a kernel's reach), so no two tasks write one element.
/// </summary>
internal readonly record struct Col2ImSlabs(int Dim, int Count)
{
    /// <summary>The whole of dx as one slab (the channel tiles are enough).</summary>
    public static readonly Col2ImSlabs Whole = new(0, 1);

    /// <summary>
    /// Slabs per (image, group, channel tile) for <paramref name="channelTasks"/> such tasks: enough for
    /// <see cref="ConvTiling.TasksPerThread"/> tasks per thread, and more where a slab's B (depth × dy columns)
    /// would outgrow <paramref name="maxColumns"/> columns; fewer where a slab would be under four kernel reaches
    /// (the recomputed border would be a large part of it).
    /// </summary>
    public static Col2ImSlabs For(in Geometry g, long channelTasks, int threads, int maxColumns)
    {
        int dim = g.OutD > 1 ? 0 : g.OutH > 1 ? 1 : g.OutW > 1 ? 2 : -1;
        if (dim < 0) return Whole;
        var (inExtent, outExtent, k, s, d) = Axis(g, dim);
        long inner = (long)g.OutD * g.OutH * g.OutW / outExtent;
        long want = (long)ConvTiling.TasksPerThread * threads;
        long count = threads > 1 && channelTasks < want ? (want + channelTasks - 1) / channelTasks : 1;
        long byColumns = (long)outExtent * inner / Math.Max(1, maxColumns);
        count = Math.Max(count, byColumns);
        // A slab covers about outExtent / count dy positions and recomputes ~reach of them.
        int reach = ((k - 1) * d + s - 1) / s + 1;
        count = Math.Min(count, Math.Min(outExtent / (4 * reach), inExtent));
        return count <= 1 ? Whole : new Col2ImSlabs(dim, (int)count);
    }

    /// <summary>Slab <paramref name="i"/>: dx's positions [Lo, Hi) along <see cref="Dim"/> and the dy positions [O0, O1) that reach them.</summary>
    public Slab Of(in Geometry g, int i)
    {
        var (inExtent, outExtent, k, s, d) = Axis(g, Dim);
        int pad = Dim == 0 ? g.PD : Dim == 1 ? g.PH : g.PW;
        int lo = (int)((long)inExtent * i / Count), hi = (int)((long)inExtent * (i + 1) / Count);
        // dy position o reaches dx o·s − pad + t·d, t < k.
        int o0 = Math.Max(0, CeilDiv(lo + pad - (k - 1) * d, s));
        int o1 = Math.Min(outExtent, FloorDiv(hi - 1 + pad, s) + 1);
        return new Slab(Dim, lo, hi, o0, Math.Max(o0, o1));
    }

    static (int In, int Out, int K, int S, int D) Axis(in Geometry g, int dim) => dim switch
    {
        0 => (g.InD, g.OutD, g.KD, g.SD, g.DD),
        1 => (g.InH, g.OutH, g.KH, g.SH, g.DH),
        _ => (g.InW, g.OutW, g.KW, g.SW, g.DW),
    };

    static int FloorDiv(int a, int b) => a >= 0 ? a / b : -((-a + b - 1) / b);
    static int CeilDiv(int a, int b) => -FloorDiv(-a, b);
}

/// <summary>
/// One slab of dx: positions [Lo, Hi) along dimension <see cref="Dim"/> (all of the others), and the dy
/// positions [O0, O1) along it whose columns reach them (all of dy's other dimensions, one position outside Dim).
/// </summary>
internal readonly record struct Slab(int Dim, int Lo, int Hi, int O0, int O1)
{
    /// <summary>The whole of dx and dy.</summary>
    public static Slab Whole(in Geometry g) => new(0, 0, g.InD, 0, g.OutD);

    /// <summary>dy positions (columns) of the slab: a contiguous run of dy's flattened plane starting at <see cref="FirstColumn"/>.</summary>
    public int Columns(in Geometry g) => (O1 - O0) * (Dim == 0 ? g.OutH * g.OutW : Dim == 1 ? g.OutW : 1);

    public int FirstColumn(in Geometry g) => O0 * (Dim == 0 ? g.OutH * g.OutW : Dim == 1 ? g.OutW : 1);
}
