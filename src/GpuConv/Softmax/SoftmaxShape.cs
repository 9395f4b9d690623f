using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// A contiguous tensor seen as [Outer, Axis, Inner] for a softmax over one dimension: Axis is that dimension's size,
/// Outer the product of the dimensions before it, Inner of those after. The slice (o, i) is the Axis values
/// x[(o·Axis + a)·Inner + i], a = 0 … Axis − 1. dim = 1 of NCHW has Inner = H·W (a softmax over channels per pixel);
/// dim = −1 of [N, C] has Inner = 1 (each row one slice, contiguous).
/// </summary>
internal readonly record struct SoftmaxShape(int Outer, int Axis, int Inner)
{
    public long Elements => (long)Outer * Axis * Inner;

    /// <summary>Slices (o, i): one max, one sum and one normalisation each.</summary>
    public long Slices => (long)Outer * Inner;

    /// <summary>
    /// The view of <paramref name="shape"/> for a softmax over <paramref name="dim"/> (negative counts from the end, as
    /// torch); throws naming <paramref name="dimName"/> for a dim outside [−rank, rank − 1], and
    /// <paramref name="name"/> for a tensor of 2^31 elements or more (the kernels index in 32 bits).
    /// </summary>
    public static SoftmaxShape Of(TensorShape shape, int dim, string name, string dimName = "dim")
    {
        int rank = shape.Rank;
        if (dim < -rank || dim >= rank)
            throw new ArgumentOutOfRangeException(dimName, dim, $"{dimName} = {dim} is out of range for {name} of shape {shape} (rank {rank}): it must lie in [{-rank}, {rank - 1}].");
        if (shape.ElementCount > int.MaxValue)
            throw new ArgumentException($"{name} has shape {shape}: {shape.ElementCount} elements; softmax takes fewer than 2^31.", name);
        int d = dim < 0 ? dim + rank : dim;
        long outer = 1, inner = 1;
        for (int i = 0; i < d; i++) outer *= shape.Dims[i];
        for (int i = d + 1; i < rank; i++) inner *= shape.Dims[i];
        return new SoftmaxShape((int)outer, shape.Dims[d], (int)inner);
    }
}
