using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cuda;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// The full argument lists of the index-decomposing kernels (im2col_f32, col2im_f32, depthwise_fwd_f32)
/// in their .param order: pointers, counts, the 18 geometry values (<see cref="PtxKernelGeometry"/>), the
/// (multiplier, shift) pair of every divisor the kernel's 32-bit path divides by (<see cref="FastDivisor"/>),
/// and force64. One place for the backend and the interpreter tests alike.
/// The kernels choose their 32-bit path by themselves when the launch allows it (element count plus grid
/// stride at most 2^32); <c>force64</c> = true makes them take the 64-bit path anyway, which only tests do:
/// a launch large enough to need it cannot run on a CPU.
/// Each list is built on the stack (<see cref="KernelArgumentPack"/>: the backend's launches allocate nothing); the
/// boxed forms without "Pack" are the same lists as <c>object[]</c>, for the PTX interpreter in tests.
/// </summary>
internal static class PtxKernelArguments
{
    /// <summary>Elements one launch may cover and still run the 32-bit path with any grid the backend launches: 2^32 minus its largest grid stride (2^22).</summary>
    public const long MaxFastElements = (1L << 32) - (long)PtxConvBackend.MaxBlocks * PtxConvBackend.BlockSize;

    /// <summary>im2col_f32(x, col, n_img, c, geometry…, divisors of outvol, out_w, out_h, force64).</summary>
    public static KernelArgumentPack Im2ColPack(ConvProblem p, ulong x, ulong col, int images, bool force64 = false)
    {
        var g = ConvGeometry.Of(p);
        var args = new KernelArgumentPack();
        args.Add(x).Add(col).Add((uint)images).Add((uint)p.C);
        AddGeometry(ref args, g);
        AddMagic(ref args, (long)g.OutD * g.OutH * g.OutW, "output volume");
        AddMagic(ref args, g.OutW, "out_w");
        AddMagic(ref args, g.OutH, "out_h");
        args.Add(force64 ? 1u : 0u);
        return args;
    }

    /// <summary><see cref="Im2ColPack"/> boxed.</summary>
    public static object[] Im2Col(ConvProblem p, ulong x, ulong col, int images, bool force64 = false) =>
        Im2ColPack(p, x, col, images, force64).ToObjects();

    /// <summary>
    /// Threads im2col_f32 wants: one per output position of the chunk (images·C·outvol), each writing its
    /// kernel-volume column entries (the 32-bit path; the 64-bit path loops over elements with any grid).
    /// </summary>
    public static long Im2ColThreads(ConvProblem p, int images) => (long)images * p.C * p.YShape.SpatialSize;

    /// <summary>col2im_f32(col, dx, n_img, c, geometry…, divisors of the input plane, in_w, in_h, s_d, s_h, s_w, force64).</summary>
    public static KernelArgumentPack Col2ImPack(ConvProblem p, ulong col, ulong dx, int images, bool force64 = false)
    {
        var g = ConvGeometry.Of(p);
        var args = new KernelArgumentPack();
        args.Add(col).Add(dx).Add((uint)images).Add((uint)p.C);
        AddGeometry(ref args, g);
        AddMagic(ref args, (long)g.InD * g.InH * g.InW, "input volume");
        AddMagic(ref args, g.InW, "in_w");
        AddMagic(ref args, g.InH, "in_h");
        AddMagic(ref args, g.SD, "s_d");
        AddMagic(ref args, g.SH, "s_h");
        AddMagic(ref args, g.SW, "s_w");
        args.Add(force64 ? 1u : 0u);
        return args;
    }

    /// <summary><see cref="Col2ImPack"/> boxed.</summary>
    public static object[] Col2Im(ConvProblem p, ulong col, ulong dx, int images, bool force64 = false) =>
        Col2ImPack(p, col, dx, images, force64).ToObjects();

    /// <summary>Outputs of one row a depthwise_fwd_f32 thread computes on its 32-bit path (the kernel is unrolled for 4).</summary>
    public const int DepthwiseOutputsPerThread = 4;

    /// <summary>
    /// depthwise_fwd_f32(x, w, bias, y, n, c, m, geometry…, divisors of out_d·out_h, K, m, row groups, out_h, force64); bias 0 = none.
    /// A row group is <see cref="DepthwiseOutputsPerThread"/> consecutive outputs of an output row (the last one of a row may hold fewer).
    /// </summary>
    public static KernelArgumentPack DepthwisePack(ConvProblem p, ulong x, ulong w, ulong bias, ulong y, bool force64 = false)
    {
        var g = ConvGeometry.Of(p);
        int multiplier = p.K / p.C;
        var args = new KernelArgumentPack();
        args.Add(x).Add(w).Add(bias).Add(y).Add((uint)p.N).Add((uint)p.C).Add((uint)multiplier);
        AddGeometry(ref args, g);
        AddMagic(ref args, (long)g.OutD * g.OutH, "out_d*out_h");
        AddMagic(ref args, p.K, "K");
        AddMagic(ref args, multiplier, "channel multiplier");
        AddMagic(ref args, DepthwiseRowGroups(g.OutW), "row groups");
        AddMagic(ref args, g.OutH, "out_h");
        args.Add(force64 ? 1u : 0u);
        return args;
    }

    /// <summary><see cref="DepthwisePack"/> boxed.</summary>
    public static object[] Depthwise(ConvProblem p, ulong x, ulong w, ulong bias, ulong y, bool force64 = false) =>
        DepthwisePack(p, x, w, bias, y, force64).ToObjects();

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

    /// <summary>The 18 geometry values in <see cref="PtxKernelGeometry"/>'s order.</summary>
    static void AddGeometry(ref KernelArgumentPack args, ConvGeometry g)
    {
        Span<uint> values = stackalloc uint[PtxKernelGeometry.Count];
        PtxKernelGeometry.Write(g, values);
        foreach (uint v in values) args.Add(v);
    }

    static void AddMagic(ref KernelArgumentPack args, long divisor, string what)
    {
        var d = FastDivisor.Of(divisor, what);
        args.Add(d.Multiplier).Add(d.Shift);
    }
}
