using GpuConv.Cuda;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// Launches of kernels/groupnorm.ptx on the runtime's stream (no wait): the per-(n, group) kernels (statistics; the
/// backward's sums and dx) one block of <see cref="Cpu.Layers.CpuGroupNorm.Threads"/> threads per unit, the affine gradients
/// one such block per channel, the normalisation one thread per element, grid-stride. The kernels need the driver only,
/// so every GPU engine has them. Their definitions are <see cref="Cpu.Layers.CpuGroupNorm"/>'s, bit for bit.
/// </summary>
internal static class GroupNormKernels
{
    public const string Module = "groupnorm.ptx";
    public const string StatisticsEntry = "groupnorm_stats_f32";
    public const string NormalizeEntry = "groupnorm_normalize_f32";
    public const string BackwardDataEntry = "groupnorm_backward_data_f32";
    public const string BackwardAffineEntry = "groupnorm_backward_affine_f32";

    /// <summary>The statistics' arguments: x, mean, rstd, units, group size, eps.</summary>
    public static KernelArgumentPack StatisticsPack(GroupNormShape s, ulong x, ulong mean, ulong rstd, float eps)
    {
        CheckFits(s);
        var args = new KernelArgumentPack();
        args.Add(x).Add(mean).Add(rstd).Add((uint)s.Units).Add((uint)s.GroupSize).Add(eps);
        return args;
    }

    /// <summary><see cref="StatisticsPack"/> boxed, for the interpreter tests.</summary>
    public static object[] StatisticsArguments(GroupNormShape s, ulong x, ulong mean, ulong rstd, float eps) =>
        StatisticsPack(s, x, mean, rstd, eps).ToObjects();

    /// <summary>Mean and rstd of every (n, group).</summary>
    public static void LaunchStatistics(IPtxRuntime runtime, GroupNormShape s, ulong x, ulong mean, ulong rstd, float eps)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = StatisticsPack(s, x, mean, rstd, eps);
        runtime.Launch(Module, StatisticsEntry, Grid(s.Units), Cpu.Layers.CpuGroupNorm.Threads, args);
    }

    /// <summary>The normalisation's arguments: y, x, mean, rstd, gamma, beta (0: none), total, channels, spatial, group size.</summary>
    public static KernelArgumentPack NormalizePack(GroupNormShape s, ulong x, ulong y, ulong mean, ulong rstd, ulong gamma, ulong beta)
    {
        CheckFits(s);
        var args = new KernelArgumentPack();
        args.Add(y).Add(x).Add(mean).Add(rstd).Add(gamma).Add(beta)
            .Add((uint)s.Elements).Add((uint)s.Channels).Add((uint)s.Spatial).Add((uint)s.GroupSize);
        return args;
    }

    /// <summary><see cref="NormalizePack"/> boxed, for the interpreter tests.</summary>
    public static object[] NormalizeArguments(GroupNormShape s, ulong x, ulong y, ulong mean, ulong rstd, ulong gamma, ulong beta) =>
        NormalizePack(s, x, y, mean, rstd, gamma, beta).ToObjects();

    /// <summary>y from x and the per-unit statistics the statistics kernel wrote (ordered after it on the stream).</summary>
    public static void LaunchNormalize(IPtxRuntime runtime, GroupNormShape s, ulong x, ulong y, ulong mean, ulong rstd, ulong gamma, ulong beta)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = NormalizePack(s, x, y, mean, rstd, gamma, beta);
        runtime.Launch(Module, NormalizeEntry, ElementGrid(s), PtxConvBackend.BlockSize, args);
    }

    /// <summary>dx's arguments: dx, dy, x, mean, rstd, gamma (0: none), units, group size, channels, spatial.</summary>
    public static KernelArgumentPack BackwardDataPack(GroupNormShape s, ulong dy, ulong x, ulong mean, ulong rstd, ulong gamma, ulong dx)
    {
        CheckFits(s);
        var args = new KernelArgumentPack();
        args.Add(dx).Add(dy).Add(x).Add(mean).Add(rstd).Add(gamma)
            .Add((uint)s.Units).Add((uint)s.GroupSize).Add((uint)s.Channels).Add((uint)s.Spatial);
        return args;
    }

    /// <summary><see cref="BackwardDataPack"/> boxed, for the interpreter tests.</summary>
    public static object[] BackwardDataArguments(GroupNormShape s, ulong dy, ulong x, ulong mean, ulong rstd, ulong gamma, ulong dx) =>
        BackwardDataPack(s, dy, x, mean, rstd, gamma, dx).ToObjects();

    /// <summary>dx of every (n, group): its two sums, then its elements, in one block.</summary>
    public static void LaunchBackwardData(IPtxRuntime runtime, GroupNormShape s, ulong dy, ulong x, ulong mean, ulong rstd, ulong gamma, ulong dx)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = BackwardDataPack(s, dy, x, mean, rstd, gamma, dx);
        runtime.Launch(Module, BackwardDataEntry, Grid(s.Units), Cpu.Layers.CpuGroupNorm.Threads, args);
    }

    /// <summary>The affine gradients' arguments: dweight, dbias, dy, x, mean, rstd, batch, channels, spatial, groups.</summary>
    public static KernelArgumentPack BackwardAffinePack(GroupNormShape s, ulong dy, ulong x, ulong mean, ulong rstd, ulong dWeight, ulong dBias)
    {
        CheckFits(s);
        var args = new KernelArgumentPack();
        args.Add(dWeight).Add(dBias).Add(dy).Add(x).Add(mean).Add(rstd)
            .Add((uint)s.Batch).Add((uint)s.Channels).Add((uint)s.Spatial).Add((uint)s.Groups);
        return args;
    }

    /// <summary><see cref="BackwardAffinePack"/> boxed, for the interpreter tests.</summary>
    public static object[] BackwardAffineArguments(GroupNormShape s, ulong dy, ulong x, ulong mean, ulong rstd, ulong dWeight, ulong dBias) =>
        BackwardAffinePack(s, dy, x, mean, rstd, dWeight, dBias).ToObjects();

    /// <summary>dweight and dbias of every channel.</summary>
    public static void LaunchBackwardAffine(IPtxRuntime runtime, GroupNormShape s, ulong dy, ulong x, ulong mean, ulong rstd, ulong dWeight, ulong dBias)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = BackwardAffinePack(s, dy, x, mean, rstd, dWeight, dBias);
        runtime.Launch(Module, BackwardAffineEntry, Grid(s.Channels), Cpu.Layers.CpuGroupNorm.Threads, args);
    }

    static uint Grid(int blocks) => (uint)Math.Min(blocks, (int)PtxConvBackend.MaxBlocks);

    static uint ElementGrid(GroupNormShape s) =>
        (uint)Math.Clamp((s.Elements + PtxConvBackend.BlockSize - 1) / PtxConvBackend.BlockSize, 1, PtxConvBackend.MaxBlocks);

    /// <summary>
    /// The kernels index in 32 bits (elements and idx + grid stride below 2^32). GroupNormSpec.ShapeOf already refuses
    /// larger tensors by the caller's parameter name; reaching this is a bug in GpuConv, not bad input.
    /// </summary>
    static void CheckFits(GroupNormShape s)
    {
        if (s.Elements > int.MaxValue || s.Batch < 1 || s.Channels < 1 || s.Spatial < 1 || s.Groups < 1 || s.Channels % s.Groups != 0)
            throw new InvalidOperationException($"group norm of [N, C, S] = [{s.Batch}, {s.Channels}, {s.Spatial}], {s.Groups} groups reached the 32-bit kernels (ShapeOf admits 1 to 2^31 − 1 elements, C divisible by the groups).");
    }
}
