using GpuConv.Cpu.Gemm;

using GpuConv.Tests.Support;
using GpuConv.Cpu.ChannelTiled;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// Channel-tiled's k-block sweep on the Vector256 tier (<see cref="ChannelTiledAvx2.Chunk"/>, the Swept kernels of
/// <see cref="ChannelTileKernels256"/>) against the quarter kernels it replaced in the driver (<see cref="ChannelTileKernels256.For"/>,
/// one call per tile over the whole chunk) and the float64 sums: every output one sequential FMA chain, so the same bits
/// (and through them the AVX-512 tiles': <see cref="Avx2ChannelTileTests.SameResultsAsTheAvx512Paths"/>), with the running
/// sums across k-blocks of 64 rows (depths 1 … 200: one block, exactly one, a partial last one, several), tiles of 1 … 6
/// pixels, 1 … 4 quarters and a chunk added to an earlier one's result.
/// </summary>
public unsafe class Avx2SweptChannelTileTests
{
    const int Width = ChannelTileKernels.Channels;

    [Test]
    public void SameBitsAsTheQuarterKernels([Values(1, 63, 64, 65, 200)] int kc, [Values(1, 5, 6, 7, 13, 49)] int pixels,
        [Values(1, 3, 4)] int quarters, [Values(false, true)] bool add)
    {
        Avx2Tier.Require();
        var random = new Random(kc * 1000 + pixels * 10 + quarters);
        // The input: pixels strided 3 apart, rows 37 floats apart in a reversed order (any gather table the driver may build).
        const int Stride = 3, RowStep = 37;
        float[] a = Enumerable.Range(0, pixels * Stride + kc * RowStep).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        float[] b = Enumerable.Range(0, kc * Width).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        nint[] pixelTable = Enumerable.Range(0, pixels).Select(q => (nint)(q * Stride)).ToArray();
        nint[] offsets = Enumerable.Range(0, kc).Select(p => (nint)((kc - 1 - p) * RowStep)).ToArray();
        float[] earlier = Enumerable.Range(0, pixels * Width).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        float[] swept = (float[])earlier.Clone(), quartered = (float[])earlier.Clone(), sums = new float[pixels * Width];
        fixed (float* pa = a, pb = b, ps = swept, pq = quartered, psum = sums)
        fixed (nint* pt = pixelTable, po = offsets)
        {
            ChannelTiledAvx2.Chunk(kc, pa, pt, po, pb, 0, pixels, quarters, ps, psum, add);
            for (int q = 0; q < pixels; q += 6)
            {
                int r = Math.Min(6, pixels - q);
                ChannelTileKernels256.For(r)(kc, pa, pt + q, po, pb, pq + q * Width, Width, add);
            }
        }
        double worst = 0;
        for (int q = 0; q < pixels; q++)
            for (int k = 0; k < quarters * 16; k++)
            {
                int i = q * Width + k;
                Assert.That(BitConverter.SingleToInt32Bits(swept[i]), Is.EqualTo(BitConverter.SingleToInt32Bits(quartered[i])),
                    $"pixel {q}, channel {k}: {swept[i]} against {quartered[i]}");
                double exact = add ? earlier[i] : 0, magnitude = add ? Math.Abs(earlier[i]) : 0;
                for (int p = 0; p < kc; p++)
                {
                    double t = (double)a[pixelTable[q] + offsets[p]] * b[p * Width + k];
                    exact += t; magnitude += Math.Abs(t);
                }
                worst = Math.Max(worst, Math.Abs(swept[i] - exact) / Math.Max(magnitude, 1e-30));
            }
        Assert.That(worst, Is.LessThan(1e-6), "error relative to the sum of the magnitudes, against float64");
        for (int q = 0; q < pixels; q++)
            for (int k = quarters * 16; k < Width; k++)
                Assert.That(swept[q * Width + k], Is.EqualTo(earlier[q * Width + k]), "channels past the quarters are left alone");
    }
}
