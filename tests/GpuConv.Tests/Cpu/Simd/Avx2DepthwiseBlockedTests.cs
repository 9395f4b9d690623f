using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cpu.Depthwise;
using GpuConv.Cpu.Gemm;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Allocation;

using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// The 8-channel AVX2 forms of the small-plane blocked depthwise kernel (<see cref="DepthwiseBlockedAvx2"/>) and of the
/// channel-last one (<see cref="DepthwiseChannelLastAvx2"/>, which takes 2-D 5x5 and 7x7 stride 1 before it since s29)
/// against the float64 reference: through the backend where their rules take the layer (channels past
/// the last whole 8 by the per-plane kernel), with and without bias, each fused activation, on one and two threads; and
/// the kernel called directly on 3x3 layers, which its rule leaves to <see cref="Depthwise3x3Avx2"/> but which it
/// must still get right. Warm runs allocate nothing. The tier is forced to Vector256, so these run on AVX-512 machines too.
/// </summary>
public class Avx2DepthwiseBlockedTests
{
    /// <summary>Max |error| / max |conv + bias| (before the activation): sums of up to 49 products in fp32.</summary>
    const double Tolerance = 1e-5;

    static ConvProblem Problem(int n, int c, int h, int w, int r, int stride, int[] pads, int dilation = 1) =>
        ConvProblem.Create(new ConvSpec([r, r], [stride, stride], [dilation, dilation], padBegin: [pads[0], pads[1]], padEnd: [pads[2], pads[3]], groups: c),
            new TensorShape(n, c, h, w), new TensorShape(c, 1, r, r));

    // EfficientNet-B0's 7 × 7 and 14 × 14 5x5 layers (stride 1 and 2, fewer channels); channel counts that leave
    // 1, 5 and 7 channels to the per-plane kernel, and 8 (none); 7x7 up to 28 × 28; asymmetric and no padding; a batch
    // of 3; odd planes. 2-D 5x5 (stride 1 or 2) and 7x7 stride 1 go to the channel-last kernel
    // (<see cref="DepthwiseChannelLastAvx2"/>) since s29; 7x7 stride 2 and dilated ones still to the blocked one.
    [TestCase(1, 40, 7, 7, 5, 1, new[] { 2, 2, 2, 2 }, 1, true)]
    [TestCase(1, 21, 14, 14, 5, 2, new[] { 2, 2, 2, 2 }, 1, true)]
    [TestCase(3, 13, 14, 14, 5, 1, new[] { 2, 2, 2, 2 }, 1, true)]
    [TestCase(1, 8, 9, 11, 5, 2, new[] { 1, 2, 3, 0 }, 1, true)]
    [TestCase(2, 17, 7, 7, 5, 1, new[] { 0, 0, 0, 0 }, 1, true)]
    [TestCase(1, 15, 28, 28, 7, 1, new[] { 3, 3, 3, 3 }, 1, true)]
    [TestCase(2, 9, 7, 7, 7, 1, new[] { 3, 3, 3, 3 }, 1, true)]
    [TestCase(1, 24, 14, 14, 7, 2, new[] { 3, 3, 3, 3 }, 1, false)]
    [TestCase(2, 12, 13, 11, 7, 2, new[] { 3, 2, 1, 3 }, 1, false)]
    [TestCase(1, 17, 12, 12, 5, 1, new[] { 4, 4, 4, 4 }, 2, false)]
    public void MatchesReference(int n, int c, int h, int w, int r, int stride, int[] pads, int dilation, bool channelLast)
    {
        Avx2Tier.Require();
        var p = Problem(n, c, h, w, r, stride, pads, dilation);
        Assert.That(CpuForward.DepthwiseKernelFor(ConvGeometry.Of(p), 1, c, GemmTier.Vector256), Is.EqualTo(channelLast ? DepthwiseKernel.ChannelLastAvx2 : DepthwiseKernel.BlockedAvx2), $"kernel for {p}");
        var x = HostTensor.Random(p.XShape, 21);
        var wt = HostTensor.Random(p.WShape, 22);
        // Bias in [-6, 6]: the sums land on both sides of ReLU6's 6 and across SiLU's curve.
        var b = HostTensor.Random(new TensorShape(p.K), 23);
        for (int i = 0; i < b.Data.Length; i++) b.Data[i] *= 6f;
        foreach (int threads in new[] { 1, 2 })
        {
            using var cpu = new CpuBackend(threads, GemmTier.Vector256);
            IFusedBiasActivation fusing = cpu;
            var algo = cpu.GetAlgorithms(p, ConvPrecision.Strict).SingleOrDefault(a => a.Name == CpuBackend.DirectDepthwise)
                ?? throw new AssertionException($"{CpuBackend.DirectDepthwise} not offered on Vector256 for {p}");
            foreach (bool bias in new[] { true, false })
            {
                double[] reference = ReferenceConv.Forward(p, x.Data, wt.Data, bias ? b.Data : default);
                double scale = reference.Max(Math.Abs);
                foreach (var act in Enum.GetValues<Activation>())
                {
                    var y = new HostTensor(p.YShape);
                    Array.Fill(y.Data, float.NaN);     // an output the kernel forgets to write fails
                    Assert.That(fusing.TryRunBiasActivation(p, algo, new ConvTensors(x, wt, y, bias ? b : null), act), Is.True, "fused run declined");
                    var expected = reference.Select(v => (float)CpuFusedActivationTests.Act(act, v)).ToArray();
                    double error = Differences.MaxAbs(y.Data, expected) / scale;
                    Assert.That(double.IsFinite(error) && error < Tolerance, $"{p}, {threads} thread(s), bias {bias}, {act}: {error:E2} from float64");
                }
            }
            // Warm, the 8-channel blocks and the padded copy's leftover channels take their scratch from the
            // workers' workspaces (sized by the candidate's workspace): nothing allocated on any thread.
            var warm = new ConvTensors(x, wt, new HostTensor(p.YShape), b);
            double bytes = WarmCalls.ProcessBytesPerCall(() => cpu.Run(p, algo, warm));
            Assert.That(bytes, Is.LessThan(1), $"{p}, {threads} thread(s): {bytes:F1} B per warm call");
        }
    }

    // 3x3 (stride 1 and 2, MobileNetV2's 7 × 7 and 14 × 14 planes), dilation 2, asymmetric padding, 5x5: whole
    // blocks of 8 channels straight through the kernel, bias added in its output transpose.
    [TestCase(16, 7, 7, 3, 1, new[] { 1, 1, 1, 1 }, 1)]
    [TestCase(8, 14, 14, 3, 2, new[] { 1, 1, 1, 1 }, 1)]
    [TestCase(8, 13, 10, 3, 1, new[] { 2, 2, 2, 2 }, 2)]
    [TestCase(24, 11, 9, 3, 2, new[] { 0, 1, 1, 0 }, 1)]
    [TestCase(8, 7, 7, 5, 1, new[] { 2, 2, 2, 2 }, 1)]
    public unsafe void KernelMatchesReference(int c, int h, int w, int r, int stride, int[] pads, int dilation)
    {
        Avx2Tier.Require();
        var p = Problem(1, c, h, w, r, stride, pads, dilation);
        var g = ConvGeometry.Of(p);
        var x = HostTensor.Random(p.XShape, 31);
        var wt = HostTensor.Random(p.WShape, 32);
        var b = HostTensor.Random(new TensorShape(c), 33);
        double[] reference = ReferenceConv.Forward(p, x.Data, wt.Data, b.Data);
        var y = new float[p.YShape.ElementCountInt];
        Array.Fill(y, float.NaN);
        var scratch = new float[DepthwiseBlockedAvx2.ScratchFloats(g)];
        int inPlane = h * w, outPlane = y.Length / c, kvol = r * r;
        fixed (float* px = x.Data, pw = wt.Data, pb = b.Data, py = y, ps = scratch)
            for (int c0 = 0; c0 < c; c0 += 8)
                DepthwiseBlockedAvx2.Block(g, px + c0 * inPlane, pw + c0 * kvol, py + c0 * outPlane, pb + c0, ps);
        var error = ErrorMetrics.Compare(y, reference);
        Assert.That(double.IsFinite(error.MaxRelative) && error.MaxRelative < Tolerance, $"{p}: {error}");
    }

    /// <summary>The rule as measured: no 3x3 layer, and no 5x5 on inputs past 14 × 14, gets the 8-channel kernel; nor fewer than 8 channels.</summary>
    [Test]
    public void RuleLeavesThreeByThreeAndLargerFiveByFivePlanes()
    {
        Avx2Tier.Require();
        foreach (var (c, size, r, stride) in new[] { (960, 7, 3, 1), (576, 14, 3, 2), (384, 14, 3, 1), (240, 28, 5, 1), (240, 28, 5, 2), (7, 7, 5, 1) })
        {
            var p = Problem(1, c, size, size, r, stride, [r / 2, r / 2, r / 2, r / 2]);
            Assert.That(CpuForward.DepthwiseKernelFor(ConvGeometry.Of(p), 1, c, GemmTier.Vector256), Is.Not.EqualTo(DepthwiseKernel.BlockedAvx2), $"{p}");
        }
        // Never on the Vector512 tier (the 16-channel kernel's rule decides there).
        var big = Problem(1, 64, 7, 7, 5, 1, [2, 2, 2, 2]);
        Assert.That(DepthwiseBlockedAvx2.Applies(ConvGeometry.Of(big), 1, 64, GemmTier.Vector512), Is.False);
    }
}
