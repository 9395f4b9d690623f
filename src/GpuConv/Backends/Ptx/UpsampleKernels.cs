using GpuConv.Cuda;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// Launches of kernels/upsample.ptx on the runtime's stream (no wait): the upsample one thread per output element, its
/// gradient one thread per input element gathering the outputs that read it (no atomics, so the sums have one order: the
/// one <see cref="Cpu.Layers.CpuUpsampling.Backward"/> defines). Grid-stride; the kernels need the driver only.
/// </summary>
internal static class UpsampleKernels
{
    public const string Module = "upsample.ptx";
    public const string ForwardEntry = "upsample_f32";
    public const string BackwardEntry = "upsample_backward_f32";

    /// <summary>
    /// The entry's arguments in .param order: output, input (.u64), the written element count (.u32: outputs forward,
    /// inputs backward), then the geometry (<see cref="AddGeometry"/>).
    /// </summary>
    public static KernelArgumentPack Pack(ulong output, ulong input, long count, in UpsampleGeometry g)
    {
        CheckFits(g);
        var args = new KernelArgumentPack();
        args.Add(output).Add(input).Add((uint)count);
        AddGeometry(ref args, g);
        return args;
    }

    /// <summary><see cref="Pack"/> for the forward, boxed, for the interpreter tests.</summary>
    public static object[] ForwardArguments(ulong y, ulong x, in UpsampleGeometry g) => Pack(y, x, g.OutCount, g).ToObjects();

    /// <summary><see cref="Pack"/> for the backward, boxed, for the interpreter tests.</summary>
    public static object[] BackwardArguments(ulong dx, ulong dy, in UpsampleGeometry g) => Pack(dx, dy, g.InCount, g).ToObjects();

    /// <summary>
    /// Input and output extents, the rules (0 copy, 1 scaled; .u32) and float32 scales (.f32) of depth, height
    /// and width, then kind (0 nearest, 1 nearest-exact, 2 linear), the linear rank and align_corners (.u32).
    /// </summary>
    static void AddGeometry(ref KernelArgumentPack args, in UpsampleGeometry g) =>
        args.Add((uint)g.D.In).Add((uint)g.H.In).Add((uint)g.W.In).Add((uint)g.D.Out).Add((uint)g.H.Out).Add((uint)g.W.Out)
            .Add((uint)g.D.Rule).Add((uint)g.H.Rule).Add((uint)g.W.Rule).Add(g.D.Scale).Add(g.H.Scale).Add(g.W.Scale)
            .Add((uint)g.Kind).Add((uint)g.LinearRank).Add(g.AlignCorners ? 1u : 0u);

    /// <summary>
    /// The kernels index in 32 bits (element counts, and idx + grid stride, below 2^31). The engine refuses larger tensors
    /// by the caller's parameter name first; reaching this is a bug in GpuConv, not bad input.
    /// </summary>
    static void CheckFits(in UpsampleGeometry g)
    {
        if (g.OutCount > int.MaxValue || g.InCount > int.MaxValue)
            throw new InvalidOperationException($"upsample geometry of {g.InCount} input and {g.OutCount} output elements reached the 32-bit kernels (the engine admits fewer than 2^31).");
    }

    /// <summary>y = upsample(x), ordered on the runtime's stream.</summary>
    public static void LaunchForward(IPtxRuntime runtime, ulong y, ulong x, in UpsampleGeometry g)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = Pack(y, x, g.OutCount, g);
        runtime.Launch(Module, ForwardEntry, Grid(g.OutCount), PtxConvBackend.BlockSize, args);
    }

    /// <summary>dx = the gradient of upsample from dy, ordered on the runtime's stream.</summary>
    public static void LaunchBackward(IPtxRuntime runtime, ulong dx, ulong dy, in UpsampleGeometry g)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = Pack(dx, dy, g.InCount, g);
        runtime.Launch(Module, BackwardEntry, Grid(g.InCount), PtxConvBackend.BlockSize, args);
    }

    static uint Grid(long count) => (uint)Math.Clamp((count + PtxConvBackend.BlockSize - 1) / PtxConvBackend.BlockSize, 1, PtxConvBackend.MaxBlocks);
}
