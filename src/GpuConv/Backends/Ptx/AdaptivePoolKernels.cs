using GpuConv.Cuda;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// Launches of kernels/adaptive_pool.ptx on the runtime's stream (no wait), one thread per output (forward) or input
/// element (backward), grid-stride. The max pool's backward is two launches: the forward's argmax pass into a scratch
/// buffer of one .u32 per output, then the gather. The kernels need the driver only, so every GPU engine has them.
/// </summary>
internal static class AdaptivePoolKernels
{
    public const string Module = "adaptive_pool.ptx";
    public const string MaxEntry = "adaptive_max_pool_f32";
    public const string AverageEntry = "adaptive_avg_pool_f32";
    public const string MaxBackwardEntry = "adaptive_max_pool_backward_f32";
    public const string AverageBackwardEntry = "adaptive_avg_pool_backward_f32";

    /// <summary>
    /// An entry's arguments in .param order: the pointers given (max forward: y, argmax, x; avg forward: y, x; max
    /// backward: dx, argmax, dy; avg backward: dx, dy), total, then the input and output extents (.u32).
    /// </summary>
    public static KernelArgumentPack Pack(in AdaptivePoolGeometry g, long total, params ReadOnlySpan<ulong> pointers)
    {
        CheckFits(g);
        var args = new KernelArgumentPack();
        foreach (var p in pointers) args.Add(p);
        args.Add((uint)total).Add((uint)g.InD).Add((uint)g.InH).Add((uint)g.InW).Add((uint)g.OutD).Add((uint)g.OutH).Add((uint)g.OutW);
        return args;
    }

    /// <summary><see cref="Pack"/> boxed, for the interpreter tests.</summary>
    public static object[] Arguments(in AdaptivePoolGeometry g, long total, params ReadOnlySpan<ulong> pointers) => Pack(g, total, pointers).ToObjects();

    /// <summary>The kernels index in 32 bits; AdaptivePoolGeometry.Of refuses larger tensors by the caller's parameter name, so reaching this is a bug.</summary>
    static void CheckFits(in AdaptivePoolGeometry g)
    {
        long input = (long)g.Planes * g.PlaneSize;
        if (g.OutputCount > int.MaxValue || input > int.MaxValue)
            throw new InvalidOperationException($"adaptive pool geometry of {input} input and {g.OutputCount} output elements reached the 32-bit kernels (AdaptivePoolGeometry.Of admits fewer than 2^31).");
    }

    static uint Grid(long threads) => (uint)Math.Clamp((threads + PtxConvBackend.BlockSize - 1) / PtxConvBackend.BlockSize, 1, PtxConvBackend.MaxBlocks);

    /// <summary>Adaptive max pooling of x into y (and the argmax of each window into <paramref name="argmax"/> unless 0; y may be 0).</summary>
    public static void LaunchMax(IPtxRuntime runtime, ulong y, ulong argmax, ulong x, in AdaptivePoolGeometry g)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = Pack(g, g.OutputCount, [y, argmax, x]);
        if (g.OutputCount == 0) return;
        runtime.Launch(Module, MaxEntry, Grid(g.OutputCount), PtxConvBackend.BlockSize, args);
    }

    /// <summary>Adaptive average pooling of x into y.</summary>
    public static void LaunchAverage(IPtxRuntime runtime, ulong y, ulong x, in AdaptivePoolGeometry g)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = Pack(g, g.OutputCount, [y, x]);
        if (g.OutputCount == 0) return;
        runtime.Launch(Module, AverageEntry, Grid(g.OutputCount), PtxConvBackend.BlockSize, args);
    }

    /// <summary>dx of adaptive max pooling from the argmax buffer <see cref="LaunchMax"/> wrote and dy.</summary>
    public static void LaunchMaxBackward(IPtxRuntime runtime, ulong dx, ulong argmax, ulong dy, in AdaptivePoolGeometry g)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        long inputs = (long)g.Planes * g.PlaneSize;
        var args = Pack(g, inputs, [dx, argmax, dy]);
        if (inputs == 0) return;
        runtime.Launch(Module, MaxBackwardEntry, Grid(inputs), PtxConvBackend.BlockSize, args);
    }

    /// <summary>dx of adaptive average pooling from dy.</summary>
    public static void LaunchAverageBackward(IPtxRuntime runtime, ulong dx, ulong dy, in AdaptivePoolGeometry g)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        long inputs = (long)g.Planes * g.PlaneSize;
        var args = Pack(g, inputs, [dx, dy]);
        if (inputs == 0) return;
        runtime.Launch(Module, AverageBackwardEntry, Grid(inputs), PtxConvBackend.BlockSize, args);
    }
}
