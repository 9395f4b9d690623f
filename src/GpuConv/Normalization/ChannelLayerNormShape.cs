using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// A channels-first LayerNorm input as [N, C, P]: P the product of the spatial dimensions (1 for [N, C]). Element
/// (n, c, p) is at (n·C + c)·P + p; position j = n·P + p indexes the per-position statistics, which normalise over
/// the C values P apart.
/// </summary>
internal readonly record struct ChannelLayerNormShape(int Batch, int Channels, int Positions)
{
    /// <summary>Inputs: [N, C] and up to 3 spatial dimensions.</summary>
    public const int MaxRank = 5;

    /// <summary>The (n, p) pairs, N·P: one mean and rstd each.</summary>
    public int BatchPositions => Batch * Positions;

    public long Elements => (long)Batch * Channels * Positions;

    /// <summary>
    /// The shape of an input: [N, C, spatial…] with rank 2 to <see cref="MaxRank"/> and fewer than 2^31 elements;
    /// throws naming <paramref name="name"/> otherwise.
    /// </summary>
    public static ChannelLayerNormShape Of(TensorShape shape, string name)
    {
        if (shape.Rank is < 2 or > MaxRank)
            throw new ArgumentException($"{name} has shape {shape}; the channels-first LayerNorm takes [N, C] with 0 to 3 spatial dimensions (rank 2 to {MaxRank}).", name);
        if (shape.ElementCount > int.MaxValue)
            throw new ArgumentException($"{name} has shape {shape}: {shape.ElementCount} elements; the channels-first LayerNorm takes fewer than 2^31.", name);
        long positions = 1;
        for (int d = 2; d < shape.Rank; d++) positions *= shape.Dims[d];
        return new ChannelLayerNormShape(shape.Dims[0], shape.Dims[1], (int)positions);
    }

    /// <summary>The saved statistics' shape: x's without dimension 1, [N, spatial…] ([N] for an [N, C] input).</summary>
    public static TensorShape StatisticsShapeOf(TensorShape x)
    {
        var dims = new int[x.Rank - 1];
        dims[0] = x.Dims[0];
        for (int d = 2; d < x.Rank; d++) dims[d - 1] = x.Dims[d];
        return new TensorShape(dims);
    }
}
