using GpuConv.Conv;
using GpuConv.Cpu.Gemm;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Fused;

/// <summary>
/// <see cref="ConvEngine.ForwardInvertedResidual"/> on the CPU engine: the band kernel and the layer-by-layer path
/// against a float64 chain of the three layers written here (independent of the library's kernels and its reference),
/// on random inputs, with and without the projection (<see cref="ConvEngine.ForwardExpandDepthwise"/>); the band kernel
/// against the layers' own calls; the same bits on one and two threads; the AVX2
/// tier; a warm call allocating nothing; bad input refused by name before any work.
/// </summary>
[TestFixture, NonParallelizable]
public class InvertedResidualTests
{
    /// <summary>max |error| / max |expected| in fp32: three layers of sums of up to a few hundred products.</summary>
    const double Tolerance = 1e-5;

    ConvEngine engine = null!;

    [OneTimeSetUp]
    public void Open() => engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    [OneTimeTearDown]
    public void Close() => engine?.Dispose();

    /// <summary>A block: x [N, C, H, W], expansion to E (0: none), k × k depthwise with stride s, projection to COut.</summary>
    public sealed record Block(int N, int C, int H, int W, int E, int K, int S, int COut, Activation Act, bool Residual, bool Banded)
    {
        /// <summary>Whether the CPU engine runs it in bands here: the 3×3 plane kernels exist for AVX-512 and AVX2 + FMA.</summary>
        public bool BandedHere(ConvEngine e) => Banded && e.Backends.OfType<GpuConv.Backends.CpuBackend>().First().Tier is GemmTier.Vector512 or GemmTier.Vector256;

        public override string ToString() =>
            $"x[{N},{C},{H},{W}] E{E} {K}x{K}/{S} →{COut} {Act}{(Residual ? " +x" : "")}{(Banded ? " (CPU: bands)" : " (CPU: layer by layer)")}";
    }

    internal static IEnumerable<Block> Blocks() =>
    [
        // MobileNetV2's second block at a smaller size: 96 × 40 × 40 expanded (153,600 floats: banded).
        new(1, 16, 40, 40, 96, 3, 2, 24, Activation.Relu6, false, true),
        // A residual block, two images, odd planes.
        new(2, 24, 33, 31, 144, 3, 1, 24, Activation.Relu6, true, true),
        // No expansion (MobileNetV2's first block): the depthwise layer reads x in bands.
        new(1, 160, 36, 36, 0, 3, 1, 16, Activation.Relu, false, true),
        // Hardswish (MobileNetV3), odd height: bands of uneven rows.
        new(1, 24, 47, 44, 144, 3, 2, 40, Activation.Hardswish, false, true),
        // SiLU (EfficientNet's activation).
        new(1, 16, 42, 40, 96, 3, 1, 16, Activation.Silu, true, true),
        // Wider kernels: the layers' own calls (their kernels lose more to the bands' edges than the cache saves).
        new(1, 24, 47, 44, 144, 5, 2, 40, Activation.Hardswish, false, false),
        new(1, 16, 42, 40, 96, 7, 1, 16, Activation.Silu, true, false),
        // Small: the layers' own calls.
        new(2, 8, 10, 9, 48, 3, 1, 8, Activation.Relu6, true, false),
        new(1, 32, 14, 14, 0, 3, 2, 64, Activation.Relu, false, false),
    ];

    internal sealed record Placed(Tensor X, Tensor? Ew, Tensor? Eb, ConvSpec Dw, Tensor Dww, Tensor Dwb, Tensor Pw, Tensor Pb);

    internal static Placed Place(ConvEngine e, Block b, int seed)
    {
        int ex = b.E == 0 ? b.C : b.E;
        var rng = new Random(seed);
        HostTensor R(TensorShape s, double scale) => new(s, [.. Enumerable.Range(0, (int)s.ElementCount).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale))]);
        var x = R(new TensorShape(b.N, b.C, b.H, b.W), 1.5);
        HostTensor? ew = b.E == 0 ? null : R(new TensorShape(b.E, b.C, 1, 1), 1.7 / Math.Sqrt(b.C));
        HostTensor? eb = b.E == 0 ? null : R(new TensorShape(b.E), 0.5);
        var dww = R(new TensorShape(ex, 1, b.K, b.K), 1.7 / b.K);
        var dwb = R(new TensorShape(ex), 0.5);
        var pw = R(new TensorShape(b.COut, ex, 1, 1), 1.7 / Math.Sqrt(ex));
        var pb = R(new TensorShape(b.COut), 0.5);
        var dw = new ConvSpec([b.K, b.K], [b.S, b.S], padBegin: [b.K / 2, b.K / 2], groups: ex);
        return new Placed(e.Upload(x), ew is null ? null : e.Upload(ew), eb is null ? null : e.Upload(eb), dw,
            e.Upload(dww), e.Upload(dwb), e.Upload(pw), e.Upload(pb));
    }

    internal static Tensor Run(ConvEngine e, Placed p, Block b, Tensor? output = null) =>
        e.ForwardInvertedResidual(p.X, p.Ew, p.Eb, p.Dw, p.Dww, p.Dwb, p.Pw, p.Pb, b.Act, b.Residual, output);

    /// <summary>The block in float64, loop by loop (zero padding k / 2 on every side); the depthwise output [N, E, OutH, OutW] without the projection.</summary>
    internal static double[] Float64(ConvEngine e, Placed p, Block b, bool project = true)
    {
        float[] x = e.Download(p.X).Data, dww = e.Download(p.Dww).Data, dwb = e.Download(p.Dwb).Data,
            pw = e.Download(p.Pw).Data, pb = e.Download(p.Pb).Data;
        int ex = b.E == 0 ? b.C : b.E, pad = b.K / 2;
        int oh = (b.H + 2 * pad - b.K) / b.S + 1, ow = (b.W + 2 * pad - b.K) / b.S + 1;
        var y = new double[(long)b.N * (project ? b.COut : ex) * oh * ow];
        for (int n = 0; n < b.N; n++)
        {
            var h = new double[(long)ex * b.H * b.W];
            if (b.E == 0)
                for (long i = 0; i < h.Length; i++) h[i] = x[n * h.Length + i];
            else
            {
                float[] ew = e.Download(p.Ew!).Data, eb = e.Download(p.Eb!).Data;
                for (int c = 0; c < ex; c++)
                    for (int i = 0; i < b.H * b.W; i++)
                    {
                        double s = eb[c];
                        for (int ci = 0; ci < b.C; ci++) s += (double)ew[c * b.C + ci] * x[((long)n * b.C + ci) * b.H * b.W + i];
                        h[(long)c * b.H * b.W + i] = ReferenceActivation.Apply(b.Act, s);
                    }
            }
            var d = new double[(long)ex * oh * ow];
            for (int c = 0; c < ex; c++)
                for (int r = 0; r < oh; r++)
                    for (int q = 0; q < ow; q++)
                    {
                        double s = dwb[c];
                        for (int i = 0; i < b.K; i++)
                            for (int j = 0; j < b.K; j++)
                            {
                                int ih = r * b.S - pad + i, iw = q * b.S - pad + j;
                                if (ih >= 0 && ih < b.H && iw >= 0 && iw < b.W)
                                    s += (double)dww[(c * b.K + i) * b.K + j] * h[((long)c * b.H + ih) * b.W + iw];
                            }
                        d[((long)c * oh + r) * ow + q] = ReferenceActivation.Apply(b.Act, s);
                    }
            if (!project)
            {
                d.CopyTo(y, (long)n * d.Length);
                continue;
            }
            for (int co = 0; co < b.COut; co++)
                for (int i = 0; i < oh * ow; i++)
                {
                    double s = pb[co];
                    for (int c = 0; c < ex; c++) s += (double)pw[co * ex + c] * d[(long)c * oh * ow + i];
                    long at = ((long)n * b.COut + co) * oh * ow + i;
                    if (b.Residual) s += x[at];
                    y[at] = s;
                }
        }
        return y;
    }

    [TestCaseSource(nameof(Blocks))]
    public void MatchesAFloat64ChainOfTheThreeLayers(Block b)
    {
        var p = Place(engine, b, 7);
        var y = engine.Download(Run(engine, p, b)).Data;
        Assert.That(engine.LastInvertedResidualBanded, Is.EqualTo(b.BandedHere(engine)), "which path ran");
        var report = ErrorMetrics.Compare(y, Float64(engine, p, b));
        TestContext.Out.WriteLine($"{b}: {report}");
        Assert.That(report.MaxRelative, Is.LessThan(Tolerance));
    }

    [TestCaseSource(nameof(Blocks))]
    public void ExpandDepthwiseMatchesTheFloat64Chain(Block b)
    {
        if (b.E == 0) Assert.Ignore("a block without expansion: ForwardExpandDepthwise needs one");
        var p = Place(engine, b, 17);
        var y = engine.Download(engine.ForwardExpandDepthwise(p.X, p.Ew!, p.Eb!, p.Dw, p.Dww, p.Dwb, b.Act)).Data;
        Assert.That(engine.LastInvertedResidualBanded, Is.EqualTo(b.BandedHere(engine)), "which path ran");
        var report = ErrorMetrics.Compare(y, Float64(engine, p, b, project: false));
        TestContext.Out.WriteLine($"{b} without the projection: {report}");
        Assert.That(report.MaxRelative, Is.LessThan(Tolerance));
        // The band kernel's depthwise rows against the two layers' calls.
        var layers = engine.ForwardBiasActivation(p.Dw, engine.ForwardBiasActivation(new ConvSpec([1, 1]), p.X, p.Ew!, p.Eb, b.Act), p.Dww, p.Dwb, b.Act);
        Assert.That(Differences.MaxRelative(y, engine.Download(layers).Data), Is.LessThan(Tolerance));
    }

    [TestCaseSource(nameof(Blocks))]
    public void BandsMatchTheThreeLayerCallsAndDoNotDependOnTheThreads(Block b)
    {
        var p = Place(engine, b, 11);
        var banded = engine.Download(Run(engine, p, b)).Data;
        // The layers one by one, as a network without the fused call runs them.
        var h = p.Ew is null ? p.X : engine.ForwardBiasActivation(new ConvSpec([1, 1]), p.X, p.Ew, p.Eb, b.Act);
        var d = engine.ForwardBiasActivation(p.Dw, h, p.Dww, p.Dwb, b.Act);
        var y = engine.Forward(new ConvSpec([1, 1]), d, p.Pw, p.Pb);
        if (b.Residual) y = engine.Add(y, p.X);
        var layers = engine.Download(y).Data;
        Assert.That(Differences.MaxRelative(banded, layers), Is.LessThan(Tolerance));
        using var one = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = 1 });
        var onOne = one.Download(Run(one, Place(one, b, 11), b)).Data;
        Assert.That(onOne, Is.EqualTo(banded), "one thread against the engine's threads: bit for bit");
    }

    [Test]
    public void TheAvx2TierRunsTheBandsToo()
    {
        using var avx2 = EngineOnBackends.Open(Avx2Tier.Backend());
        foreach (var b in Blocks().Where(b => b.K == 3))
        {
            var p = Place(avx2, b, 5);
            var y = avx2.Download(Run(avx2, p, b)).Data;
            Assert.That(avx2.LastInvertedResidualBanded, Is.EqualTo(b.BandedHere(avx2)), $"{b}: which path ran");
            var report = ErrorMetrics.Compare(y, Float64(avx2, p, b));
            Assert.That(report.MaxRelative, Is.LessThan(Tolerance), b.ToString());
        }
    }

    [Test]
    public void WritesIntoTheGivenOutputAndAWarmCallAllocatesNothing()
    {
        var b = Blocks().First();
        var p = Place(engine, b, 3);
        var expected = engine.Download(Run(engine, p, b)).Data;
        using var output = engine.Allocate(new TensorShape(1, 24, 20, 20));
        for (int i = 0; i < 3; i++) Run(engine, p, b, output);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) Run(engine, p, b, output);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(engine.Download(output).Data, Is.EqualTo(expected));
        Assert.That(allocated, Is.Zero, "bytes allocated by 20 warm calls");
    }

    [Test]
    public void BadInputIsRefusedByName()
    {
        var b = Blocks().First();
        var p = Place(engine, b, 1);
        Tensor Call(Tensor? x = null, Tensor? ew = null, Tensor? eb = null, bool dropEb = false, ConvSpec? dw = null, Tensor? dww = null,
            Tensor? pw = null, Tensor? pb = null, bool residual = false, Tensor? output = null) =>
            engine.ForwardInvertedResidual(x ?? p.X, ew ?? p.Ew, dropEb ? null : eb ?? p.Eb, dw ?? p.Dw, dww ?? p.Dww, p.Dwb, pw ?? p.Pw, pb ?? p.Pb,
                b.Act, residual, output);
        ExpectArgument.Throws(() => Call(x: engine.Allocate(new TensorShape(16, 40, 40))), "x", "[16, 40, 40]", "[N, C, H, W]");
        ExpectArgument.Throws(() => Call(dropEb: true), "expandBias", "give both");
        ExpectArgument.Throws(() => Call(ew: engine.Allocate(new TensorShape(96, 16, 3, 3))), "expandWeight", "[96, 16, 3, 3]");
        ExpectArgument.Throws(() => Call(ew: engine.Allocate(new TensorShape(96, 8, 1, 1))), "expandWeight", "8");
        ExpectArgument.Throws(() => Call(eb: engine.Allocate(new TensorShape(95))), "expandBias", "[96]", "[95]");
        ExpectArgument.Throws(() => Call(dw: new ConvSpec([3, 3], [2, 2], padBegin: [1, 1], groups: 48)), "depthwise", "groups = 48", "groups = 96");
        ExpectArgument.Throws(() => Call(dw: new ConvSpec([3], groups: 96)), "depthwise", "rank 1");
        ExpectArgument.Throws(() => Call(dww: engine.Allocate(new TensorShape(96, 2, 3, 3))), "depthwiseWeight", "[96, 2, 3, 3]");
        ExpectArgument.Throws(() => Call(pw: engine.Allocate(new TensorShape(24, 95, 1, 1))), "projectWeight", "95");
        ExpectArgument.Throws(() => Call(pb: engine.Allocate(new TensorShape(23))), "projectBias", "[24]");
        ExpectArgument.Throws(() => Call(residual: true), "residual", "[1, 16, 40, 40]", "[1, 24, 20, 20]");
        ExpectArgument.Throws(() => Call(output: engine.Allocate(new TensorShape(1, 24, 40, 40))), "output", "[1, 24, 40, 40]");
        ExpectArgument.Throws(() => Call(output: p.Pw), "output");
        Assert.Throws<ArgumentException>(() => engine.ForwardInvertedResidual(p.X, p.Ew, p.Eb, p.Dw, p.Dww, p.Dwb, p.Pw, p.Pb, (Activation)99));
        // ForwardExpandDepthwise: the same checks, and an output of the depthwise layer's shape.
        ExpectArgument.Throws(() => engine.ForwardExpandDepthwise(p.X, p.Ew!, engine.Allocate(new TensorShape(95)), p.Dw, p.Dww, p.Dwb, b.Act),
            "expandBias", "[96]", "[95]");
        ExpectArgument.Throws(() => engine.ForwardExpandDepthwise(p.X, p.Ew!, p.Eb!, p.Dw, p.Dww, p.Dwb, b.Act,
            output: engine.Allocate(new TensorShape(1, 24, 20, 20))), "output", "[1, 24, 20, 20]");
        ExpectArgument.Throws(() => engine.ForwardExpandDepthwise(p.X, p.Ew!, p.Eb!, p.Dw, p.Dww, p.Dwb, b.Act, output: p.Dww), "output");
    }
}
