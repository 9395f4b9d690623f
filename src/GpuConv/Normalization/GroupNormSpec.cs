using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// The constants of a GroupNorm layer (torch.nn.GroupNorm's num_groups and eps) for <see cref="ConvEngine.GroupNorm"/>
/// and <see cref="ConvEngine.GroupNormBackward"/>.
/// <para>
/// <see cref="Groups"/> splits the C channels into groups of C / Groups consecutive channels; each (sample, group)
/// is normalised over its channels and spatial positions. <see cref="Epsilon"/> is added to the biased variance before
/// the square root; the engine rounds it to fp32 (its statistics are fp32, as PyTorch's), so it must stay positive there.
/// </para>
/// </summary>
public sealed record GroupNormSpec(int Groups, double Epsilon = 1e-5)
{
    /// <summary>Inputs of a GroupNorm: [N, C] and up to 3 spatial dimensions.</summary>
    public const int MaxRank = 5;

    /// <summary>Throws <see cref="ArgumentException"/> naming the field: Groups below 1, Epsilon not positive and finite (also after rounding to fp32).</summary>
    public void Validate()
    {
        if (Groups < 1)
            throw new ArgumentException($"Groups must be at least 1 (torch.nn.GroupNorm's num_groups), got {Groups}.", nameof(Groups));
        if (!(Epsilon > 0) || double.IsInfinity(Epsilon) || (float)Epsilon == 0 || float.IsInfinity((float)Epsilon))
            throw new ArgumentException($"Epsilon must be positive and finite in fp32 (the engine adds it to fp32 variances), got {Epsilon}.", nameof(Epsilon));
    }

    /// <summary>Epsilon as the kernels and CPU loops add it.</summary>
    internal float EpsilonF32 => (float)Epsilon;

    /// <summary>
    /// The shape of a GroupNorm input: [N, C, spatial…] with rank 2 to <see cref="MaxRank"/> and C divisible by
    /// <see cref="Groups"/>; throws naming <paramref name="name"/> otherwise (call <see cref="Validate"/> first).
    /// </summary>
    internal GroupNormShape ShapeOf(TensorShape shape, string name)
    {
        if (shape.Rank is < 2 or > MaxRank)
            throw new ArgumentException($"{name} has shape {shape}; GroupNorm takes [N, C] with 0 to 3 spatial dimensions (rank 2 to {MaxRank}).", name);
        if (shape.ElementCount > int.MaxValue)
            throw new ArgumentException($"{name} has shape {shape}: {shape.ElementCount} elements; GroupNorm takes fewer than 2^31.", name);
        int channels = shape.Dims[1];
        if (channels % Groups != 0)
            throw new ArgumentException($"{name} has shape {shape}: C = {channels} channels is not divisible by Groups = {Groups}.", name);
        long spatial = 1;
        for (int d = 2; d < shape.Rank; d++) spatial *= shape.Dims[d];
        return new GroupNormShape(shape.Dims[0], channels, (int)spatial, Groups);
    }
}

/// <summary>
/// A GroupNorm input's [N, C, S] (S the product of the spatial dimensions) and its G groups. Group g of sample n is
/// the contiguous run of <see cref="GroupSize"/> = (C / G)·S values starting at unit u = n·G + g times GroupSize.
/// </summary>
internal readonly record struct GroupNormShape(int Batch, int Channels, int Spatial, int Groups)
{
    public int ChannelsPerGroup => Channels / Groups;

    /// <summary>Values per (n, group), M = (C / G)·S, which the statistics average over.</summary>
    public int GroupSize => ChannelsPerGroup * Spatial;

    /// <summary>The (n, group) units, N·G: one mean and rstd each.</summary>
    public int Units => Batch * Groups;

    public long Elements => (long)Batch * Channels * Spatial;
}
