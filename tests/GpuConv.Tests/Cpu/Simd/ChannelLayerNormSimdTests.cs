using GpuConv.Cpu.Layers;
using GpuConv.Cpu.Threading;
using GpuConv.Tests.Normalization;
using GpuConv.Tests.Pooling;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// The channels-first LayerNorm's vector chunks (<see cref="CpuChannelLayerNorm"/>: the AVX-512 blocks where this
/// machine has them, else Vector256 blocks for whole chunks and Vector256 lanes for short ones) give the scalar loop's
/// bits: forward with and without weight and bias, backward data and the affine gradients, on every chunk form — P from
/// 1 to 196 (a partial AVX-512 block of one to four vectors, its last vector with 1–16 lanes; whole 64-position chunks;
/// several chunks and a short last one), C = 1, 3,
/// 96 and 384, N = 1 and 3 — with one NaN and one +∞ among the inputs. A lane past a chunk's end written by mistake
/// lands on the next channel's first positions, which the comparison sees. Sums' NaNs compared as NaN (the project's
/// rule: payloads aside). Re-run by <see cref="SimdTierChildProcessTests"/> with AVX-512 off (the Vector256 forms) and
/// with AVX2 off (the scalar loop on both sides).
/// </summary>
public class ChannelLayerNormSimdTests
{
    static readonly int[] PositionCounts = [1, 5, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 80, 112, 127, 130, 196];

    [Test]
    public void ThePathInUseIsNamed() =>
        TestContext.Out.WriteLine($"AVX-512 blocks: {(CpuChannelLayerNorm.Blocks512Accelerated ? "on" : "off")}");

    [TestCase(1)]
    [TestCase(3)]
    [TestCase(96)]
    [TestCase(384)]
    public void VectorChunksGiveTheScalarBits(int channels)
    {
        foreach (int n in new[] { 1, 3 })
            foreach (int p in PositionCounts)
            {
                var shape = new ChannelLayerNormShape(n, channels, p);
                var dims = new[] { n, channels, p };
                var x = BatchNormTestData.Values(new TensorShape(dims), 100 + p);
                var dy = BatchNormTestData.Values(new TensorShape(dims), 200 + p, 0.5f, 1f);
                x[x.Length - 1 - p / 2] = float.NaN;
                if (x.Length > 2) x[1] = float.PositiveInfinity;
                var weight = BatchNormTestData.Channel(channels, 3, 1f, 0.5f);
                var bias = BatchNormTestData.Channel(channels, 4, 0f, 0.5f);
                var scalar = Run(false);
                var vector = Run(true);
                string[] names = ["mean", "rstd", "y", "y (no affine)", "dx", "dx (no weight)", "dweight", "dbias"];
                for (int i = 0; i < names.Length; i++)
                    Assert.That(PoolKernelTests.Bits(vector[i]), Is.EqualTo(PoolKernelTests.Bits(scalar[i])), $"{names[i]}, [N, C, P] = [{n}, {channels}, {p}]");

                float[][] Run(bool vectors)
                {
                    float[] mean = new float[shape.BatchPositions], rstd = new float[shape.BatchPositions], y = new float[x.Length], yn = new float[x.Length];
                    float[] dx = new float[x.Length], dxn = new float[x.Length], dw = new float[channels], db = new float[channels];
                    CpuChannelLayerNorm.Forward(x, shape, 1e-6f, null, null, yn, mean, rstd, null, vectors);
                    CpuChannelLayerNorm.Forward(x, shape, 1e-6f, weight, bias, y, mean, rstd, null, vectors);
                    CpuChannelLayerNorm.Backward(dy, x, shape, mean, rstd, weight, dx, dw, db, null, vectors);
                    CpuChannelLayerNorm.Backward(dy, x, shape, mean, rstd, null, dxn, null, null, null, vectors);
                    return [mean, rstd, y, yn, dx, dxn, dw, db];
                }
            }
    }

    /// <summary>The same on two workers (chunks of one sample on different threads, a short last chunk among them).</summary>
    [Test]
    public void VectorChunksOnWorkersGiveTheScalarBits()
    {
        using var workers = new CpuWorkers(2);
        var shape = new ChannelLayerNormShape(3, 96, 500);
        var dims = new[] { 3, 96, 500 };
        var x = BatchNormTestData.Values(new TensorShape(dims), 7);
        var weight = BatchNormTestData.Channel(96, 8, 1f, 0.5f);
        var bias = BatchNormTestData.Channel(96, 9, 0f, 0.5f);
        float[][] Run(bool vectors, CpuWorkers? w)
        {
            float[] mean = new float[shape.BatchPositions], rstd = new float[shape.BatchPositions], y = new float[x.Length], dx = new float[x.Length];
            CpuChannelLayerNorm.Forward(x, shape, 1e-6f, weight, bias, y, mean, rstd, w, vectors);
            CpuChannelLayerNorm.Backward(y, x, shape, mean, rstd, weight, dx, null, null, w, vectors);
            return [mean, rstd, y, dx];
        }
        Assert.That(Run(true, workers), Is.EqualTo(Run(false, null)));
    }
}
