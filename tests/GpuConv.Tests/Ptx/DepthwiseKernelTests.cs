using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Tensors;

using GpuConv.Tests.Support;

namespace GpuConv.Tests.Ptx;

/// <summary>
/// depthwise_fwd_f32 bit for bit. Its 32-bit path computes 4 outputs of a row per thread (row programs:
/// straight-line for 3-wide kernels with stride 1 or 2 and dilation 1, a register window when
/// s_w == dl_w, a load per output and tap otherwise); each output must still be exactly the float sum
/// <see cref="FloatDefinition"/> describes: taps in (td, th, tw) order with fma from 0, taps in the
/// padding skipped, the bias added last. The 64-bit path (one thread per output) is held to the same
/// definition. Row tails (out_w not a multiple of 4, below 4, 1), strides, dilations, ranks 1-3,
/// channel multipliers and MobileNetV2-like layers; nothing outside y is written.
/// </summary>
public class DepthwiseKernelTests
{
    /// <summary>
    /// The kernel's arithmetic in C#: float fma per tap in (td, th, tw) order from +0, padded taps skipped,
    /// then + bias. Its own index arithmetic (spatial dims widened to 3-d here), not ConvGeometry's.
    /// </summary>
    internal static float[] FloatDefinition(ConvProblem p, float[] x, float[] w, float[] bias)
    {
        int lead = 3 - p.Rank;
        int[] inS = Widen(p.XShape.Dims.Skip(2), 1), outS = Widen(p.YShape.Dims.Skip(2), 1);
        int[] k = Widen(p.Spec.Kernel, 1), s = Widen(p.Spec.Stride, 1), dl = Widen(p.Spec.Dilation, 1), pad = Widen(p.Spec.PadBegin, 0);
        int n = p.N, c = p.C, kOut = p.K, m = kOut / c;
        long inPlane = (long)inS[0] * inS[1] * inS[2], outPlane = (long)outS[0] * outS[1] * outS[2], taps = (long)k[0] * k[1] * k[2];
        var y = new float[n * kOut * outPlane];
        for (int img = 0; img < n; img++)
        for (int ko = 0; ko < kOut; ko++)
        for (int od = 0; od < outS[0]; od++)
        for (int oh = 0; oh < outS[1]; oh++)
        for (int ow = 0; ow < outS[2]; ow++)
        {
            float acc = 0f;
            long xPlane = ((long)img * c + ko / m) * inPlane, wRow = ko * taps;
            for (int td = 0; td < k[0]; td++)
            {
                long id = (long)od * s[0] - pad[0] + (long)td * dl[0];
                if (id < 0 || id >= inS[0]) continue;
                for (int th = 0; th < k[1]; th++)
                {
                    long ih = (long)oh * s[1] - pad[1] + (long)th * dl[1];
                    if (ih < 0 || ih >= inS[1]) continue;
                    for (int tw = 0; tw < k[2]; tw++)
                    {
                        long iw = (long)ow * s[2] - pad[2] + (long)tw * dl[2];
                        if (iw < 0 || iw >= inS[2]) continue;
                        acc = MathF.FusedMultiplyAdd(x[xPlane + (id * inS[1] + ih) * inS[2] + iw], w[wRow + ((long)td * k[1] + th) * k[2] + tw], acc);
                    }
                }
            }
            if (bias.Length > 0) acc += bias[ko];
            y[(((long)img * kOut + ko) * outS[0] + od) * outS[1] * outS[2] + (long)oh * outS[2] + ow] = acc;
        }
        return y;

        int[] Widen(IEnumerable<int> dims, int fill) => [.. Enumerable.Repeat(fill, lead), .. dims];
    }

    /// <summary>
    /// Runs the kernel in the interpreter; <paramref name="grid"/> 0 = the backend's launch (a thread per
    /// row group on the 32-bit path, as PtxConvBackend.DepthwiseForward). y is followed by poisoned slack
    /// that must stay untouched.
    /// </summary>
    internal static (float[] Y, PtxInterpreter Interpreter) Run(ConvProblem p, float[] x, float[] w, float[] bias, bool force64, int grid = 0, int block = 256)
    {
        const int Slack = 16;
        var mem = new PtxGlobalMemory();
        ulong xPtr = mem.Upload(x), wPtr = mem.Upload(w), bPtr = bias.Length > 0 ? mem.Upload(bias) : 0UL;
        int count = (int)p.YShape.ElementCount;
        ulong yPtr = mem.AllocatePoisoned(count + Slack);
        if (grid == 0)
        {
            long threads = force64 ? p.YShape.ElementCount : PtxKernelArguments.DepthwiseThreads(p);
            grid = (int)Math.Clamp((threads + block - 1) / block, 1, PtxConvBackend.MaxBlocks);
        }
        var interpreter = new PtxInterpreter(mem);
        interpreter.Launch(ShippedKernels.Get("depthwise.ptx", "depthwise_fwd_f32"), new(grid), new(block),
            PtxKernelArguments.Depthwise(p, xPtr, wPtr, bPtr, yPtr, force64));
        PtxKernelTests.AssertPath(interpreter, force64);
        var all = mem.Download(yPtr, count + Slack);
        Assert.That(all.Skip(count).All(float.IsNaN), "nothing past y is written");
        return (all.Take(count).ToArray(), interpreter);
    }

    static void AssertBitExact(float[] actual, float[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length));
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                Assert.Fail($"{what}: y[{i}] = {actual[i]:R} (0x{BitConverter.SingleToInt32Bits(actual[i]):X8}), expected {expected[i]:R} (0x{BitConverter.SingleToInt32Bits(expected[i]):X8})");
    }

    static ConvProblem Depthwise(int[] input, int[] kernel, int[] stride, int[] dilation, int[] pad, int multiplier = 1, int[]? padEnd = null)
    {
        int c = input[1];
        return ConvProblem.Create(new ConvSpec(kernel, stride, dilation, pad, padEnd ?? pad, groups: c),
            new TensorShape(input), new TensorShape([c * multiplier, 1, .. kernel]));
    }

    [Test]
    public void RandomDepthwiseProblemsAreBitExactOnBothPaths([Range(0, 39)] int seed, [Values(false, true)] bool force64)
    {
        var rng = new Random(7100 + seed);
        var p = RandomConvProblems.Next(rng, depthwise: true, maxSpatial: 11);
        var x = RandomConvProblems.RandomData(rng, p.XShape.ElementCount);
        var w = RandomConvProblems.RandomData(rng, p.WShape.ElementCount);
        var bias = seed % 2 == 0 ? RandomConvProblems.RandomData(rng, p.K) : [];
        // A small grid so that the grid-stride loop runs several times on either path.
        var (y, _) = Run(p, x, w, bias, force64, grid: 2, block: 32);
        AssertBitExact(y, FloatDefinition(p, x, w, bias), $"{p} bias={bias.Length > 0} force64={force64}");
    }

    /// <summary>Named geometries: which row program each reaches on the 32-bit path, and the row tails.</summary>
    static IEnumerable<TestCaseData> Geometries()
    {
        // 3x3, stride 1, pad 1 (straight-line, 6 columns per row): out_w = in_w, tails 1..3 and past multiples of 4.
        foreach (int width in new[] { 1, 2, 3, 4, 5, 6, 7, 9, 13 })
            yield return new TestCaseData(Depthwise([2, 3, 5, width], [3, 3], [1, 1], [1, 1], [1, 1])).SetArgDisplayNames($"k3 s1 in_w={width}");
        // 3x3, stride 2, pad 1 (straight-line, 9 columns per row): out_w = (in_w - 1) / 2 + 1.
        foreach (int width in new[] { 1, 2, 3, 5, 8, 9, 14, 15, 16, 17 })
            yield return new TestCaseData(Depthwise([2, 3, 6, width], [3, 3], [2, 2], [1, 1], [1, 1])).SetArgDisplayNames($"k3 s2 in_w={width}");
        // 3-wide rows under other kernel heights (the straight-line rows inside the kernel-row loop), and 3x3 with a dilated height.
        yield return new TestCaseData(Depthwise([1, 2, 6, 9], [2, 3], [1, 1], [1, 1], [1, 1])).SetArgDisplayNames("k(2,3) s1");
        yield return new TestCaseData(Depthwise([1, 2, 9, 10], [5, 3], [2, 2], [1, 1], [2, 1])).SetArgDisplayNames("k(5,3) s2");
        yield return new TestCaseData(Depthwise([1, 2, 9, 10], [3, 3], [1, 1], [2, 1], [2, 1])).SetArgDisplayNames("k3 s1 dl(2,1)");
        yield return new TestCaseData(Depthwise([1, 2, 9, 10], [3, 3], [3, 2], [1, 1], [0, 1])).SetArgDisplayNames("k3 s(3,2) pad(0,1)");
        // Dilation 2 with stride 1 (s_w != dl_w: a load per output and tap) and with stride 2 (s_w == dl_w: the register window).
        yield return new TestCaseData(Depthwise([1, 2, 7, 10], [3, 3], [1, 1], [2, 2], [2, 2])).SetArgDisplayNames("k3 s1 dl2");
        yield return new TestCaseData(Depthwise([1, 2, 9, 11], [3, 3], [2, 2], [2, 2], [1, 1])).SetArgDisplayNames("k3 s2 dl2");
        yield return new TestCaseData(Depthwise([1, 2, 6, 11], [3, 3], [1, 3], [1, 1], [1, 1])).SetArgDisplayNames("k3 s(1,3)");
        // Other kernel widths: 5 and 1 slide (s == dl), 2 with stride 2 and 4 with dilation 3 gather.
        yield return new TestCaseData(Depthwise([1, 2, 6, 12], [5, 5], [1, 1], [1, 1], [2, 2])).SetArgDisplayNames("k5 s1");
        yield return new TestCaseData(Depthwise([1, 3, 4, 7], [1, 1], [1, 1], [1, 1], [0, 0])).SetArgDisplayNames("k1");
        yield return new TestCaseData(Depthwise([1, 2, 6, 13], [2, 2], [2, 2], [1, 1], [0, 0])).SetArgDisplayNames("k2 s2");
        yield return new TestCaseData(Depthwise([1, 2, 5, 14], [1, 4], [1, 1], [1, 3], [0, 4])).SetArgDisplayNames("k(1,4) dl3");
        // Asymmetric padding: the end padding only shortens the row.
        yield return new TestCaseData(Depthwise([1, 2, 6, 9], [3, 3], [1, 1], [1, 1], [1, 1], padEnd: [0, 0])).SetArgDisplayNames("k3 s1 pad(1,0)");
        // Ranks 1 and 3, channel multipliers.
        yield return new TestCaseData(Depthwise([2, 3, 10], [3], [1], [1], [1], multiplier: 2)).SetArgDisplayNames("rank1 k3 s1 m2");
        yield return new TestCaseData(Depthwise([2, 3, 11], [3], [2], [1], [1], multiplier: 3)).SetArgDisplayNames("rank1 k3 s2 m3");
        yield return new TestCaseData(Depthwise([1, 2, 4, 5, 6], [3, 3, 3], [1, 1, 1], [1, 1, 1], [1, 1, 1], multiplier: 2)).SetArgDisplayNames("rank3 k3 s1 m2");
        yield return new TestCaseData(Depthwise([1, 2, 5, 5, 9], [3, 3, 3], [2, 2, 2], [1, 1, 1], [1, 1, 1])).SetArgDisplayNames("rank3 k3 s2");
        yield return new TestCaseData(Depthwise([1, 2, 4, 5, 7], [2, 3, 2], [1, 2, 1], [2, 1, 1], [1, 0, 1])).SetArgDisplayNames("rank3 mixed");
    }

    [TestCaseSource(nameof(Geometries))]
    public void GeometriesAreBitExactOnBothPaths(ConvProblem p)
    {
        var rng = new Random(p.ToString().Aggregate(17, (h, ch) => unchecked(h * 31 + ch)));
        var x = RandomConvProblems.RandomData(rng, p.XShape.ElementCount);
        var w = RandomConvProblems.RandomData(rng, p.WShape.ElementCount);
        var bias = RandomConvProblems.RandomData(rng, p.K);
        var expected = FloatDefinition(p, x, w, bias);
        foreach (bool force64 in new[] { false, true })
        {
            AssertBitExact(Run(p, x, w, bias, force64).Y, expected, $"{p} force64={force64}");
            AssertBitExact(Run(p, x, w, [], force64, grid: 1, block: 32).Y, FloatDefinition(p, x, w, []), $"{p} no bias, one block, force64={force64}");
        }
        // And within the float64 reference's tolerance, so the definition itself is the convolution.
        var report = ErrorMetrics.Compare(expected, ReferenceConv.Forward(p, x, w, bias));
        Assert.That(report.MaxRelative, Is.LessThan(1e-5), report.ToString());
    }

    /// <summary>MobileNetV2's depthwise layers (batch 1, 3x3, pad 1), channels cut so the interpreter stays quick; the backend's launch.</summary>
    [TestCase(1, 4, 112, 1, TestName = "MobileNetV2 features.1-like: 4x112x112 stride 1")]
    [TestCase(1, 4, 112, 2, TestName = "MobileNetV2 features.2-like: 4x112x112 stride 2")]
    [TestCase(1, 8, 56, 2, TestName = "MobileNetV2 features.4-like: 8x56x56 stride 2")]
    [TestCase(1, 16, 28, 1, TestName = "MobileNetV2 features.5-like: 16x28x28 stride 1")]
    [TestCase(1, 24, 14, 2, TestName = "MobileNetV2 features.14-like: 24x14x14 stride 2")]
    [TestCase(1, 96, 7, 1, TestName = "MobileNetV2 features.15-like: 96x7x7 stride 1")]
    public void MobileNetV2LikeLayersAreBitExact(int n, int c, int size, int stride)
    {
        var p = Depthwise([n, c, size, size], [3, 3], [stride, stride], [1, 1], [1, 1]);
        var rng = new Random(c * 1000 + size * 10 + stride);
        var x = RandomConvProblems.RandomData(rng, p.XShape.ElementCount);
        var w = RandomConvProblems.RandomData(rng, p.WShape.ElementCount);
        var bias = RandomConvProblems.RandomData(rng, p.K);
        AssertBitExact(Run(p, x, w, bias, force64: false).Y, FloatDefinition(p, x, w, bias), p.ToString());
    }

    /// <summary>
    /// A tap in the padding is skipped, not multiplied by a zero: with an infinite filter tap there the
    /// output stays finite (0·inf would be NaN), and an accumulator that is -0 (two products too small
    /// for a float) stays -0 (adding +0 would make it +0). Channel 0 checks the left edge, channel 1 the right.
    /// </summary>
    [TestCase(1, 1, 1, TestName = "Padding is skipped: 3-wide, stride 1 (straight-line)")]
    [TestCase(2, 1, 1, TestName = "Padding is skipped: 3-wide, stride 2 (straight-line)")]
    [TestCase(1, 2, 2, TestName = "Padding is skipped: 3-wide, dilation 2 (a load per tap)")]
    [TestCase(2, 2, 2, TestName = "Padding is skipped: 3-wide, stride 2, dilation 2 (register window)")]
    public void PaddedTapsAreSkippedNotMultipliedByZero(int stride, int dilation, int pad)
    {
        const int Width = 9;
        var p = Depthwise([1, 2, Width], [3], [stride], [dilation], [pad]);
        int outW = p.YShape.Dims[2];
        var x = new float[2 * Width];
        var rng = new Random(5);
        for (int i = 0; i < Width; i++) x[i] = (float)(rng.NextDouble() + 0.5);
        // Channel 1: the last output's taps inside the row multiply tiny values; its taps in the padding
        // would meet w = 2.
        int lastStart = (outW - 1) * stride - pad;
        for (int t = 0; t < 3; t++)
        {
            int iw = lastStart + t * dilation;
            if (iw >= 0 && iw < Width) x[Width + iw] = -1e-30f;
        }
        float[] w = [float.PositiveInfinity, 0.75f, -0.5f, 1e-30f, 1e-30f, 2f];
        var expected = FloatDefinition(p, x, w, []);
        Assert.That(float.IsFinite(expected[0]), "output 0's infinite tap lies in the padding");
        Assert.That(BitConverter.SingleToInt32Bits(expected[outW + outW - 1]), Is.EqualTo(BitConverter.SingleToInt32Bits(-0f)), "the last output of channel 1 is -0");
        foreach (bool force64 in new[] { false, true })
            AssertBitExact(Run(p, x, w, [], force64).Y, expected, $"{p} force64={force64}");
    }

    [Test]
    public void TheBackendLaunchesOneThreadPerRowGroupOfFour()
    {
        // 7 outputs per row: 2 groups (4 + 3); 112: 28; 1: 1.
        Assert.That(PtxKernelArguments.DepthwiseOutputsPerThread, Is.EqualTo(4));
        Assert.That(PtxKernelArguments.DepthwiseThreads(Depthwise([1, 960, 7, 7], [3, 3], [1, 1], [1, 1], [1, 1])), Is.EqualTo(960L * 7 * 2));
        Assert.That(PtxKernelArguments.DepthwiseThreads(Depthwise([2, 32, 112, 112], [3, 3], [1, 1], [1, 1], [1, 1])), Is.EqualTo(2L * 32 * 112 * 28));
        Assert.That(PtxKernelArguments.DepthwiseThreads(Depthwise([1, 3, 4, 4, 1], [3, 3, 1], [1, 1, 1], [1, 1, 1], [1, 1, 0], multiplier: 2)), Is.EqualTo(6L * 4 * 4));
    }
}
