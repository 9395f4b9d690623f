using GpuConv.Cpu.Layers;
using GpuConv.Cuda;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// Launches of kernels/layernorm.ptx on the runtime's stream (no wait): the forward and the backward's dx one thread
/// per (sample, position), grid-stride; the affine gradients one block of <see cref="CpuChannelLayerNorm.Threads"/>
/// threads per channel. The kernels need the driver only, so every GPU engine has them. Their definitions are
/// <see cref="CpuChannelLayerNorm"/>'s, bit for bit.
/// </summary>
internal static class ChannelLayerNormKernels
{
    public const string Module = "layernorm.ptx";
    public const string ForwardEntry = "layernorm_forward_f32";
    public const string BackwardDataEntry = "layernorm_backward_data_f32";
    public const string BackwardAffineEntry = "layernorm_backward_affine_f32";

    /// <summary>The forward's arguments: y, x, mean, rstd, gamma, beta (0: none), N·P, channels, positions, eps.</summary>
    public static KernelArgumentPack ForwardPack(ChannelLayerNormShape s, ulong x, ulong y, ulong mean, ulong rstd, ulong gamma, ulong beta, float eps)
    {
        CheckFits(s);
        var args = new KernelArgumentPack();
        args.Add(y).Add(x).Add(mean).Add(rstd).Add(gamma).Add(beta)
            .Add((uint)s.BatchPositions).Add((uint)s.Channels).Add((uint)s.Positions).Add(eps);
        return args;
    }

    /// <summary><see cref="ForwardPack"/> boxed, for the interpreter tests.</summary>
    public static object[] ForwardArguments(ChannelLayerNormShape s, ulong x, ulong y, ulong mean, ulong rstd, ulong gamma, ulong beta, float eps) =>
        ForwardPack(s, x, y, mean, rstd, gamma, beta, eps).ToObjects();

    /// <summary>Mean, rstd and y of every (n, p).</summary>
    public static void LaunchForward(IPtxRuntime runtime, ChannelLayerNormShape s, ulong x, ulong y, ulong mean, ulong rstd, ulong gamma, ulong beta, float eps)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = ForwardPack(s, x, y, mean, rstd, gamma, beta, eps);
        runtime.Launch(Module, ForwardEntry, PositionGrid(s), PtxConvBackend.BlockSize, args);
    }

    /// <summary>dx's arguments: dx, dy, x, mean, rstd, gamma (0: none), N·P, channels, positions.</summary>
    public static KernelArgumentPack BackwardDataPack(ChannelLayerNormShape s, ulong dy, ulong x, ulong mean, ulong rstd, ulong gamma, ulong dx)
    {
        CheckFits(s);
        var args = new KernelArgumentPack();
        args.Add(dx).Add(dy).Add(x).Add(mean).Add(rstd).Add(gamma)
            .Add((uint)s.BatchPositions).Add((uint)s.Channels).Add((uint)s.Positions);
        return args;
    }

    /// <summary><see cref="BackwardDataPack"/> boxed, for the interpreter tests.</summary>
    public static object[] BackwardDataArguments(ChannelLayerNormShape s, ulong dy, ulong x, ulong mean, ulong rstd, ulong gamma, ulong dx) =>
        BackwardDataPack(s, dy, x, mean, rstd, gamma, dx).ToObjects();

    /// <summary>dx of every (n, p): its two sums over the channels, then its C values.</summary>
    public static void LaunchBackwardData(IPtxRuntime runtime, ChannelLayerNormShape s, ulong dy, ulong x, ulong mean, ulong rstd, ulong gamma, ulong dx)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = BackwardDataPack(s, dy, x, mean, rstd, gamma, dx);
        runtime.Launch(Module, BackwardDataEntry, PositionGrid(s), PtxConvBackend.BlockSize, args);
    }

    /// <summary>The affine gradients' arguments: dweight, dbias, dy, x, mean, rstd, batch, channels, positions.</summary>
    public static KernelArgumentPack BackwardAffinePack(ChannelLayerNormShape s, ulong dy, ulong x, ulong mean, ulong rstd, ulong dWeight, ulong dBias)
    {
        CheckFits(s);
        var args = new KernelArgumentPack();
        args.Add(dWeight).Add(dBias).Add(dy).Add(x).Add(mean).Add(rstd)
            .Add((uint)s.Batch).Add((uint)s.Channels).Add((uint)s.Positions);
        return args;
    }

    /// <summary><see cref="BackwardAffinePack"/> boxed, for the interpreter tests.</summary>
    public static object[] BackwardAffineArguments(ChannelLayerNormShape s, ulong dy, ulong x, ulong mean, ulong rstd, ulong dWeight, ulong dBias) =>
        BackwardAffinePack(s, dy, x, mean, rstd, dWeight, dBias).ToObjects();

    /// <summary>dweight and dbias of every channel.</summary>
    public static void LaunchBackwardAffine(IPtxRuntime runtime, ChannelLayerNormShape s, ulong dy, ulong x, ulong mean, ulong rstd, ulong dWeight, ulong dBias)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = BackwardAffinePack(s, dy, x, mean, rstd, dWeight, dBias);
        runtime.Launch(Module, BackwardAffineEntry, (uint)Math.Min(s.Channels, (int)PtxConvBackend.MaxBlocks), CpuChannelLayerNorm.Threads, args);
    }

    static uint PositionGrid(ChannelLayerNormShape s) =>
        (uint)Math.Clamp((s.BatchPositions + PtxConvBackend.BlockSize - 1) / PtxConvBackend.BlockSize, 1, PtxConvBackend.MaxBlocks);

    /// <summary>
    /// The kernels index in 32 bits (elements and j + grid stride below 2^32). ChannelLayerNormShape.Of already refuses
    /// larger tensors by the caller's parameter name; reaching this is a bug in GpuConv, not bad input.
    /// </summary>
    static void CheckFits(ChannelLayerNormShape s)
    {
        if (s.Elements > int.MaxValue || s.Batch < 1 || s.Channels < 1 || s.Positions < 1)
            throw new InvalidOperationException($"channels-first layer norm of [N, C, P] = [{s.Batch}, {s.Channels}, {s.Positions}] reached the 32-bit kernels (ChannelLayerNormShape.Of admits 1 to 2^31 − 1 elements).");
    }
}
