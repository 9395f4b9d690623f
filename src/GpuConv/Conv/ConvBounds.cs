using GpuConv.Tensors;

namespace GpuConv.Conv;

/// <summary>
/// The bounds every <see cref="ConvProblem"/> is held to, so that no kernel derives a size that wraps
/// around: kernels compute extents such as "padded input + stride" and "stride phases × phase size" in
/// 32-bit arithmetic, and host copies of every tensor must fit a .NET array. Checked once, at
/// construction, in 64-bit arithmetic; a violation is an <see cref="ArgumentException"/> naming the
/// field and the values.
/// </summary>
internal static class ConvBounds
{
    /// <summary>
    /// Checks the underlying convolution <paramref name="conv"/> on X, W, Y and returns it, with the
    /// stride of any dimension whose single output position makes it irrelevant cut down to the padded
    /// extent (a stride of 2^31 - 1 on an 8-wide input is legal and means "one output"; kept as given it
    /// would size the stride-phase layouts of the CPU kernels by it).
    /// </summary>
    public static ConvSpec Check(ConvSpec conv, TensorShape x, TensorShape w, TensorShape y)
    {
        CheckFitsArray(x, "x", "input");
        CheckFitsArray(w, "w", "filter");
        CheckFitsArray(y, "y", "spec");
        int rank = conv.Rank;
        int[]? stride = null;
        for (int d = 0; d < rank; d++)
        {
            long padded = (long)x[2 + d] + conv.PadBegin[d] + conv.PadEnd[d];
            int s = conv.Stride[d];
            if (y[2 + d] == 1 && s > padded)
            {
                stride ??= [.. conv.Stride];
                stride[d] = s = (int)padded;
            }
            if (padded + s > int.MaxValue)
                throw new ArgumentException(
                    $"spatial dimension {d} is too large: input {x[2 + d]} + padding ({conv.PadBegin[d]}, {conv.PadEnd[d]}) = {padded}, plus stride {s}, exceeds {int.MaxValue}.", "spec");
        }
        return stride is null ? conv : conv.WithStride(stride);
    }

    /// <summary>Bytes of X, W and Y in float32 plus one zero-padded copy of X (64-bit, saturating).</summary>
    public static long EstimatedBytes(ConvProblem p)
    {
        double padded = (double)p.N * p.C;
        for (int d = 0; d < p.Rank; d++)
            padded *= (double)p.XShape[2 + d] + p.Spec.PadBegin[d] + p.Spec.PadEnd[d]; // not InSpatial: a new array per access, and the engine asks on every call
        double bytes = sizeof(float) * ((double)p.XShape.ElementCount + p.WShape.ElementCount + p.YShape.ElementCount + padded);
        return bytes >= long.MaxValue ? long.MaxValue : (long)bytes;
    }

    static void CheckFitsArray(TensorShape t, string name, string field)
    {
        if (t.ElementCount > Array.MaxLength)
            throw new ArgumentException($"tensor {name} {t} would have {t.ElementCount} elements, more than one buffer may hold ({Array.MaxLength}).", field);
    }
}
