using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// The channels-first LayerNorm on tensors in <see cref="Memory"/>, forward and backward: timm's LayerNorm2d and
/// ConvNeXt's LayerNorm(data_format="channels_first"), i.e. F.layer_norm(x.permute(0, 2, 3, 1), (C,), weight, bias,
/// eps).permute(0, 3, 1, 2) without the permutes. Inputs [N, C] or [N, C, spatial…] with 1–3 spatial dimensions;
/// every sample n and spatial position p is normalised over its C channels; weight and bias [C] (both or neither);
/// <see cref="LayerNormSpec"/> holds eps. The exact fp32 definition (summation order, two-pass statistics, the
/// formulas) is <see cref="CpuChannelLayerNorm"/>'s; a GPU gives the same bits (NaN payloads aside).
/// <para>
/// On a GPU each call is one or two kernels of kernels/layernorm.ptx on the engine's stream (forward: statistics and
/// output, one thread per (n, p); backward: dx likewise, then the affine gradients per channel when the layer is
/// affine) and returns without waiting; on the CPU engine it is a loop that has finished on return. A device memory
/// that cannot launch kernels (the tests' stand-ins) goes through host copies and the same loops. Outputs are new
/// tensors or the caller's; a tensor a call writes must share no memory with another it reads or writes.
/// </para>
/// </summary>
public sealed partial class ConvEngine
{
    /// <summary>
    /// y = LayerNorm2d(x) (timm's LayerNorm2d, ConvNeXt's channels_first LayerNorm): per sample n and spatial position
    /// p, the mean and biased variance var_b (divided by C) of x[n, :, p]; y = (x − mean)/sqrt(var_b + eps)·weight[c] +
    /// bias[c] (weight and bias both null: 1 and 0). Returns y and the saved mean and rstd = 1/sqrt(var_b + eps), each
    /// [N, spatial…] (x's shape without dimension 1; [N] for an [N, C] x), for <see cref="ChannelLayerNormBackward"/>;
    /// each into the tensor given or a new one.
    /// </summary>
    public LayerNormResult ChannelLayerNorm(LayerNormSpec spec, Tensor x, Tensor? weight = null, Tensor? bias = null,
        Tensor? output = null, Tensor? savedMean = null, Tensor? savedRstd = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(x);
        spec.Validate();
        var s = ChannelLayerNormShape.Of(x.Shape, nameof(x));
        CheckResident(x, nameof(x));
        if ((weight is null) != (bias is null))
            throw new ArgumentException($"weight is {(weight is null ? "null" : "given")} but bias is {(bias is null ? "null" : "given")}; the channels-first LayerNorm takes both (affine) or neither.",
                weight is null ? nameof(weight) : nameof(bias));
        CheckLayerNormChannel(weight, s, nameof(weight));
        CheckLayerNormChannel(bias, s, nameof(bias));
        CheckLayerNormPositions(savedMean, x.Shape, nameof(savedMean));
        CheckLayerNormPositions(savedRstd, x.Shape, nameof(savedRstd));
        if (output is not null)
        {
            CheckTensorShape(output, x.Shape, nameof(output));
            CheckResident(output, nameof(output));
        }
        CheckSeparate("LayerNorm", [(output, nameof(output)), (savedMean, nameof(savedMean)), (savedRstd, nameof(savedRstd))],
            [(x, nameof(x)), (weight, nameof(weight)), (bias, nameof(bias))]);

        Tensor? y = null, mean = null, rstd = null;
        try
        {
            y = output ?? Memory.Allocate(x.Shape);
            mean = savedMean ?? Memory.Allocate(ChannelLayerNormShape.StatisticsShapeOf(x.Shape));
            rstd = savedRstd ?? Memory.Allocate(ChannelLayerNormShape.StatisticsShapeOf(x.Shape));
            using (EnterStream())
                if (Memory is IPtxRuntime rt)
                    ChannelLayerNormKernels.LaunchForward(rt, s, rt.PointerOf(x), rt.PointerOf(y), rt.PointerOf(mean), rt.PointerOf(rstd),
                        PointerOrZero(rt, weight), PointerOrZero(rt, bias), spec.EpsilonF32);
                else
                {
                    float[] hy = HostBuffer(y), hm = HostBuffer(mean), hr = HostBuffer(rstd);
                    CpuChannelLayerNorm.Forward(HostValues(x)!, s, spec.EpsilonF32, HostValues(weight), HostValues(bias), hy, hm, hr, HostWorkers);
                    StoreHost(hy, y);
                    StoreHost(hm, mean);
                    StoreHost(hr, rstd);
                }
            return new LayerNormResult(y, mean, rstd);
        }
        catch
        {
            if (output is null) (y as IDisposable)?.Dispose();
            if (savedMean is null) (mean as IDisposable)?.Dispose();
            if (savedRstd is null) (rstd as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The backward of <see cref="ChannelLayerNorm"/>: from dy = ∂loss/∂y, the forward's x, its saved mean and rstd
    /// ([N, spatial…]) and weight (null: not affine), dx = rstd·(w·dy − mean_c(w·dy) − x̂·mean_c(w·dy·x̂)) with
    /// x̂ = (x − mean)·rstd and the means over the C channels of each (n, p); when weight is given also
    /// dweight[c] = Σ dy·x̂ and dbias[c] = Σ dy over N and the spatial positions (null in the result otherwise, and
    /// dWeight/dBias must then be null). Each into the tensor given or a new one.
    /// </summary>
    public LayerNormGradients ChannelLayerNormBackward(LayerNormSpec spec, Tensor dy, Tensor x, Tensor savedMean, Tensor savedRstd, Tensor? weight,
        Tensor? dx = null, Tensor? dWeight = null, Tensor? dBias = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(dy);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(savedMean);
        ArgumentNullException.ThrowIfNull(savedRstd);
        spec.Validate();
        var s = ChannelLayerNormShape.Of(x.Shape, nameof(x));
        CheckTensorShape(dy, x.Shape, nameof(dy));
        CheckResident(dy, nameof(dy));
        CheckResident(x, nameof(x));
        CheckLayerNormPositions(savedMean, x.Shape, nameof(savedMean));
        CheckLayerNormPositions(savedRstd, x.Shape, nameof(savedRstd));
        CheckLayerNormChannel(weight, s, nameof(weight));
        if (dx is not null)
        {
            CheckTensorShape(dx, x.Shape, nameof(dx));
            CheckResident(dx, nameof(dx));
        }
        if (weight is null && (dWeight is not null || dBias is not null))
        {
            string name = dWeight is not null ? nameof(dWeight) : nameof(dBias);
            throw new ArgumentException($"{name} is given but weight is null: a LayerNorm without weight has no affine gradients.", name);
        }
        CheckLayerNormChannel(dWeight, s, nameof(dWeight));
        CheckLayerNormChannel(dBias, s, nameof(dBias));
        CheckSeparate("LayerNorm", [(dx, nameof(dx)), (dWeight, nameof(dWeight)), (dBias, nameof(dBias))],
            [(dy, nameof(dy)), (x, nameof(x)), (weight, nameof(weight)), (savedMean, nameof(savedMean)), (savedRstd, nameof(savedRstd))]);

        var (gx, gw, gb) = RunNormBackward(new ChannelLayerNormBackwardRun(s), s.Channels, dy, x, savedMean, savedRstd, weight, dx, dWeight, dBias);
        return new LayerNormGradients(gx, gw, gb);
    }

    /// <summary>Throws unless <paramref name="t"/> (when given) is a [C] tensor of this engine's memory, not disposed.</summary>
    void CheckLayerNormChannel(Tensor? t, ChannelLayerNormShape s, string name)
    {
        if (t is null) return;
        if (t.Shape.Rank != 1 || t.Shape.Dims[0] != s.Channels)
            throw new ArgumentException($"{name} has shape {t.Shape}, expected [{s.Channels}]: one value per channel of x (its dimension 1).", name);
        CheckResident(t, name);
    }

    /// <summary>Throws unless <paramref name="t"/> (when given) has x's shape without dimension 1 ([N, spatial…]) and is this engine's, not disposed.</summary>
    void CheckLayerNormPositions(Tensor? t, TensorShape x, string name)
    {
        if (t is null) return;
        bool same = t.Shape.Rank == x.Rank - 1 && t.Shape.Dims[0] == x.Dims[0];
        for (int d = 2; same && d < x.Rank; d++) same = t.Shape.Dims[d - 1] == x.Dims[d];
        if (!same)
            throw new ArgumentException($"{name} has shape {t.Shape}, expected {ChannelLayerNormShape.StatisticsShapeOf(x)}: one value per sample and spatial position (x's shape {x} without dimension 1).", name);
        CheckResident(t, name);
    }
}
