using System.Runtime.Intrinsics.X86;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cpu.Depthwise;
using GpuConv.Cpu.Gemm;
using GpuConv.Tensors;

using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// The AVX2 (Vector256) depthwise forward paths: the padded-copy kernel's AVX2 stride-2 row split and
/// eight-chain rows (<see cref="DepthwiseDirect"/>), which take the depthwise layers other than 3x3 with a
/// multiplier of 1, and <see cref="Depthwise3x3Avx2"/> for those, against the float64
/// reference at 1e-5 max relative error. The tier is forced to Vector256, so these run on AVX-512 machines
/// too (the AVX-512 depthwise kernels are chosen on Vector512 only); <see cref="SimdTierChildProcessTests"/>
/// runs them again with AVX-512 switched off. Each case first asserts which kernel the layer gets, so a
/// changed choice fails instead of testing another kernel.
/// </summary>
public class Avx2DepthwiseTests
{
    const double Tolerance = 1e-5;

    static ConvProblem Problem(int n, int c, int h, int w, int mult, int r, int sh, int sw, int[] pads, int dilation = 1) =>
        ConvProblem.Create(new ConvSpec([r, r], [sh, sw], [dilation, dilation], padBegin: [pads[0], pads[1]], padEnd: [pads[2], pads[3]], groups: c),
            new TensorShape(n, c, h, w), new TensorShape(c * mult, 1, r, r));

    // The padded copy: 5x5 and 7x7, odd plane sizes and a batch of 2; stride-2 output rows of exactly 16 (the last
    // rows may not spill) and of 17 and 18; a channel multiplier of 2; stride 3 (the generic split); dilation 2;
    // asymmetric padding; outputs narrower than 16 (one long row over the phase planes).
    [TestCase(2, 4, 30, 37, 1, 5, 2, 2, new[] { 2, 2, 2, 2 }, 1, "PaddedCopy")]
    [TestCase(1, 3, 33, 32, 1, 5, 2, 2, new[] { 2, 2, 2, 2 }, 1, "PaddedCopy")]
    [TestCase(1, 3, 34, 34, 2, 3, 2, 2, new[] { 1, 1, 1, 1 }, 1, "PaddedCopy")]
    [TestCase(1, 2, 35, 33, 2, 3, 2, 2, new[] { 1, 1, 1, 1 }, 1, "PaddedCopy")]
    [TestCase(1, 2, 23, 23, 1, 7, 1, 1, new[] { 3, 3, 3, 3 }, 1, "PaddedCopy")]
    [TestCase(1, 3, 50, 52, 1, 3, 3, 3, new[] { 1, 1, 1, 1 }, 1, "PaddedCopy")]
    [TestCase(1, 3, 40, 40, 1, 3, 1, 1, new[] { 2, 2, 2, 2 }, 2, "PaddedCopy")]
    [TestCase(2, 3, 9, 11, 1, 5, 1, 1, new[] { 2, 2, 2, 2 }, 1, "PaddedCopy")]
    [TestCase(1, 3, 25, 29, 1, 5, 2, 2, new[] { 2, 1, 2, 1 }, 1, "PaddedCopy")]
    // 3x3 layers with a multiplier of 1 run on the unpadded AVX2 kernel: stride 1, row stride 2 only, and column
    // stride 2 from split rows at every width — MobileNetV2's 112 × 112 and 56 × 56 stride-2 layers (fewer channels),
    // odd plane sizes and a batch of 2, no, asymmetric and large padding, column stride 2 with row stride 1, and
    // its 28 × 28 and 14 × 14 ones.
    [TestCase(1, 4, 112, 112, 1, 3, 2, 2, new[] { 1, 1, 1, 1 }, 1, "ThreeByThreeAvx2")]
    [TestCase(1, 5, 56, 56, 1, 3, 2, 2, new[] { 1, 1, 1, 1 }, 1, "ThreeByThreeAvx2")]
    [TestCase(2, 3, 57, 45, 1, 3, 2, 2, new[] { 1, 1, 1, 1 }, 1, "ThreeByThreeAvx2")]
    [TestCase(1, 3, 40, 33, 1, 3, 2, 2, new[] { 0, 0, 0, 0 }, 1, "ThreeByThreeAvx2")]
    [TestCase(1, 2, 35, 64, 1, 3, 2, 2, new[] { 2, 3, 1, 0 }, 1, "ThreeByThreeAvx2")]
    [TestCase(1, 3, 20, 70, 1, 3, 1, 2, new[] { 1, 1, 1, 1 }, 1, "ThreeByThreeAvx2")]
    [TestCase(1, 3, 56, 56, 1, 3, 1, 1, new[] { 1, 1, 1, 1 }, 1, "ThreeByThreeAvx2")]
    [TestCase(1, 3, 64, 34, 1, 3, 2, 1, new[] { 1, 1, 1, 1 }, 1, "ThreeByThreeAvx2")]
    [TestCase(2, 4, 28, 28, 1, 3, 2, 2, new[] { 1, 1, 1, 1 }, 1, "ThreeByThreeAvx2")]
    [TestCase(1, 3, 31, 29, 1, 3, 2, 2, new[] { 0, 1, 1, 0 }, 1, "ThreeByThreeAvx2")]
    public void MatchesReference(int n, int c, int h, int w, int mult, int r, int sh, int sw, int[] pads, int dilation, string kernel)
    {
        using var cpu = Avx2Tier.Backend();
        var p = Problem(n, c, h, w, mult, r, sh, sw, pads, dilation);
        var expected = Enum.Parse<DepthwiseKernel>(kernel);
        Assert.That(CpuForward.DepthwiseKernelFor(ConvGeometry.Of(p), mult, c, cpu.Tier), Is.EqualTo(expected), $"kernel for {p} on {cpu.Tier}");
        if (expected == DepthwiseKernel.PaddedCopy)
            Assert.That(DepthwiseDirect.UsesAvx2(cpu.Tier), Is.True, "the padded-copy kernel's AVX2 rows on Vector256");
        var algo = cpu.GetAlgorithms(p, ConvPrecision.Strict).SingleOrDefault(a => a.Name == CpuBackend.DirectDepthwise)
            ?? throw new AssertionException($"{CpuBackend.DirectDepthwise} not offered on {cpu.Tier} for {p}");
        foreach (bool bias in new[] { true, false })
        {
            var (x, wt) = (HostTensor.Random(p.XShape, 11), HostTensor.Random(p.WShape, 12));
            var b = bias ? HostTensor.Random(new TensorShape(p.K), 13) : null;
            double[] reference = ReferenceConv.Run(p, x.Data, wt.Data, new float[p.YShape.ElementCountInt], b is null ? default : b.Data);
            var y = new HostTensor(p.YShape);
            Array.Fill(y.Data, float.NaN);     // an output the kernel forgets to write fails
            cpu.Run(p, algo, new ConvTensors(x, wt, y, b));
            var error = ErrorMetrics.Compare(y.Data, reference);
            Assert.That(double.IsFinite(error.MaxRelative) && error.MaxRelative < Tolerance, $"{p}, bias {bias}: {error}");
        }
    }

    /// <summary>
    /// <see cref="Depthwise3x3Avx2.Plane"/> stores whole vectors where 8 lanes stay inside the plane, letting a partial
    /// strip's extra lanes fall on the next row for a later store to overwrite, and reads column stride 2 from rows it
    /// splits into even and odd columns in its scratch: every output holds the same bits as its FMA chain (bias, then the
    /// taps row by row, padding as zeros: MathF.FusedMultiplyAdd in that order), and nothing past the plane or past the
    /// scratch is written. The scratch starts as NaN, so a tap read from a part the split did not write fails. Planes one
    /// strip wide and narrower than 8 (spills over several rows), 9–15 wide (the partial strip before strip 0), multiples
    /// of 8 (no spill), MobileNetV2's 7, 14, 28, 56 and 112, odd widths, no, asymmetric and large padding (pads are
    /// top, left, bottom, right), and the strides apart.
    /// </summary>
    [TestCase(7, 7, 1, 1, new[] { 1, 1, 1, 1 })]
    [TestCase(14, 14, 1, 1, new[] { 1, 1, 1, 1 })]
    [TestCase(28, 28, 1, 1, new[] { 1, 1, 1, 1 })]
    [TestCase(14, 14, 2, 2, new[] { 1, 1, 1, 1 })]
    [TestCase(28, 28, 2, 2, new[] { 1, 1, 1, 1 })]
    [TestCase(56, 56, 2, 2, new[] { 1, 1, 1, 1 })]
    [TestCase(112, 112, 2, 2, new[] { 1, 1, 1, 1 })]
    [TestCase(2, 2, 1, 1, new[] { 1, 1, 1, 1 })]
    [TestCase(1, 3, 1, 1, new[] { 1, 1, 1, 1 })]
    [TestCase(3, 5, 2, 2, new[] { 1, 1, 1, 1 })]
    [TestCase(1, 1, 2, 2, new[] { 1, 1, 1, 1 })]
    [TestCase(9, 9, 1, 1, new[] { 0, 0, 0, 0 })]
    [TestCase(16, 16, 1, 1, new[] { 1, 1, 1, 1 })]
    [TestCase(11, 23, 1, 1, new[] { 1, 1, 1, 1 })]
    [TestCase(13, 30, 2, 2, new[] { 0, 0, 0, 0 })]
    [TestCase(29, 31, 2, 2, new[] { 0, 1, 1, 0 })]
    [TestCase(33, 47, 2, 2, new[] { 0, 0, 1, 1 })]
    [TestCase(21, 35, 2, 2, new[] { 2, 3, 1, 0 })]
    [TestCase(17, 65, 2, 2, new[] { 1, 2, 2, 1 })]
    [TestCase(19, 33, 1, 2, new[] { 1, 1, 1, 1 })]
    [TestCase(23, 17, 2, 1, new[] { 1, 0, 1, 2 })]
    [TestCase(57, 45, 2, 2, new[] { 1, 1, 1, 1 })]
    public void PlaneHoldsTheFmaChainsBitsAndWritesNothingPastIt(int h, int w, int sh, int sw, int[] pads)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported) Assert.Ignore("needs AVX2 + FMA");
        var p = Problem(1, 1, h, w, 1, 3, sh, sw, pads);
        var g = ConvGeometry.Of(p);
        Assert.That(Depthwise3x3Avx2.Applies(g, 1), Is.True, $"{p}");
        int outH = g.OutH, outW = g.OutW, plane = outH * outW;
        var x = HostTensor.Random(p.XShape, 21).Data;
        var wt = HostTensor.Random(p.WShape, 22).Data;
        const float bias = 0.375f;
        const int guard = 16;
        var y = new float[plane + guard];
        Array.Fill(y, float.NaN);
        long scratchFloats = Depthwise3x3Avx2.ScratchFloats(g);
        Assert.That(scratchFloats > 0, Is.EqualTo(sw == 2), $"{p}: scratch {scratchFloats} floats");
        var scratch = new float[scratchFloats + guard];
        Array.Fill(scratch, float.NaN);
        unsafe
        {
            fixed (float* px = x, pw = wt, py = y, ps = scratch) Depthwise3x3Avx2.Plane(g, px, pw, py, bias, ps);
        }
        for (int oh = 0; oh < outH; oh++)
            for (int ow = 0; ow < outW; ow++)
            {
                float acc = bias;
                for (int dh = 0; dh < 3; dh++)
                    for (int dw = 0; dw < 3; dw++)
                    {
                        int ih = oh * sh - pads[0] + dh, iw = ow * sw - pads[1] + dw;
                        float v = ih >= 0 && ih < h && iw >= 0 && iw < w ? x[ih * w + iw] : 0f;
                        acc = MathF.FusedMultiplyAdd(wt[dh * 3 + dw], v, acc);
                    }
                Assert.That(BitConverter.SingleToInt32Bits(y[oh * outW + ow]), Is.EqualTo(BitConverter.SingleToInt32Bits(acc)),
                    $"{p}: output ({oh}, {ow}) {y[oh * outW + ow]} against {acc}");
            }
        for (int i = plane; i < y.Length; i++)
            Assert.That(float.IsNaN(y[i]), Is.True, $"{p}: wrote {y[i]} at {i - plane} past the plane");
        for (long i = scratchFloats; i < scratch.Length; i++)
            Assert.That(float.IsNaN(scratch[i]), Is.True, $"{p}: wrote {scratch[i]} at {i - scratchFloats} past the scratch");
    }

    /// <summary>The AVX-512 kernels stay with the Vector512 tier: on it the 112 × 112 stride-2 layer keeps the AVX-512 3x3 kernel.</summary>
    [Test]
    public void Vector512KeepsTheAvx512Kernels()
    {
        if (!GemmTiers.IsSupported(GemmTier.Vector512) || !Avx512F.IsSupported)
            Assert.Ignore($"no AVX-512 here (best tier {GemmTiers.Best})");
        var p = Problem(1, 96, 112, 112, 1, 3, 2, 2, [1, 1, 1, 1]);
        Assert.That(CpuForward.DepthwiseKernelFor(ConvGeometry.Of(p), 1, 96, GemmTier.Vector512), Is.EqualTo(DepthwiseKernel.ThreeByThree));
        Assert.That(DepthwiseDirect.UsesAvx2(GemmTier.Vector512), Is.False);
    }
}
