using GpuConv.Tensors;

namespace GpuConv.Upsampling;

/// <summary>
/// F.pixel_shuffle and F.pixel_unshuffle as one 5-d strided copy, written in the output's order: the view's dims, the
/// input's strides and the output's (dense) strides. The CPU loop (<see cref="Cpu.Layers.CpuStridedCopy"/>) and the GPU
/// kernel (kernels/strided_copy.ptx) both walk this view, so they move the same elements: a copy, the same bits.
/// <para>
/// Shuffle, r = upscale factor, x [N, C·r², H, W] → y [N, C, H·r, W·r], y[n, c, h·r + i, w·r + j] = x[n, c·r² + i·r + j, h, w]:
/// the view [N·C, H, i, W, j]. Unshuffle, r = downscale factor, x [N, C, H, W] → y [N, C·r², H/r, W/r], the inverse:
/// the view [N·C, i, j, H/r, W/r]. Each is the other's gradient.
/// </para>
/// </summary>
internal readonly struct PixelShuffleView
{
    /// <summary>The view's rank: strided_copy_f32's.</summary>
    public const int Rank = 5;

    readonly int planes, height, width, factor;
    readonly bool shuffle;

    /// <param name="x">The input's shape [N, C, H, W] (checked by the engine: the factor divides what it must).</param>
    /// <param name="factor">The upscale (shuffle) or downscale (unshuffle) factor r ≥ 1.</param>
    /// <param name="shuffle">True for pixel_shuffle, false for pixel_unshuffle.</param>
    public PixelShuffleView(TensorShape x, int factor, bool shuffle)
    {
        this.factor = factor;
        this.shuffle = shuffle;
        height = x[2];
        width = x[3];
        // The output planes: C / r² of them per image for a shuffle, the input's C for an unshuffle.
        planes = x[0] * (shuffle ? x[1] / (factor * factor) : x[1]);
    }

    /// <summary>The elements copied (the input's and the output's count).</summary>
    public long Count => (long)planes * height * width * (shuffle ? factor * factor : 1);

    /// <summary>Writes the view's dims (outermost first), the input's strides and the output's strides, in elements.</summary>
    public void Describe(Span<int> dims, Span<long> sourceStrides, Span<long> destinationStrides)
    {
        long r = factor, h = height, w = width;
        if (shuffle)
        {
            // y [P, H, i, W, j] dense; x[p, i·r + j, h, w] (p's r² input planes in a row).
            Set(dims, planes, height, factor, width, factor);
            Set(sourceStrides, r * r * h * w, w, r * h * w, 1, h * w);
            Set(destinationStrides, h * r * w * r, r * w * r, w * r, r, 1);
        }
        else
        {
            // y [P, i, j, H/r, W/r] dense; x[p, hs·r + i, ws·r + j].
            long hs = h / r, ws = w / r;
            Set(dims, planes, factor, factor, (int)hs, (int)ws);
            Set(sourceStrides, h * w, w, 1, r * w, r);
            Set(destinationStrides, r * r * hs * ws, r * hs * ws, hs * ws, ws, 1);
        }
    }

    static void Set<T>(Span<T> s, T a, T b, T c, T d, T e)
    {
        s[0] = a; s[1] = b; s[2] = c; s[3] = d; s[4] = e;
    }
}
