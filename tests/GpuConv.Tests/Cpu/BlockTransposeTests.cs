using GpuConv.Cpu;

namespace GpuConv.Tests.Cpu;

public unsafe class BlockTransposeTests
{
    /// <summary>Whole 16 × 16 tiles (in registers) and ragged edges (element by element), with and without bias.</summary>
    [TestCase(16, 16, true)]
    [TestCase(49, 64, true)]
    [TestCase(35, 40, false)]
    [TestCase(5, 70, true)]
    [TestCase(100, 7, false)]
    public void MatchesElementwiseTranspose(int pixels, int channels, bool withBias) => Check(pixels, channels, withBias, tile: null);

    /// <summary>The 8 × 8 AVX tiles (chosen without AVX-512; forced here) and the element-by-element path alone.</summary>
    [TestCase(8, 8, true, 8)]
    [TestCase(49, 64, true, 8)]
    [TestCase(35, 40, false, 8)]
    [TestCase(13, 70, true, 8)]
    [TestCase(100, 7, false, 8)]
    [TestCase(49, 64, true, 0)]
    public void NarrowerTilesMatchElementwiseTranspose(int pixels, int channels, bool withBias, int tile)
    {
        if (tile == 8 && !System.Runtime.Intrinsics.X86.Avx.IsSupported) Assert.Ignore("no AVX here");
        Check(pixels, channels, withBias, tile);
    }

    static void Check(int pixels, int channels, bool withBias, int? tile)
    {
        var rng = new Random(pixels * 1000 + channels);
        int lds = channels + 3, ldy = pixels + 5;
        var src = Enumerable.Range(0, pixels * lds).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var bias = Enumerable.Range(0, channels).Select(_ => (float)rng.NextDouble()).ToArray();
        var y = Enumerable.Repeat(float.NaN, channels * ldy).ToArray();
        fixed (float* s = src, b = bias, d = y)
            if (tile is { } t) BlockTranspose.ToPlanes(s, lds, pixels, channels, d, ldy, withBias ? b : null, t);
            else BlockTranspose.ToPlanes(s, lds, pixels, channels, d, ldy, withBias ? b : null);
        for (int c = 0; c < channels; c++)
        {
            for (int q = 0; q < pixels; q++)
                Assert.That(y[c * ldy + q], Is.EqualTo(src[q * lds + c] + (withBias ? bias[c] : 0f)), $"channel {c}, pixel {q}");
            for (int q = pixels; q < ldy && c * ldy + q < y.Length; q++)
                Assert.That(y[c * ldy + q], Is.NaN, "nothing is written past the pixels");
        }
    }
}
