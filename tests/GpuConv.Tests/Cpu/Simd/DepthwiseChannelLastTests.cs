using System.Runtime.Intrinsics;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cpu.Depthwise;
using GpuConv.Cpu.Gemm;
using GpuConv.Tensors;
using GpuConv.Tests.Backends;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// The channel-last 7x7 and 5x5 depthwise kernel (stride 1; 5x5 stride 2 too; 16 channels per block, chunks of seven output pixels, taps in
/// the padding skipped) against the reference: channel counts with and without a partial last block
/// (the rest go to the per-plane kernels), planes from 1 × 1 to 56 × 56 (widths below, at and around
/// the seven-pixel chunk, odd sizes), symmetric, no, asymmetric and oversized padding (output rows and
/// whole chunks in the padding, pads past the kernel), a batch of 2, with and without bias.
/// </summary>
public class DepthwiseChannelLastTests
{
    static ConvProblem Problem(int n, int c, int h, int w, int top, int left, int bottom, int right, int k = 7, int stride = 1) =>
        ConvProblem.Create(new ConvSpec([k, k], [stride, stride], padBegin: [top, left], padEnd: [bottom, right], groups: c),
            new TensorShape(n, c, h, w), new TensorShape(c, 1, k, k));

    [TestCase(7, 1), TestCase(5, 1), TestCase(5, 2)]
    public void PlanesOfEveryShapeMatchReference(int k, int stride)
    {
        using var backend = new CpuBackend(maxDegreeOfParallelism: 2);
        var failures = new List<string>();
        int cases = 0, taken = 0, seed = 0;
        foreach (var (h, w) in new[] { (7, 7), (1, 1), (2, 9), (5, 3), (8, 8), (14, 14), (13, 20), (15, 11), (6, 22), (28, 28) })
        foreach (var (top, left, bottom, right) in new[] { (3, 3, 3, 3), (0, 0, 0, 0), (1, 2, 3, 0), (6, 5, 5, 6), (3, 0, 0, 6), (8, 9, 7, 10) })
        foreach (int c in new[] { 16, 17, 40 })
        {
            if (h + top + bottom < k || w + left + right < k) continue;
            var p = Problem(2, c, h, w, top, left, bottom, right, k, stride);
            cases++;
            if (CpuForward.DepthwiseKernelFor(ConvGeometry.Of(p), 1, c, backend.Tier) == DepthwiseKernel.ChannelLast) taken++;
            var (err, where) = ConvCheck.AllAlgorithms(backend, p, ++seed, withBias: seed % 2 == 0);
            if (!(err < 1e-5)) failures.Add(where);
        }
        Assert.That(cases, Is.GreaterThan(100));
        if (backend.Tier >= GemmTier.Vector512) Assert.That(taken, Is.EqualTo(cases), "every case should take the channel-last kernel on Vector512");
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
    }

    /// <summary>
    /// ConvNeXt-T's four depthwise shapes (7x7) and EfficientNet-B0's and MobileNetV3-Large's 5x5 stride-1 planes (channels
    /// cut to 33 to keep the float64 reference quick: two blocks and one plane left over).
    /// </summary>
    [TestCase(56, 7, 1), TestCase(28, 7, 1), TestCase(14, 7, 1), TestCase(7, 7, 1), TestCase(28, 5, 1), TestCase(14, 5, 1), TestCase(7, 5, 1),
     TestCase(56, 5, 2), TestCase(14, 5, 2)]
    public void NetworkPlanesMatchReference(int side, int k, int stride)
    {
        using var backend = new CpuBackend(maxDegreeOfParallelism: 2);
        var p = Problem(1, 33, side, side, k / 2, k / 2, k / 2, k / 2, k, stride);
        if (backend.Tier >= GemmTier.Vector512)
            Assert.That(CpuForward.DepthwiseKernelFor(ConvGeometry.Of(p), 1, 33, backend.Tier), Is.EqualTo(DepthwiseKernel.ChannelLast));
        foreach (bool bias in new[] { true, false })
        {
            var (err, where) = ConvCheck.AllAlgorithms(backend, p, side, withBias: bias);
            Assert.That(err, Is.LessThan(1e-5), where);
        }
    }

    [Test]
    public void TakesSevenStrideOneAndFiveStrideOneOrTwoWithAWholeBlock()
    {
        var tier = GemmTier.Vector512;
        DepthwiseKernel For(ConvProblem p) => CpuForward.DepthwiseKernelFor(ConvGeometry.Of(p), 1, p.C, tier);
        if (!Vector512.IsHardwareAccelerated) Assert.Ignore("Vector512 is not accelerated here");
        Assert.That(For(Problem(1, 96, 56, 56, 3, 3, 3, 3)), Is.EqualTo(DepthwiseKernel.ChannelLast));
        Assert.That(For(Problem(1, 768, 7, 7, 3, 3, 3, 3)), Is.EqualTo(DepthwiseKernel.ChannelLast));
        Assert.That(For(Problem(1, 16, 64, 64, 3, 3, 3, 3)), Is.EqualTo(DepthwiseKernel.ChannelLast));
        Assert.That(For(Problem(1, 240, 28, 28, 2, 2, 2, 2, k: 5)), Is.EqualTo(DepthwiseKernel.ChannelLast));
        Assert.That(For(Problem(1, 1152, 7, 7, 2, 2, 2, 2, k: 5)), Is.EqualTo(DepthwiseKernel.ChannelLast));
        // Fewer than 16 channels, planes past 64 × 64, stride 2, 3x3: the other kernels.
        Assert.That(For(Problem(1, 15, 14, 14, 3, 3, 3, 3)), Is.Not.EqualTo(DepthwiseKernel.ChannelLast));
        Assert.That(For(Problem(1, 32, 65, 64, 3, 3, 3, 3)), Is.Not.EqualTo(DepthwiseKernel.ChannelLast));
        var strided = ConvProblem.Create(new ConvSpec([7, 7], [2, 2], padBegin: [3, 3], padEnd: [3, 3], groups: 32),
            new TensorShape(1, 32, 28, 28), new TensorShape(32, 1, 7, 7));
        Assert.That(For(strided), Is.Not.EqualTo(DepthwiseKernel.ChannelLast));
        Assert.That(For(Problem(1, 144, 56, 56, 2, 2, 2, 2, k: 5, stride: 2)), Is.EqualTo(DepthwiseKernel.ChannelLast));
        var fiveByFiveMixedStride = ConvProblem.Create(new ConvSpec([5, 5], [2, 1], padBegin: [2, 2], padEnd: [2, 2], groups: 32),
            new TensorShape(1, 32, 14, 14), new TensorShape(32, 1, 5, 5));
        Assert.That(For(fiveByFiveMixedStride), Is.Not.EqualTo(DepthwiseKernel.ChannelLast));
        Assert.That(For(Problem(1, 32, 14, 14, 1, 1, 1, 1, k: 3)), Is.Not.EqualTo(DepthwiseKernel.ChannelLast));
    }

    /// <summary>The dense transpose into channel-last vectors (AVX-512), on pixel counts below, at and past one 16-pixel tile (the last tile overlapping).</summary>
    [Test]
    public unsafe void ContiguousTransposeMatchesElementByElement([Values(1, 7, 15, 16, 17, 49, 196)] int pixels)
    {
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported) Assert.Ignore("the transpose is AVX-512 only, as its callers");
        nint stride = pixels + 3;
        var planes = new float[16 * stride];
        for (int i = 0; i < planes.Length; i++) planes[i] = i * 0.5f - 7f;
        var dst = new float[pixels * 16 + 16];
        Array.Fill(dst, float.NaN);
        fixed (float* src = planes, d = dst) ChannelLastScatter.Contiguous(src, stride, pixels, d);
        for (int p = 0; p < pixels; p++)
            for (int c = 0; c < 16; c++)
                Assert.That(dst[p * 16 + c], Is.EqualTo(planes[c * stride + p]), $"pixel {p} channel {c}");
        Assert.That(dst.Skip(pixels * 16).All(float.IsNaN), Is.True, "nothing written past the last pixel");
    }
}
