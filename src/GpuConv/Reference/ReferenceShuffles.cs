using GpuConv.Tensors;

namespace GpuConv.Reference;

/// <summary>
/// The judge of <see cref="ConvEngine.PixelShuffle"/>, <see cref="ConvEngine.PixelUnshuffle"/> and
/// <see cref="ConvEngine.ChannelShuffle"/>, written from PyTorch's definitions index by index (sharing nothing with the
/// strided views the CPU loop and the kernel walk): for y = pixel_shuffle(x, r), y[n, c, h·r + i, w·r + j] =
/// x[n, c·r² + i·r + j, h, w], pixel_unshuffle its inverse; for y = channel_shuffle(x, g), y[n, j·g + i, …] =
/// x[n, i·(C/g) + j, …]. Rearrangements: every value is moved, none computed.
/// </summary>
public static class ReferenceShuffles
{
    /// <summary>pixel_shuffle(x, r) on x [N, C·r², H, W]: the [N, C, H·r, W·r] values.</summary>
    public static float[] PixelShuffle(TensorShape x, ReadOnlySpan<float> values, int r)
    {
        Check(x, values, r);
        int n = x[0], c = x[1] / (r * r), h = x[2], w = x[3];
        var y = new float[values.Length];
        for (int b = 0; b < n; b++)
            for (int k = 0; k < c; k++)
                for (int oh = 0; oh < h * r; oh++)
                    for (int ow = 0; ow < w * r; ow++)
                    {
                        int source = ((b * c + k) * r * r + oh % r * r + ow % r) * h * w + oh / r * w + ow / r;
                        y[((b * c + k) * h * r + oh) * w * r + ow] = values[source];
                    }
        return y;
    }

    /// <summary>pixel_unshuffle(x, r) on x [N, C, H, W] (H and W multiples of r): the [N, C·r², H/r, W/r] values.</summary>
    public static float[] PixelUnshuffle(TensorShape x, ReadOnlySpan<float> values, int r)
    {
        Check(x, values, r);
        int n = x[0], c = x[1], h = x[2] / r, w = x[3] / r;
        var y = new float[values.Length];
        for (int b = 0; b < n; b++)
            for (int k = 0; k < c * r * r; k++)
                for (int oh = 0; oh < h; oh++)
                    for (int ow = 0; ow < w; ow++)
                    {
                        int plane = b * c + k / (r * r), i = k % (r * r) / r, j = k % r;
                        y[((b * c * r * r + k) * h + oh) * w + ow] = values[(plane * h * r + oh * r + i) * w * r + ow * r + j];
                    }
        return y;
    }

    /// <summary>channel_shuffle(x, g) on x [N, C, …] (g divides C): the values of x's shape.</summary>
    public static float[] ChannelShuffle(TensorShape x, ReadOnlySpan<float> values, int g)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank < 2 || g < 1 || x[1] % g != 0 || values.Length != x.ElementCount)
            throw new ArgumentException($"the reference takes [N, C, …] values and groups dividing C; got shape {x}, {values.Length} values, groups {g}.", nameof(x));
        int n = x[0], c = x[1], perGroup = c / g, rest = (int)(x.ElementCount / ((long)n * c));
        var y = new float[values.Length];
        for (int b = 0; b < n; b++)
            for (int k = 0; k < c; k++)
            {
                int i = k % g, j = k / g; // output channel k = j·g + i reads input channel i·(C/g) + j
                values.Slice((b * c + i * perGroup + j) * rest, rest).CopyTo(y.AsSpan((b * c + k) * rest, rest));
            }
        return y;
    }

    static void Check(TensorShape x, ReadOnlySpan<float> values, int r)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 4 || r < 1 || values.Length != x.ElementCount)
            throw new ArgumentException($"the reference takes [N, C, H, W] values and a factor >= 1; got shape {x}, {values.Length} values, factor {r}.", nameof(x));
    }
}
