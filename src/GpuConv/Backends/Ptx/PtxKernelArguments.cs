using GpuConv.Conv;
using GpuConv.Cpu;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// The full argument lists of the index-decomposing kernels (im2col_f32, col2im_f32, depthwise_fwd_f32)
/// in their .param order: pointers, counts, the 18 geometry values (<see cref="PtxKernelGeometry"/>), the
/// (multiplier, shift) pair of every divisor the kernel's 32-bit path divides by (<see cref="FastDivisor"/>),
/// and force64. One place for the backend and the interpreter tests alike.
/// The kernels choose their 32-bit path by themselves when the launch allows it (element count plus grid
/// stride at most 2^32); <c>force64</c> = true makes them take the 64-bit path anyway, which only tests do:
/// a launch large enough to need it cannot run on a CPU.
/// </summary>
internal static class PtxKernelArguments
{
    /// <summary>Elements one launch may cover and still run the 32-bit path with any grid the backend launches: 2^32 minus its largest grid stride (2^22).</summary>
    public const long MaxFastElements = (1L << 32) - (long)PtxConvBackend.MaxBlocks * PtxConvBackend.BlockSize;

    /// <summary>im2col_f32(x, col, n_img, c, geometry…, divisors of outvol, out_w, out_h, force64).</summary>
    public static object[] Im2Col(ConvProblem p, ulong x, ulong col, int images, bool force64 = false)
    {
        var g = ConvGeometry.Of(p);
        return [x, col, (uint)images, (uint)p.C, .. Geometry(p),
            .. Magic((long)g.OutD * g.OutH * g.OutW, "output volume"), .. Magic(g.OutW, "out_w"), .. Magic(g.OutH, "out_h"),
            force64 ? 1u : 0u];
    }

    /// <summary>
    /// Threads im2col_f32 wants: one per output position of the chunk (images·C·outvol), each writing its
    /// kernel-volume column entries (the 32-bit path; the 64-bit path loops over elements with any grid).
    /// </summary>
    public static long Im2ColThreads(ConvProblem p, int images) => (long)images * p.C * p.YShape.SpatialSize;

    /// <summary>col2im_f32(col, dx, n_img, c, geometry…, divisors of the input plane, in_w, in_h, s_d, s_h, s_w, force64).</summary>
    public static object[] Col2Im(ConvProblem p, ulong col, ulong dx, int images, bool force64 = false)
    {
        var g = ConvGeometry.Of(p);
        return [col, dx, (uint)images, (uint)p.C, .. Geometry(p),
            .. Magic((long)g.InD * g.InH * g.InW, "input volume"), .. Magic(g.InW, "in_w"), .. Magic(g.InH, "in_h"),
            .. Magic(g.SD, "s_d"), .. Magic(g.SH, "s_h"), .. Magic(g.SW, "s_w"),
            force64 ? 1u : 0u];
    }

    /// <summary>Outputs of one row a depthwise_fwd_f32 thread computes on its 32-bit path (the kernel is unrolled for 4).</summary>
    public const int DepthwiseOutputsPerThread = 4;

    /// <summary>
    /// depthwise_fwd_f32(x, w, bias, y, n, c, m, geometry…, divisors of out_d·out_h, K, m, row groups, out_h, force64); bias 0 = none.
    /// A row group is <see cref="DepthwiseOutputsPerThread"/> consecutive outputs of an output row (the last one of a row may hold fewer).
    /// </summary>
    public static object[] Depthwise(ConvProblem p, ulong x, ulong w, ulong bias, ulong y, bool force64 = false)
    {
        var g = ConvGeometry.Of(p);
        int multiplier = p.K / p.C;
        return [x, w, bias, y, (uint)p.N, (uint)p.C, (uint)multiplier, .. Geometry(p),
            .. Magic((long)g.OutD * g.OutH, "out_d*out_h"), .. Magic(p.K, "K"), .. Magic(multiplier, "channel multiplier"),
            .. Magic(DepthwiseRowGroups(g.OutW), "row groups"), .. Magic(g.OutH, "out_h"),
            force64 ? 1u : 0u];
    }

    /// <summary>
    /// Threads depthwise_fwd_f32 wants: one per row group (N·K·outD·outH rows × ceil(outW / 4)) on the 32-bit path;
    /// the 64-bit path loops over single outputs with any grid.
    /// </summary>
    public static long DepthwiseThreads(ConvProblem p)
    {
        var g = ConvGeometry.Of(p);
        return (long)p.N * p.K * g.OutD * g.OutH * DepthwiseRowGroups(g.OutW);
    }

    static long DepthwiseRowGroups(long outW) => (outW + DepthwiseOutputsPerThread - 1) / DepthwiseOutputsPerThread;

    static object[] Geometry(ConvProblem p) => [.. PtxKernelGeometry.Of(p).Select(v => (object)v)];

    static object[] Magic(long divisor, string what)
    {
        var d = FastDivisor.Of(divisor, what);
        return [d.Multiplier, d.Shift];
    }
}
