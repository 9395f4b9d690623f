using GpuConv.Cuda;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// Launches of kernels/pool.ptx on the runtime's stream (no wait): max and average pooling one thread per output
/// (grid-stride), the global average one 256-thread block per plane. The kernels need the driver only, so every
/// GPU engine has them.
/// </summary>
internal static class PoolKernels
{
    public const string Module = "pool.ptx";
    public const string MaxEntry = "max_pool_f32";
    public const string AverageEntry = "avg_pool_f32";
    public const string GlobalAverageEntry = "global_avg_pool_f32";
    public const string MaxBackwardEntry = "max_pool_backward_f32";
    public const string AverageBackwardEntry = "avg_pool_backward_f32";

    /// <summary>The entry's arguments in .param order: y, x (.u64), total and the geometry (.u32), then dilation (max) or include_pad (avg).</summary>
    public static KernelArgumentPack Pack(bool max, ulong y, ulong x, in PoolGeometry g)
    {
        CheckFits(g);
        var args = new KernelArgumentPack();
        args.Add(y).Add(x).Add((uint)g.OutputCount);
        AddGeometry(ref args, g);
        if (max) args.Add((uint)g.DlD).Add((uint)g.DlH).Add((uint)g.DlW);
        else args.Add(g.CountIncludePad ? 1u : 0u);
        return args;
    }

    /// <summary><see cref="Pack"/> boxed, for the interpreter tests.</summary>
    public static object[] Arguments(bool max, ulong y, ulong x, in PoolGeometry g) => Pack(max, y, x, g).ToObjects();

    /// <summary>The shared .u32 geometry: input and output extents, kernel, stride, padding (depth, height, width each).</summary>
    static void AddGeometry(ref KernelArgumentPack args, in PoolGeometry g) =>
        args.Add((uint)g.InD).Add((uint)g.InH).Add((uint)g.InW).Add((uint)g.OutD).Add((uint)g.OutH).Add((uint)g.OutW)
            .Add((uint)g.KD).Add((uint)g.KH).Add((uint)g.KW).Add((uint)g.SD).Add((uint)g.SH).Add((uint)g.SW)
            .Add((uint)g.PD).Add((uint)g.PH).Add((uint)g.PW);

    /// <summary>
    /// The kernels index in 32 bits (outputs, planes' inputs and idx + grid stride stay below 2^32). PoolGeometry.Of
    /// already refuses larger tensors by the caller's parameter name; reaching this is a bug in GpuConv, not bad input.
    /// </summary>
    static void CheckFits(in PoolGeometry g)
    {
        long input = (long)g.Planes * g.PlaneSize;
        if (g.OutputCount > int.MaxValue || input > int.MaxValue)
            throw new InvalidOperationException($"pool geometry of {input} input and {g.OutputCount} output elements reached the 32-bit kernels (PoolGeometry.Of admits fewer than 2^31).");
    }

    /// <summary>Max (<paramref name="max"/>) or average pooling of x into y (nothing for an empty output), ordered on the runtime's stream.</summary>
    public static void Launch(IPtxRuntime runtime, bool max, ulong y, ulong x, in PoolGeometry g)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = Pack(max, y, x, g);
        if (g.OutputCount == 0) return;
        uint grid = (uint)Math.Clamp((g.OutputCount + PtxConvBackend.BlockSize - 1) / PtxConvBackend.BlockSize, 1, PtxConvBackend.MaxBlocks);
        runtime.Launch(Module, max ? MaxEntry : AverageEntry, grid, PtxConvBackend.BlockSize, args);
    }

    /// <summary>
    /// A backward entry's arguments in .param order: dx, (x for max,) dy (.u64), the input element count and the
    /// geometry (.u32), then dilation (max) or include_pad (avg).
    /// </summary>
    public static KernelArgumentPack BackwardPack(bool max, ulong dx, ulong x, ulong dy, in PoolGeometry g)
    {
        CheckFits(g);
        var args = new KernelArgumentPack();
        args.Add(dx);
        if (max) args.Add(x);
        args.Add(dy).Add((uint)((long)g.Planes * g.PlaneSize));
        AddGeometry(ref args, g);
        if (max) args.Add((uint)g.DlD).Add((uint)g.DlH).Add((uint)g.DlW);
        else args.Add(g.CountIncludePad ? 1u : 0u);
        return args;
    }

    /// <summary><see cref="BackwardPack"/> boxed, for the interpreter tests.</summary>
    public static object[] BackwardArguments(bool max, ulong dx, ulong x, ulong dy, in PoolGeometry g) => BackwardPack(max, dx, x, dy, g).ToObjects();

    /// <summary>dx of max (<paramref name="max"/>, from x and dy) or average pooling (from dy), one thread per input element, ordered on the runtime's stream.</summary>
    public static void LaunchBackward(IPtxRuntime runtime, bool max, ulong dx, ulong x, ulong dy, in PoolGeometry g)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = BackwardPack(max, dx, x, dy, g);
        long inputs = (long)g.Planes * g.PlaneSize;
        if (inputs == 0) return;
        uint grid = (uint)Math.Clamp((inputs + PtxConvBackend.BlockSize - 1) / PtxConvBackend.BlockSize, 1, PtxConvBackend.MaxBlocks);
        runtime.Launch(Module, max ? MaxBackwardEntry : AverageBackwardEntry, grid, PtxConvBackend.BlockSize, args);
    }

    /// <summary>The global average's arguments: y, x, planes, spatial (all .u64).</summary>
    public static KernelArgumentPack GlobalAveragePack(ulong y, ulong x, long planes, long spatial)
    {
        var args = new KernelArgumentPack();
        args.Add(y).Add(x).Add((ulong)planes).Add((ulong)spatial);
        return args;
    }

    /// <summary><see cref="GlobalAveragePack"/> boxed, for the interpreter tests.</summary>
    public static object[] GlobalAverageArguments(ulong y, ulong x, long planes, long spatial) => GlobalAveragePack(y, x, planes, spatial).ToObjects();

    /// <summary>y[p] = mean of plane p of x (planes × spatial elements), one block of <see cref="Cpu.Pooling.CpuPooling.GlobalAverageThreads"/> threads per plane.</summary>
    public static void LaunchGlobalAverage(IPtxRuntime runtime, ulong y, ulong x, long planes, long spatial)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentOutOfRangeException.ThrowIfNegative(planes);
        ArgumentOutOfRangeException.ThrowIfNegative(spatial);
        if (planes == 0) return;
        uint grid = (uint)Math.Min(planes, PtxConvBackend.MaxBlocks);
        runtime.Launch(Module, GlobalAverageEntry, grid, Cpu.Pooling.CpuPooling.GlobalAverageThreads, GlobalAveragePack(y, x, planes, spatial));
    }
}
