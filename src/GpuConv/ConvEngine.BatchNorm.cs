using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// BatchNorm on tensors in <see cref="Memory"/>, training and eval mode, so a ResNet or MobileNet training step stays on
/// the device: torch.nn.functional.batch_norm's semantics (<see cref="BatchNormSpec"/> for eps and momentum), inputs
/// [N, C] or [N, C, spatial…] with 1–3 spatial dimensions, per-channel tensors [C]. The exact fp32 definition (summation
/// order, two-pass statistics, the formulas) is <see cref="CpuBatchNorm"/>'s; a GPU gives the same bits (NaN payloads aside).
/// <para>
/// On a GPU each call is two kernels of kernels/batchnorm.ptx on the engine's stream (a per-channel reduction, then an
/// element-wise pass; eval mode one) and returns without waiting; on the CPU engine it is a loop that has finished on return.
/// A device memory that cannot launch kernels (the tests' stand-ins) goes through host copies and the same loops.
/// Outputs are new tensors or the caller's; a tensor a call writes must share no memory with another it reads or writes.
/// </para>
/// </summary>
public sealed partial class ConvEngine
{
    /// <summary>
    /// Training mode (batch_norm(x, running_mean, running_var, gamma, beta, training=True, momentum, eps)): per channel c
    /// over N and the spatial positions, mean and biased variance var_b; y = (x − mean)/sqrt(var_b + eps)·gamma + beta
    /// (gamma null: 1, beta null: 0 — affine=False). With running statistics (both or neither), in place:
    /// running_mean = (1 − momentum)·running_mean + momentum·mean, running_var = (1 − momentum)·running_var +
    /// momentum·var_b·n/(n − 1). Needs n = N·spatial &gt; 1 (PyTorch's "Expected more than 1 value per channel when
    /// training"). Returns y and the saved mean and 1/sqrt(var_b + eps) for <see cref="BatchNormBackward"/>, each into the
    /// tensor given or a new one.
    /// </summary>
    public BatchNormTrainingResult BatchNormTraining(BatchNormSpec spec, Tensor x, Tensor? gamma = null, Tensor? beta = null,
        Tensor? runningMean = null, Tensor? runningVar = null, Tensor? output = null, Tensor? savedMean = null, Tensor? savedInvStd = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(x);
        spec.Validate();
        var s = BatchNormSpec.ShapeOf(x.Shape, nameof(x));
        if (s.PerChannel < 2)
            throw new ArgumentException($"x has shape {x.Shape}: {s.PerChannel} value per channel (N·spatial); training needs more than 1 value per channel (PyTorch: \"Expected more than 1 value per channel when training\").", nameof(x));
        if ((runningMean is null) != (runningVar is null))
            throw new ArgumentException($"runningMean is {(runningMean is null ? "null" : "given")} but runningVar is {(runningVar is null ? "null" : "given")}; pass both running statistics or neither.",
                runningMean is null ? nameof(runningMean) : nameof(runningVar));
        CheckResident(x, nameof(x));
        CheckChannelTensor(gamma, s, nameof(gamma));
        CheckChannelTensor(beta, s, nameof(beta));
        CheckChannelTensor(runningMean, s, nameof(runningMean));
        CheckChannelTensor(runningVar, s, nameof(runningVar));
        CheckChannelTensor(savedMean, s, nameof(savedMean));
        CheckChannelTensor(savedInvStd, s, nameof(savedInvStd));
        if (output is not null)
        {
            CheckTensorShape(output, x.Shape, nameof(output));
            CheckResident(output, nameof(output));
        }
        CheckSeparate("BatchNorm",
            [(output, nameof(output)), (savedMean, nameof(savedMean)), (savedInvStd, nameof(savedInvStd)), (runningMean, nameof(runningMean)), (runningVar, nameof(runningVar))],
            [(x, nameof(x)), (gamma, nameof(gamma)), (beta, nameof(beta))]);

        var channelShape = new TensorShape(s.Channels);
        Tensor? y = null, mean = null, invStd = null;
        try
        {
            y = output ?? Memory.Allocate(x.Shape);
            mean = savedMean ?? Memory.Allocate(channelShape);
            invStd = savedInvStd ?? Memory.Allocate(channelShape);
            var (momentum, keep) = spec.MomentumF32;
            using (EnterStream())
                if (Memory is IPtxRuntime rt)
                {
                    BatchNormKernels.LaunchStatistics(rt, s, rt.PointerOf(x), rt.PointerOf(mean), rt.PointerOf(invStd),
                        PointerOrZero(rt, runningMean), PointerOrZero(rt, runningVar), spec.EpsilonF32, momentum, keep);
                    BatchNormKernels.LaunchNormalize(rt, s, rt.PointerOf(x), rt.PointerOf(y), rt.PointerOf(mean), rt.PointerOf(invStd),
                        fromVariance: false, spec.EpsilonF32, PointerOrZero(rt, gamma), PointerOrZero(rt, beta));
                }
                else
                {
                    float[] hx = HostValues(x)!, hy = HostBuffer(y), hm = HostBuffer(mean), hi = HostBuffer(invStd);
                    float[]? hrm = HostValues(runningMean), hrv = HostValues(runningVar);
                    CpuBatchNorm.Statistics(hx, s, spec.EpsilonF32, hm, hi, hrm, hrv, momentum, keep, HostWorkers);
                    CpuBatchNorm.Normalize(hx, hy, s, hm, hi, fromVariance: false, spec.EpsilonF32, HostValues(gamma), HostValues(beta), HostWorkers);
                    StoreHost(hy, y);
                    StoreHost(hm, mean);
                    StoreHost(hi, invStd);
                    if (runningMean is not null) StoreHost(hrm!, runningMean);
                    if (runningVar is not null) StoreHost(hrv!, runningVar);
                }
            return new BatchNormTrainingResult(y, mean, invStd);
        }
        catch
        {
            if (output is null) (y as IDisposable)?.Dispose();
            if (savedMean is null) (mean as IDisposable)?.Dispose();
            if (savedInvStd is null) (invStd as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Eval mode (batch_norm(…, training=False)) without folding into a convolution: y = (x − running_mean)/sqrt(running_var
    /// + eps)·gamma + beta (gamma null: 1, beta null: 0); the spec's momentum is not used. Into <paramref name="output"/> or a new tensor; returns it.
    /// </summary>
    public Tensor BatchNormInference(BatchNormSpec spec, Tensor x, Tensor? gamma, Tensor? beta, Tensor runningMean, Tensor runningVar, Tensor? output = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(runningMean);
        ArgumentNullException.ThrowIfNull(runningVar);
        spec.Validate();
        var s = BatchNormSpec.ShapeOf(x.Shape, nameof(x));
        CheckResident(x, nameof(x));
        CheckChannelTensor(gamma, s, nameof(gamma));
        CheckChannelTensor(beta, s, nameof(beta));
        CheckChannelTensor(runningMean, s, nameof(runningMean));
        CheckChannelTensor(runningVar, s, nameof(runningVar));
        if (output is not null)
        {
            CheckTensorShape(output, x.Shape, nameof(output));
            CheckResident(output, nameof(output));
        }
        CheckSeparate("BatchNorm", [(output, nameof(output))],
            [(x, nameof(x)), (gamma, nameof(gamma)), (beta, nameof(beta)), (runningMean, nameof(runningMean)), (runningVar, nameof(runningVar))]);
        var y = output ?? Memory.Allocate(x.Shape);
        try
        {
            using (EnterStream())
                if (Memory is IPtxRuntime rt)
                    BatchNormKernels.LaunchNormalize(rt, s, rt.PointerOf(x), rt.PointerOf(y), rt.PointerOf(runningMean), rt.PointerOf(runningVar),
                        fromVariance: true, spec.EpsilonF32, PointerOrZero(rt, gamma), PointerOrZero(rt, beta));
                else
                {
                    var hy = HostBuffer(y);
                    CpuBatchNorm.Normalize(HostValues(x)!, hy, s, HostValues(runningMean)!, HostValues(runningVar)!, fromVariance: true, spec.EpsilonF32,
                        HostValues(gamma), HostValues(beta), HostWorkers);
                    StoreHost(hy, y);
                }
            return y;
        }
        catch
        {
            if (output is null) ((IDisposable)y).Dispose();
            throw;
        }
    }

    /// <summary>
    /// The training-mode backward of <see cref="BatchNormTraining"/>: from dy = ∂loss/∂y, the forward's x, gamma (null: 1)
    /// and its saved mean and inverse std, dbeta = Σdy, dgamma = Σdy·x̂ (x̂ = (x − mean)·invstd) and
    /// dx = invstd·gamma/n·(n·dy − Σdy − x̂·Σ(dy·x̂)), sums per channel over N and the spatial positions — PyTorch's
    /// batch_norm backward. dgamma and dbeta are returned with gamma null too. Each into the tensor given or a new one.
    /// </summary>
    public BatchNormGradients BatchNormBackward(Tensor dy, Tensor x, Tensor? gamma, Tensor savedMean, Tensor savedInvStd,
        Tensor? dx = null, Tensor? dGamma = null, Tensor? dBeta = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(dy);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(savedMean);
        ArgumentNullException.ThrowIfNull(savedInvStd);
        var s = BatchNormSpec.ShapeOf(x.Shape, nameof(x));
        CheckTensorShape(dy, x.Shape, nameof(dy));
        CheckResident(dy, nameof(dy));
        CheckResident(x, nameof(x));
        CheckChannelTensor(gamma, s, nameof(gamma));
        CheckChannelTensor(savedMean, s, nameof(savedMean));
        CheckChannelTensor(savedInvStd, s, nameof(savedInvStd));
        if (dx is not null)
        {
            CheckTensorShape(dx, x.Shape, nameof(dx));
            CheckResident(dx, nameof(dx));
        }
        CheckChannelTensor(dGamma, s, nameof(dGamma));
        CheckChannelTensor(dBeta, s, nameof(dBeta));
        CheckSeparate("BatchNorm", [(dx, nameof(dx)), (dGamma, nameof(dGamma)), (dBeta, nameof(dBeta))],
            [(dy, nameof(dy)), (x, nameof(x)), (gamma, nameof(gamma)), (savedMean, nameof(savedMean)), (savedInvStd, nameof(savedInvStd))]);

        var channelShape = new TensorShape(s.Channels);
        Tensor? gx = null, gg = null, gb = null;
        try
        {
            gx = dx ?? Memory.Allocate(x.Shape);
            gg = dGamma ?? Memory.Allocate(channelShape);
            gb = dBeta ?? Memory.Allocate(channelShape);
            using (EnterStream())
                if (Memory is IPtxRuntime rt)
                {
                    BatchNormKernels.LaunchBackwardReduce(rt, s, rt.PointerOf(dy), rt.PointerOf(x), rt.PointerOf(savedMean), rt.PointerOf(savedInvStd),
                        rt.PointerOf(gg), rt.PointerOf(gb));
                    BatchNormKernels.LaunchBackwardData(rt, s, rt.PointerOf(dy), rt.PointerOf(x), rt.PointerOf(savedMean), rt.PointerOf(savedInvStd),
                        PointerOrZero(rt, gamma), rt.PointerOf(gg), rt.PointerOf(gb), rt.PointerOf(gx));
                }
                else
                {
                    float[] hdx = HostBuffer(gx), hdg = HostBuffer(gg), hdb = HostBuffer(gb);
                    CpuBatchNorm.Backward(HostValues(dy)!, HostValues(x)!, s, HostValues(savedMean)!, HostValues(savedInvStd)!, HostValues(gamma),
                        hdx, hdg, hdb, HostWorkers);
                    StoreHost(hdx, gx);
                    StoreHost(hdg, gg);
                    StoreHost(hdb, gb);
                }
            return new BatchNormGradients(gx, gg, gb);
        }
        catch
        {
            if (dx is null) (gx as IDisposable)?.Dispose();
            if (dGamma is null) (gg as IDisposable)?.Dispose();
            if (dBeta is null) (gb as IDisposable)?.Dispose();
            throw;
        }
    }

    static ulong PointerOrZero(IPtxRuntime rt, Tensor? t) => t is null ? 0 : rt.PointerOf(t);

    /// <summary>Throws unless <paramref name="t"/> (when given) is a [C] tensor of this engine's memory, not disposed.</summary>
    void CheckChannelTensor(Tensor? t, BatchNormShape s, string name)
    {
        if (t is null) return;
        if (t.Shape.Rank != 1 || t.Shape.Dims[0] != s.Channels)
            throw new ArgumentException($"{name} has shape {t.Shape}, expected [{s.Channels}]: one value per channel of x (its dimension 1).", name);
        CheckResident(t, name);
    }
}
