using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cpu.Depthwise;
using GpuConv.Cpu.Gemm;
using GpuConv.Tensors;
using GpuConv.Tests.Backends;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// The channel-last depthwise kernel on the Vector256 tier (<see cref="DepthwiseChannelLastAvx2"/>: 8 channels a block,
/// 7x7 stride 1, 5x5 stride 1 and 2), the tier forced so it runs on AVX-512 machines too: against the float64 reference on
/// planes from 1 × 1 to 28 × 28 with every kind of padding (rows and whole chunks in the padding, pads past the kernel),
/// 8, 9 and 20 channels (no, one and four channels left to the per-plane kernel), a batch of 2, with and without bias;
/// and, where AVX-512 is there, the same bits as <see cref="DepthwiseChannelLast"/> on whole blocks of 16 channels (the
/// same fused multiply-adds in the same order).
/// </summary>
public class Avx2DepthwiseChannelLastTests
{
    static ConvProblem Problem(int n, int c, int h, int w, int top, int left, int bottom, int right, int k, int stride) =>
        ConvProblem.Create(new ConvSpec([k, k], [stride, stride], padBegin: [top, left], padEnd: [bottom, right], groups: c),
            new TensorShape(n, c, h, w), new TensorShape(c, 1, k, k));

    [TestCase(7, 1), TestCase(5, 1), TestCase(5, 2)]
    public void PlanesOfEveryShapeMatchReference(int k, int stride)
    {
        using var backend = Avx2Tier.Backend();
        var failures = new List<string>();
        int cases = 0, seed = 0;
        foreach (var (h, w) in new[] { (7, 7), (1, 1), (2, 9), (5, 3), (8, 8), (14, 14), (13, 20), (15, 11), (6, 22), (28, 28) })
        foreach (var (top, left, bottom, right) in new[] { (3, 3, 3, 3), (0, 0, 0, 0), (1, 2, 3, 0), (6, 5, 5, 6), (3, 0, 0, 6), (8, 9, 7, 10) })
        foreach (int c in new[] { 8, 9, 20 })
        {
            if (h + top + bottom < k || w + left + right < k) continue;
            var p = Problem(2, c, h, w, top, left, bottom, right, k, stride);
            cases++;
            Assert.That(CpuForward.DepthwiseKernelFor(ConvGeometry.Of(p), 1, c, GemmTier.Vector256), Is.EqualTo(DepthwiseKernel.ChannelLastAvx2), $"{p}");
            var (err, where) = ConvCheck.AllAlgorithms(backend, p, ++seed, withBias: seed % 2 == 0);
            if (!(err < 1e-5)) failures.Add(where);
        }
        Assert.That(cases, Is.GreaterThan(100));
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
    }

    /// <summary>Whole 16-channel blocks: the AVX2 kernel's output is the AVX-512 kernel's, bit for bit.</summary>
    [TestCase(28, 5, 1), TestCase(7, 5, 1), TestCase(14, 5, 2), TestCase(14, 7, 1), TestCase(9, 7, 1)]
    public unsafe void SameBitsAsTheAvx512Kernel(int side, int k, int stride)
    {
        Avx2Tier.Require();
        var p = Problem(1, 32, side, side, k / 2, k / 2, k / 2, k / 2, k, stride);
        var g = ConvGeometry.Of(p);
        if (!DepthwiseChannelLast.Applies(g, 1, 32)) Assert.Ignore("Vector512 is not accelerated here: no AVX-512 kernel to compare with");
        var x = HostTensor.Random(p.XShape, 41);
        var w = HostTensor.Random(p.WShape, 42);
        var b = HostTensor.Random(new TensorShape(32), 43);
        int inPlane = side * side, outPlane = p.YShape.ElementCountInt / 32, kvol = k * k;
        float[] narrow = new float[p.YShape.ElementCountInt], wide = new float[narrow.Length];
        var scratch = new float[Math.Max(DepthwiseChannelLastAvx2.ScratchFloats(g), DepthwiseChannelLast.ScratchFloats(g))];
        fixed (float* px = x.Data, pw = w.Data, pb = b.Data, pn = narrow, pwide = wide, ps = scratch)
        {
            for (int c0 = 0; c0 < 32; c0 += DepthwiseChannelLastAvx2.Lanes)
                DepthwiseChannelLastAvx2.Block(g, px + c0 * inPlane, pw + c0 * kvol, pn + c0 * outPlane, pb + c0, Activation.Identity, ps);
            for (int c0 = 0; c0 < 32; c0 += DepthwiseChannelLast.Lanes)
                DepthwiseChannelLast.Block(g, px + c0 * inPlane, pw + c0 * kvol, pwide + c0 * outPlane, pb + c0, Activation.Identity, ps);
        }
        for (int i = 0; i < narrow.Length; i++)
            Assert.That(BitConverter.SingleToInt32Bits(narrow[i]), Is.EqualTo(BitConverter.SingleToInt32Bits(wide[i])), $"{p}, output {i}: {narrow[i]} against {wide[i]}");
    }

    /// <summary>Not taken: fewer than 8 channels, planes past 64 × 64, 7x7 stride 2, 3x3, the Vector512 tier.</summary>
    [Test]
    public void TakesOnlyItsGeometriesOnVector256()
    {
        DepthwiseKernel For(ConvProblem p, GemmTier tier = GemmTier.Vector256) => CpuForward.DepthwiseKernelFor(ConvGeometry.Of(p), 1, p.C, tier);
        Avx2Tier.Require();
        Assert.That(For(Problem(1, 960, 7, 7, 2, 2, 2, 2, 5, 1)), Is.EqualTo(DepthwiseKernel.ChannelLastAvx2));
        Assert.That(For(Problem(1, 96, 56, 56, 3, 3, 3, 3, 7, 1)), Is.EqualTo(DepthwiseKernel.ChannelLastAvx2));
        Assert.That(For(Problem(1, 7, 7, 7, 2, 2, 2, 2, 5, 1)), Is.Not.EqualTo(DepthwiseKernel.ChannelLastAvx2));
        Assert.That(For(Problem(1, 16, 65, 64, 2, 2, 2, 2, 5, 1)), Is.Not.EqualTo(DepthwiseKernel.ChannelLastAvx2));
        Assert.That(For(Problem(1, 16, 14, 14, 3, 3, 3, 3, 7, 2)), Is.Not.EqualTo(DepthwiseKernel.ChannelLastAvx2));
        Assert.That(For(Problem(1, 16, 14, 14, 1, 1, 1, 1, 3, 1)), Is.Not.EqualTo(DepthwiseKernel.ChannelLastAvx2));
        Assert.That(For(Problem(1, 16, 14, 14, 2, 2, 2, 2, 5, 1), GemmTier.Vector512), Is.Not.EqualTo(DepthwiseKernel.ChannelLastAvx2));
    }
}
