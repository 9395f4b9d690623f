namespace GpuConv.Tensors;

/// <summary>
/// A rearrangement of a dense tensor into a dense output as one 5-d strided copy, written in the output's order: the
/// view's dims, the input's strides and the output's (dense) strides, in elements. The CPU loop
/// (<see cref="Cpu.Layers.CpuStridedCopy"/>) and the GPU kernel (kernels/strided_copy.ptx) both walk it, so they move the
/// same elements: a copy, the same bits.
/// </summary>
internal readonly struct Rearrangement
{
    /// <summary>The view's rank: strided_copy_f32's.</summary>
    public const int Rank = 5;

    readonly int d0, d1, d2, d3, d4;
    readonly long s0, s1, s2, s3, s4, t0, t1, t2, t3, t4;

    Rearrangement(int d0, int d1, int d2, int d3, int d4, long s0, long s1, long s2, long s3, long s4)
    {
        (this.d0, this.d1, this.d2, this.d3, this.d4) = (d0, d1, d2, d3, d4);
        (this.s0, this.s1, this.s2, this.s3, this.s4) = (s0, s1, s2, s3, s4);
        // The output is written in the view's order: dense strides.
        t4 = 1;
        t3 = d4;
        t2 = t3 * d3;
        t1 = t2 * d2;
        t0 = t1 * d1;
    }

    /// <summary>
    /// F.pixel_shuffle(x, r) on x [N, C·r², H, W] → y [N, C, H·r, W·r], y[n, c, h·r + i, w·r + j] = x[n, c·r² + i·r + j, h, w]:
    /// the view [N·C, H, i, W, j]. The caller has checked that r² divides the channels.
    /// </summary>
    public static Rearrangement PixelShuffle(TensorShape x, int r)
    {
        long h = x[2], w = x[3];
        return new(x[0] * (x[1] / (r * r)), x[2], r, x[3], r, r * r * h * w, w, r * h * w, 1, h * w);
    }

    /// <summary>
    /// F.pixel_unshuffle(x, r) on x [N, C, H, W] → y [N, C·r², H/r, W/r], the inverse: the view [N·C, i, j, H/r, W/r]. The
    /// caller has checked that r divides H and W.
    /// </summary>
    public static Rearrangement PixelUnshuffle(TensorShape x, int r)
    {
        long h = x[2], w = x[3];
        return new(x[0] * x[1], r, r, x[2] / r, x[3] / r, h * w, w, 1, r * w, r);
    }

    /// <summary>
    /// torch.channel_shuffle(x, g) on x [N, C, …] → y of x's shape, y[n, j·g + i, …] = x[n, i·(C/g) + j, …]: the view
    /// [N, C/g (j), g (i), the rest] (x viewed as [N, g, C/g, …] with its two group dims transposed). The caller has
    /// checked that g divides C.
    /// </summary>
    public static Rearrangement ChannelShuffle(TensorShape x, int g)
    {
        long rest = x.ElementCount / ((long)x[0] * x[1]), perGroup = x[1] / g;
        return new(1, x[0], (int)perGroup, g, (int)rest, 0, x[1] * rest, rest, perGroup * rest, 1);
    }

    /// <summary>The elements copied (the input's and the output's count).</summary>
    public long Count => (long)d0 * d1 * d2 * d3 * d4;

    /// <summary>Writes the view's dims (outermost first), the input's strides and the output's strides.</summary>
    public void Describe(Span<int> dims, Span<long> sourceStrides, Span<long> destinationStrides)
    {
        (dims[0], dims[1], dims[2], dims[3], dims[4]) = (d0, d1, d2, d3, d4);
        (sourceStrides[0], sourceStrides[1], sourceStrides[2], sourceStrides[3], sourceStrides[4]) = (s0, s1, s2, s3, s4);
        (destinationStrides[0], destinationStrides[1], destinationStrides[2], destinationStrides[3], destinationStrides[4]) = (t0, t1, t2, t3, t4);
    }
}
