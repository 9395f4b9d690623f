using GpuConv.Cuda;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// Launches of kernels/channel_scale.ptx on the runtime's stream (no wait): the per-plane scale one thread per element
/// (grid-stride), the gradient's per-plane dot products one 256-thread block per plane. Driver only, so every GPU engine has them.
/// </summary>
internal static class ChannelScaleKernels
{
    public const string Module = "channel_scale.ptx";
    public const string ScaleEntry = "channel_scale_f32";
    public const string DotEntry = "channel_dot_f32";

    /// <summary>channel_scale_f32's arguments: out, x, scale (.u64 pointers), count, spatial (.u64).</summary>
    public static KernelArgumentPack ScalePack(ulong output, ulong x, ulong scale, long planes, long spatial)
    {
        var args = new KernelArgumentPack();
        args.Add(output).Add(x).Add(scale).Add((ulong)(planes * spatial)).Add((ulong)spatial);
        return args;
    }

    /// <summary>channel_dot_f32's arguments: dot, dy, x (.u64 pointers), planes, spatial (.u64).</summary>
    public static KernelArgumentPack DotPack(ulong dot, ulong dy, ulong x, long planes, long spatial)
    {
        var args = new KernelArgumentPack();
        args.Add(dot).Add(dy).Add(x).Add((ulong)planes).Add((ulong)spatial);
        return args;
    }

    /// <summary>output = x · scale[plane] (output may be x), ordered on the runtime's stream.</summary>
    public static void LaunchScale(IPtxRuntime runtime, ulong output, ulong x, ulong scale, long planes, long spatial)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        long count = planes * spatial;
        if (count == 0) return;
        uint grid = (uint)Math.Clamp((count + PtxConvBackend.BlockSize - 1) / PtxConvBackend.BlockSize, 1, PtxConvBackend.MaxBlocks);
        runtime.Launch(Module, ScaleEntry, grid, PtxConvBackend.BlockSize, ScalePack(output, x, scale, planes, spatial));
    }

    /// <summary>dot[p] = Σ dy·x over plane p, one block of <see cref="Cpu.Layers.CpuChannelScale.DotThreads"/> threads per plane.</summary>
    public static void LaunchDot(IPtxRuntime runtime, ulong dot, ulong dy, ulong x, long planes, long spatial)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        if (planes == 0) return;
        uint grid = (uint)Math.Min(planes, PtxConvBackend.MaxBlocks);
        runtime.Launch(Module, DotEntry, grid, Cpu.Layers.CpuChannelScale.DotThreads, DotPack(dot, dy, x, planes, spatial));
    }
}
