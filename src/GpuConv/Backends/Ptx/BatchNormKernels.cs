using GpuConv.Cuda;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// Launches of kernels/batchnorm.ptx on the runtime's stream (no wait): the per-channel reductions (training
/// statistics, the backward's two sums) one block of <see cref="Cpu.Layers.CpuBatchNorm.Threads"/> threads per channel, the
/// element-wise passes (normalisation, dx) one thread per element, grid-stride. The kernels need the driver only, so
/// every GPU engine has them. Their definitions are <see cref="Cpu.Layers.CpuBatchNorm"/>'s, bit for bit.
/// </summary>
internal static class BatchNormKernels
{
    public const string Module = "batchnorm.ptx";
    public const string StatisticsEntry = "batchnorm_stats_f32";
    public const string NormalizeEntry = "batchnorm_normalize_f32";
    public const string BackwardReduceEntry = "batchnorm_backward_reduce_f32";
    public const string BackwardDataEntry = "batchnorm_backward_data_f32";

    /// <summary>The statistics' arguments: x, mean, invstd, running mean and var (0: none), batch, channels, spatial, eps, momentum, keep.</summary>
    public static KernelArgumentPack StatisticsPack(BatchNormShape s, ulong x, ulong mean, ulong invStd, ulong runningMean, ulong runningVar, float eps, float momentum, float keep)
    {
        CheckFits(s);
        var args = new KernelArgumentPack();
        args.Add(x).Add(mean).Add(invStd).Add(runningMean).Add(runningVar)
            .Add((uint)s.Batch).Add((uint)s.Channels).Add((uint)s.Spatial).Add(eps).Add(momentum).Add(keep);
        return args;
    }

    /// <summary><see cref="StatisticsPack"/> boxed, for the interpreter tests.</summary>
    public static object[] StatisticsArguments(BatchNormShape s, ulong x, ulong mean, ulong invStd, ulong runningMean, ulong runningVar, float eps, float momentum, float keep) =>
        StatisticsPack(s, x, mean, invStd, runningMean, runningVar, eps, momentum, keep).ToObjects();

    /// <summary>Mean and invstd of every channel of x (and the running statistics' update when runningMean is not 0).</summary>
    public static void LaunchStatistics(IPtxRuntime runtime, BatchNormShape s, ulong x, ulong mean, ulong invStd, ulong runningMean, ulong runningVar, float eps, float momentum, float keep)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = StatisticsPack(s, x, mean, invStd, runningMean, runningVar, eps, momentum, keep);
        runtime.Launch(Module, StatisticsEntry, ChannelGrid(s), Cpu.Layers.CpuBatchNorm.Threads, args);
    }

    /// <summary>The normalisation's arguments: y, x, mean, stat (invstd or running var), gamma, beta (0: none), total, channels, spatial, from_variance, eps.</summary>
    public static KernelArgumentPack NormalizePack(BatchNormShape s, ulong x, ulong y, ulong mean, ulong statistic, bool fromVariance, float eps, ulong gamma, ulong beta)
    {
        CheckFits(s);
        var args = new KernelArgumentPack();
        args.Add(y).Add(x).Add(mean).Add(statistic).Add(gamma).Add(beta)
            .Add((uint)s.Elements).Add((uint)s.Channels).Add((uint)s.Spatial).Add(fromVariance ? 1u : 0u).Add(eps);
        return args;
    }

    /// <summary><see cref="NormalizePack"/> boxed, for the interpreter tests.</summary>
    public static object[] NormalizeArguments(BatchNormShape s, ulong x, ulong y, ulong mean, ulong statistic, bool fromVariance, float eps, ulong gamma, ulong beta) =>
        NormalizePack(s, x, y, mean, statistic, fromVariance, eps, gamma, beta).ToObjects();

    /// <summary>y from x and per-channel statistics: invstd (training) or, with <paramref name="fromVariance"/>, the running variance (eval).</summary>
    public static void LaunchNormalize(IPtxRuntime runtime, BatchNormShape s, ulong x, ulong y, ulong mean, ulong statistic, bool fromVariance, float eps, ulong gamma, ulong beta)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = NormalizePack(s, x, y, mean, statistic, fromVariance, eps, gamma, beta);
        runtime.Launch(Module, NormalizeEntry, ElementGrid(s), PtxConvBackend.BlockSize, args);
    }

    /// <summary>The backward reduction's arguments: dy, x, mean, invstd, dgamma, dbeta, batch, channels, spatial.</summary>
    public static KernelArgumentPack BackwardReducePack(BatchNormShape s, ulong dy, ulong x, ulong mean, ulong invStd, ulong dGamma, ulong dBeta)
    {
        CheckFits(s);
        var args = new KernelArgumentPack();
        args.Add(dy).Add(x).Add(mean).Add(invStd).Add(dGamma).Add(dBeta).Add((uint)s.Batch).Add((uint)s.Channels).Add((uint)s.Spatial);
        return args;
    }

    /// <summary><see cref="BackwardReducePack"/> boxed, for the interpreter tests.</summary>
    public static object[] BackwardReduceArguments(BatchNormShape s, ulong dy, ulong x, ulong mean, ulong invStd, ulong dGamma, ulong dBeta) =>
        BackwardReducePack(s, dy, x, mean, invStd, dGamma, dBeta).ToObjects();

    /// <summary>dgamma and dbeta of every channel.</summary>
    public static void LaunchBackwardReduce(IPtxRuntime runtime, BatchNormShape s, ulong dy, ulong x, ulong mean, ulong invStd, ulong dGamma, ulong dBeta)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = BackwardReducePack(s, dy, x, mean, invStd, dGamma, dBeta);
        runtime.Launch(Module, BackwardReduceEntry, ChannelGrid(s), Cpu.Layers.CpuBatchNorm.Threads, args);
    }

    /// <summary>dx's arguments: dx, dy, x, mean, invstd, gamma (0: none), dgamma, dbeta, total, channels, spatial, n.</summary>
    public static KernelArgumentPack BackwardDataPack(BatchNormShape s, ulong dy, ulong x, ulong mean, ulong invStd, ulong gamma, ulong dGamma, ulong dBeta, ulong dx)
    {
        CheckFits(s);
        var args = new KernelArgumentPack();
        args.Add(dx).Add(dy).Add(x).Add(mean).Add(invStd).Add(gamma).Add(dGamma).Add(dBeta)
            .Add((uint)s.Elements).Add((uint)s.Channels).Add((uint)s.Spatial).Add((uint)s.PerChannel);
        return args;
    }

    /// <summary><see cref="BackwardDataPack"/> boxed, for the interpreter tests.</summary>
    public static object[] BackwardDataArguments(BatchNormShape s, ulong dy, ulong x, ulong mean, ulong invStd, ulong gamma, ulong dGamma, ulong dBeta, ulong dx) =>
        BackwardDataPack(s, dy, x, mean, invStd, gamma, dGamma, dBeta, dx).ToObjects();

    /// <summary>dx from dy, x, the saved statistics and the dgamma and dbeta the reduction wrote (ordered after it on the stream).</summary>
    public static void LaunchBackwardData(IPtxRuntime runtime, BatchNormShape s, ulong dy, ulong x, ulong mean, ulong invStd, ulong gamma, ulong dGamma, ulong dBeta, ulong dx)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var args = BackwardDataPack(s, dy, x, mean, invStd, gamma, dGamma, dBeta, dx);
        runtime.Launch(Module, BackwardDataEntry, ElementGrid(s), PtxConvBackend.BlockSize, args);
    }

    static uint ChannelGrid(BatchNormShape s) => (uint)Math.Min(s.Channels, (int)PtxConvBackend.MaxBlocks);

    static uint ElementGrid(BatchNormShape s) =>
        (uint)Math.Clamp((s.Elements + PtxConvBackend.BlockSize - 1) / PtxConvBackend.BlockSize, 1, PtxConvBackend.MaxBlocks);

    /// <summary>
    /// The kernels index in 32 bits (elements and idx + grid stride below 2^32). BatchNormSpec.ShapeOf already refuses
    /// larger tensors by the caller's parameter name; reaching this is a bug in GpuConv, not bad input.
    /// </summary>
    static void CheckFits(BatchNormShape s)
    {
        if (s.Elements > int.MaxValue || s.Batch < 1 || s.Channels < 1 || s.Spatial < 1)
            throw new InvalidOperationException($"batch norm of [N, C, S] = [{s.Batch}, {s.Channels}, {s.Spatial}] reached the 32-bit kernels (ShapeOf admits 1 to 2^31 − 1 elements).");
    }
}
