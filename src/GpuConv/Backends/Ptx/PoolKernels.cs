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
    public static object[] Arguments(bool max, ulong y, ulong x, in PoolGeometry g)
    {
        CheckFits(g);
        object[] common =
        [
            y, x, (uint)g.OutputCount,
            (uint)g.InD, (uint)g.InH, (uint)g.InW, (uint)g.OutD, (uint)g.OutH, (uint)g.OutW,
            (uint)g.KD, (uint)g.KH, (uint)g.KW, (uint)g.SD, (uint)g.SH, (uint)g.SW, (uint)g.PD, (uint)g.PH, (uint)g.PW,
        ];
        return max ? [.. common, (uint)g.DlD, (uint)g.DlH, (uint)g.DlW] : [.. common, g.CountIncludePad ? 1u : 0u];
    }

    /// <summary>The kernels index in 32 bits: outputs, planes' inputs and idx + grid stride stay below 2^32.</summary>
    static void CheckFits(in PoolGeometry g)
    {
        long input = (long)g.Planes * g.PlaneSize;
        if (g.OutputCount > int.MaxValue || input > int.MaxValue)
            throw new ArgumentException($"pool of {input} input and {g.OutputCount} output elements: the kernels take tensors below 2^31 elements.", "x");
    }

    /// <summary>Max (<paramref name="max"/>) or average pooling of x into y (nothing for an empty output), ordered on the runtime's stream.</summary>
    public static void Launch(IPtxRuntime runtime, bool max, ulong y, ulong x, in PoolGeometry g)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = Arguments(max, y, x, g);
        if (g.OutputCount == 0) return;
        uint grid = (uint)Math.Clamp((g.OutputCount + PtxConvBackend.BlockSize - 1) / PtxConvBackend.BlockSize, 1, PtxConvBackend.MaxBlocks);
        runtime.Launch(Module, max ? MaxEntry : AverageEntry, grid, PtxConvBackend.BlockSize, args);
    }

    /// <summary>
    /// A backward entry's arguments in .param order: dx, (x for max,) dy (.u64), the input element count and the
    /// geometry (.u32), then dilation (max) or include_pad (avg).
    /// </summary>
    public static object[] BackwardArguments(bool max, ulong dx, ulong x, ulong dy, in PoolGeometry g)
    {
        CheckFits(g);
        object[] geometry =
        [
            (uint)((long)g.Planes * g.PlaneSize),
            (uint)g.InD, (uint)g.InH, (uint)g.InW, (uint)g.OutD, (uint)g.OutH, (uint)g.OutW,
            (uint)g.KD, (uint)g.KH, (uint)g.KW, (uint)g.SD, (uint)g.SH, (uint)g.SW, (uint)g.PD, (uint)g.PH, (uint)g.PW,
        ];
        return max ? [dx, x, dy, .. geometry, (uint)g.DlD, (uint)g.DlH, (uint)g.DlW] : [dx, dy, .. geometry, g.CountIncludePad ? 1u : 0u];
    }

    /// <summary>dx of max (<paramref name="max"/>, from x and dy) or average pooling (from dy), one thread per input element, ordered on the runtime's stream.</summary>
    public static void LaunchBackward(IPtxRuntime runtime, bool max, ulong dx, ulong x, ulong dy, in PoolGeometry g)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = BackwardArguments(max, dx, x, dy, g);
        long inputs = (long)g.Planes * g.PlaneSize;
        if (inputs == 0) return;
        uint grid = (uint)Math.Clamp((inputs + PtxConvBackend.BlockSize - 1) / PtxConvBackend.BlockSize, 1, PtxConvBackend.MaxBlocks);
        runtime.Launch(Module, max ? MaxBackwardEntry : AverageBackwardEntry, grid, PtxConvBackend.BlockSize, args);
    }

    /// <summary>The global average's arguments: y, x, planes, spatial (all .u64).</summary>
    public static object[] GlobalAverageArguments(ulong y, ulong x, long planes, long spatial) => [y, x, (ulong)planes, (ulong)spatial];

    /// <summary>y[p] = mean of plane p of x (planes × spatial elements), one block of <see cref="Cpu.CpuPooling.GlobalAverageThreads"/> threads per plane.</summary>
    public static void LaunchGlobalAverage(IPtxRuntime runtime, ulong y, ulong x, long planes, long spatial)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentOutOfRangeException.ThrowIfNegative(planes);
        ArgumentOutOfRangeException.ThrowIfNegative(spatial);
        if (planes == 0) return;
        uint grid = (uint)Math.Min(planes, PtxConvBackend.MaxBlocks);
        runtime.Launch(Module, GlobalAverageEntry, grid, Cpu.CpuPooling.GlobalAverageThreads, GlobalAverageArguments(y, x, planes, spatial));
    }
}
