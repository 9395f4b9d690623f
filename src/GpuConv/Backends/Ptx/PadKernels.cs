using GpuConv.Cuda;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// Launches of kernels/pad.ptx on the runtime's stream (no wait): the pad one thread per output element, its gradient
/// one thread per input element gathering the padded elements that read it (no atomics, so the sums have one order:
/// the one <see cref="Cpu.Layers.CpuPadding.Backward"/> defines). Grid-stride; the kernels need the driver only.
/// </summary>
internal static class PadKernels
{
    public const string Module = "pad.ptx";
    public const string ForwardEntry = "pad_f32";
    public const string BackwardEntry = "pad_backward_f32";

    /// <summary>pad_f32's arguments in .param order: y, x (.u64), the output count, the geometry (.u32), mode (.u32), value (.f32).</summary>
    public static KernelArgumentPack ForwardPack(ulong y, ulong x, in PadGeometry g)
    {
        CheckFits(g);
        var args = new KernelArgumentPack();
        args.Add(y).Add(x).Add((uint)g.OutCount);
        AddGeometry(ref args, g);
        args.Add(g.Value);
        return args;
    }

    /// <summary>pad_backward_f32's arguments in .param order: dx, dy (.u64), the input count, the geometry and mode (.u32), accumulate (.u32).</summary>
    public static KernelArgumentPack BackwardPack(ulong dx, ulong dy, in PadGeometry g, bool accumulate)
    {
        CheckFits(g);
        var args = new KernelArgumentPack();
        args.Add(dx).Add(dy).Add((uint)g.InCount);
        AddGeometry(ref args, g);
        args.Add(accumulate ? 1u : 0u);
        return args;
    }

    /// <summary><see cref="ForwardPack"/> boxed, for the interpreter tests.</summary>
    public static object[] ForwardArguments(ulong y, ulong x, in PadGeometry g) => ForwardPack(y, x, g).ToObjects();

    /// <summary><see cref="BackwardPack"/> boxed, for the interpreter tests.</summary>
    public static object[] BackwardArguments(ulong dx, ulong dy, in PadGeometry g, bool accumulate) => BackwardPack(dx, dy, g, accumulate).ToObjects();

    /// <summary>Input and output extents and the pads before (depth, height, width each), then the mode (0 constant, 1 reflect, 2 replicate, 3 circular).</summary>
    static void AddGeometry(ref KernelArgumentPack args, in PadGeometry g) =>
        args.Add((uint)g.InD).Add((uint)g.InH).Add((uint)g.InW).Add((uint)g.OutD).Add((uint)g.OutH).Add((uint)g.OutW)
            .Add((uint)g.BeginD).Add((uint)g.BeginH).Add((uint)g.BeginW).Add((uint)g.Mode);

    /// <summary>
    /// The kernels index in 32 bits (element counts, and idx + grid stride, below 2^31). The engine refuses larger pads by
    /// the caller's parameter name first; reaching this is a bug in GpuConv, not bad input.
    /// </summary>
    static void CheckFits(in PadGeometry g)
    {
        if (g.OutCount > int.MaxValue || g.InCount > int.MaxValue)
            throw new InvalidOperationException($"pad geometry of {g.InCount} input and {g.OutCount} output elements reached the 32-bit kernels (the engine admits fewer than 2^31).");
    }

    /// <summary>y = pad(x), ordered on the runtime's stream.</summary>
    public static void LaunchForward(IPtxRuntime runtime, ulong y, ulong x, in PadGeometry g)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = ForwardPack(y, x, g);
        runtime.Launch(Module, ForwardEntry, Grid(g.OutCount), PtxConvBackend.BlockSize, args);
    }

    /// <summary>dx (=, or += with <paramref name="accumulate"/>) the gradient of pad from dy, ordered on the runtime's stream.</summary>
    public static void LaunchBackward(IPtxRuntime runtime, ulong dx, ulong dy, in PadGeometry g, bool accumulate)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = BackwardPack(dx, dy, g, accumulate);
        runtime.Launch(Module, BackwardEntry, Grid(g.InCount), PtxConvBackend.BlockSize, args);
    }

    static uint Grid(long count) => (uint)Math.Clamp((count + PtxConvBackend.BlockSize - 1) / PtxConvBackend.BlockSize, 1, PtxConvBackend.MaxBlocks);
}
