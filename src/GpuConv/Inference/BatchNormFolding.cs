using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Inference;

/// <summary>
/// Folds an eval-mode BatchNorm that follows a convolution into the convolution's weight and bias, so inference runs
/// one convolution (with a fused bias and ReLU) instead of a convolution and a per-channel affine map:
/// BN(conv(x, W) + b) = conv(x, W·s) + (b − mean)·s + beta with s = gamma / sqrt(var + eps) per output channel.
/// Computed in float64 and rounded once to float32 per value.
/// <para>
/// Plain, grouped and depthwise convolutions (weight [K, C/groups, k…]: output channel k is weight row k) and
/// transposed ones (PyTorch's layout [C_in, K/groups, k…]: output channel g·K/groups + j is column j of group g's rows)
/// are handled. Only a BatchNorm that follows the convolution folds this way (one before it does not, with zero padding).
/// </para>
/// </summary>
public static class BatchNormFolding
{
    /// <summary>
    /// The weight and bias of a convolution equal to <paramref name="batchNorm"/> applied to
    /// conv(<paramref name="spec"/>, x, <paramref name="weight"/>) + <paramref name="bias"/> (no bias: zero).
    /// The inputs are not changed. Throws <see cref="ArgumentException"/> naming the parameter for a weight that does not
    /// fit the spec, a bias or BatchNorm of another channel count, or invalid BatchNorm values.
    /// </summary>
    public static (HostTensor Weight, HostTensor Bias) Fold(ConvSpec spec, HostTensor weight, HostTensor? bias, BatchNormParameters batchNorm)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(batchNorm);
        int outChannels = OutputChannels(spec, weight.Shape);
        batchNorm.Validate();
        if (batchNorm.Channels != outChannels)
            throw new ArgumentException($"batchNorm has {batchNorm.Channels} channels but the convolution has {outChannels} output channels (weight {weight.Shape}{(spec.Transposed ? ", transposed" : "")}, groups {spec.Groups}).", nameof(batchNorm));
        if (bias is not null && bias.Shape.ElementCount != outChannels)
            throw new ArgumentException($"bias has shape {bias.Shape} but the convolution has {outChannels} output channels.", nameof(bias));

        var scale = new double[outChannels];
        var folded = new HostTensor(new TensorShape(outChannels));
        for (int k = 0; k < outChannels; k++)
        {
            scale[k] = batchNorm.Scale(k);
            double b = bias is null ? 0 : bias.Data[k];
            folded.Data[k] = (float)((b - batchNorm.RunningMean[k]) * scale[k] + batchNorm.Beta[k]);
        }

        var w = new HostTensor(weight.Shape);
        int taps = weight.Shape.ElementCountInt / (weight.Shape.Dims[0] * weight.Shape.Dims[1]);
        int rows = weight.Shape.Dims[0], cols = weight.Shape.Dims[1];
        int rowsPerGroup = rows / spec.Groups;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                // Plain: output channel = row. Transposed: rows are input channels; group r / rowsPerGroup, column c.
                int k = spec.Transposed ? r / rowsPerGroup * cols + c : r;
                int at = (r * cols + c) * taps;
                for (int t = 0; t < taps; t++) w.Data[at + t] = (float)(weight.Data[at + t] * scale[k]);
            }
        return (w, folded);
    }

    /// <summary>The convolution's output channels, after checking the weight against the spec.</summary>
    static int OutputChannels(ConvSpec spec, TensorShape w)
    {
        if (w.Rank != spec.Rank + 2)
            throw new ArgumentException($"weight has shape {w} but the spec has {spec.Rank} spatial dimensions (expected rank {spec.Rank + 2}).", "weight");
        for (int d = 0; d < spec.Rank; d++)
            if (w.Dims[2 + d] != spec.Kernel[d])
                throw new ArgumentException($"weight has shape {w} but the spec's kernel is [{string.Join(", ", spec.Kernel)}].", "weight");
        if (w.Dims[0] % spec.Groups != 0)
            throw new ArgumentException($"weight has shape {w}: its first dimension {w.Dims[0]} is not divisible by groups = {spec.Groups}.", "weight");
        return spec.Transposed ? w.Dims[1] * spec.Groups : w.Dims[0];
    }
}
