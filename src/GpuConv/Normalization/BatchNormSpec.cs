using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// The constants of a BatchNorm layer (torch.nn.BatchNorm{1,2,3}d's eps and momentum) for
/// <see cref="ConvEngine.BatchNormTraining"/> and <see cref="ConvEngine.BatchNormInference"/>.
/// <para>
/// <see cref="Epsilon"/> is added to the variance before the square root; the engine rounds it to fp32 (its
/// statistics are fp32, as cuDNN's), so it must stay positive there. <see cref="Momentum"/> is PyTorch's: the running
/// statistics become (1 − momentum)·running + momentum·batch. PyTorch's momentum=None (a cumulative average) is not offered.
/// </para>
/// </summary>
public sealed record BatchNormSpec(double Epsilon = 1e-5, double Momentum = 0.1)
{
    /// <summary>Inputs of a BatchNorm: [N, C] and up to 3 spatial dimensions (BatchNorm1d takes [N, C] and [N, C, L]).</summary>
    public const int MaxRank = 5;

    /// <summary>Throws <see cref="ArgumentException"/> naming the field: Epsilon not positive and finite (also after rounding to fp32), Momentum NaN or outside [0, 1].</summary>
    public void Validate()
    {
        if (!(Epsilon > 0) || double.IsInfinity(Epsilon) || (float)Epsilon == 0 || float.IsInfinity((float)Epsilon))
            throw new ArgumentException($"Epsilon must be positive and finite in fp32 (the engine adds it to fp32 variances), got {Epsilon}.", nameof(Epsilon));
        if (!(Momentum >= 0 && Momentum <= 1))
            throw new ArgumentException($"Momentum must be in [0, 1] (PyTorch's running-statistics factor), got {Momentum}.", nameof(Momentum));
    }

    /// <summary>Epsilon as the kernels and CPU loops add it.</summary>
    internal float EpsilonF32 => (float)Epsilon;

    /// <summary>Momentum and 1 − momentum (computed in float64, then rounded) as the running-statistics update uses them.</summary>
    internal (float Momentum, float Keep) MomentumF32 => ((float)Momentum, (float)(1 - Momentum));

    /// <summary>
    /// The shape of a BatchNorm input: [N, C, spatial…] with rank 2 to <see cref="MaxRank"/>; throws naming
    /// <paramref name="name"/> otherwise. Returns N, C and the product of the spatial dimensions (1 for [N, C]).
    /// </summary>
    internal static BatchNormShape ShapeOf(TensorShape shape, string name)
    {
        if (shape.Rank is < 2 or > MaxRank)
            throw new ArgumentException($"{name} has shape {shape}; BatchNorm takes [N, C] with 0 to 3 spatial dimensions (rank 2 to {MaxRank}).", name);
        long spatial = 1;
        for (int d = 2; d < shape.Rank; d++) spatial *= shape.Dims[d];
        if (shape.ElementCount > int.MaxValue)
            throw new ArgumentException($"{name} has shape {shape}: {shape.ElementCount} elements; BatchNorm takes fewer than 2^31.", name);
        return new BatchNormShape(shape.Dims[0], shape.Dims[1], (int)spatial);
    }
}

/// <summary>A BatchNorm input's [N, C, S]: batch, channels and spatial positions per (n, c) plane.</summary>
internal readonly record struct BatchNormShape(int Batch, int Channels, int Spatial)
{
    /// <summary>Values per channel, N·S, which the statistics average over.</summary>
    public long PerChannel => (long)Batch * Spatial;

    public long Elements => PerChannel * Channels;
}
