using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cpu.BackwardFilter;
using GpuConv.Cpu.Gemm;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// The CPU backward-filter algorithms (reduction-split with its im2col and shifted paths, direct-depthwise,
/// im2col-gemm, gemm-1x1) against the float64 reference on random non-zero inputs. The bound is relative
/// to the largest weight gradient, as fits fp32 sums over long reductions (up to ~25k products here):
/// max |error| / max |reference| &lt; 1e-5 and the L2 relative error &lt; 1e-5.
/// </summary>
public class BackwardFilterTests
{
    const double Tolerance = 1e-5;

    /// <summary>(name, spec, x shape, w shape) across strides 1–3, kernels 1–7, asymmetric pads, dilation, groups, depthwise, ranks 1–3, batch 1–4.</summary>
    static IEnumerable<(string Name, ConvSpec Spec, TensorShape X, TensorShape W)> Cases()
    {
        yield return ("3x3 s1 p1, 32 ch (shifted)", new ConvSpec([3, 3], padBegin: [1]), new(2, 32, 19, 23), new(24, 32, 3, 3));
        yield return ("3x3 s1 asym pad, 64 ch (shifted)", new ConvSpec([3, 3], padBegin: [0, 2], padEnd: [1, 0]), new(3, 64, 17, 20), new(64, 64, 3, 3));
        yield return ("3x3 s2 p1 dil 2, 16 ch (shifted)", new ConvSpec([3, 3], stride: [2], padBegin: [1], dilation: [2]), new(2, 16, 21, 18), new(40, 16, 3, 3));
        yield return ("5x5 s3 p2, 20 ch (shifted)", new ConvSpec([5, 5], stride: [3], padBegin: [2]), new(4, 20, 25, 22), new(16, 20, 5, 5));
        yield return ("7x7 s2 p3 stem-like (padded-columns)", new ConvSpec([7, 7], stride: [2], padBegin: [3]), new(2, 3, 40, 38), new(24, 3, 7, 7));
        yield return ("3x3 128 ch (padded-columns path, chunks spanning images)", new ConvSpec([3, 3], padBegin: [1]), new(2, 128, 12, 11), new(96, 128, 3, 3));
        yield return ("1x1 s1 (pointwise)", new ConvSpec([1, 1]), new(3, 40, 15, 17), new(72, 40, 1, 1));
        yield return ("1x1 s1, 24 ch at 29 x 29 (dot products on AVX-512)", new ConvSpec([1, 1]), new(2, 24, 29, 29), new(56, 24, 1, 1));
        yield return ("1x1 s2", new ConvSpec([1, 1], stride: [2]), new(2, 24, 15, 16), new(48, 24, 1, 1));
        yield return ("1x1 s1, 96 -> 160 at 12 x 13, one image (output-channel tiles)", new ConvSpec([1, 1]), new(1, 96, 12, 13), new(160, 96, 1, 1));
        yield return ("grouped 1x1 g2, 64 -> 256 (output-channel tiles per group)", new ConvSpec([1, 1], groups: 2), new(2, 64, 9, 10), new(256, 32, 1, 1));
        yield return ("3x3 s2 p1, 80 -> 200 (padded columns, output-channel tiles)", new ConvSpec([3, 3], stride: [2], padBegin: [1]), new(1, 80, 17, 15), new(200, 80, 3, 3));
        yield return ("2x2 s2 no pad, odd input", new ConvSpec([2, 2], stride: [2]), new(1, 8, 13, 15), new(12, 8, 2, 2));
        yield return ("grouped 3x3 g4", new ConvSpec([3, 3], padBegin: [1], groups: 4), new(2, 32, 14, 13), new(48, 8, 3, 3));
        yield return ("grouped 3x3 g2 64 per group (shifted)", new ConvSpec([3, 3], padBegin: [1], groups: 2), new(2, 128, 10, 12), new(64, 64, 3, 3));
        yield return ("depthwise 3x3 s1 p1", new ConvSpec([3, 3], padBegin: [1], groups: 24), new(3, 24, 29, 31), new(24, 1, 3, 3));
        yield return ("depthwise 3x3 s2 asym pad", new ConvSpec([3, 3], stride: [2], padBegin: [0, 1], padEnd: [1, 1], groups: 16), new(2, 16, 22, 21), new(16, 1, 3, 3));
        yield return ("depthwise 5x5 s1 dil 2", new ConvSpec([5, 5], padBegin: [4], dilation: [2], groups: 8), new(2, 8, 20, 18), new(8, 1, 5, 5));
        yield return ("depthwise 7x7 s3 p3", new ConvSpec([7, 7], stride: [3], padBegin: [3], groups: 6), new(1, 6, 31, 29), new(6, 1, 7, 7));
        yield return ("depthwise multiplier 3, 3x3 s1", new ConvSpec([3, 3], padBegin: [1], groups: 10), new(2, 10, 15, 33), new(30, 1, 3, 3));
        yield return ("depthwise multiplier 2, 4x2 s2 narrow", new ConvSpec([4, 2], stride: [2, 1], padBegin: [1, 0], groups: 12), new(4, 12, 9, 7), new(24, 1, 4, 2));
        yield return ("depthwise 1-d k5 s2", new ConvSpec([5], stride: [2], padBegin: [2], groups: 20), new(3, 20, 101), new(20, 1, 5));
        yield return ("depthwise 3-d 3x3x3", new ConvSpec([3, 3, 3], padBegin: [1], groups: 8), new(2, 8, 6, 9, 11), new(16, 1, 3, 3, 3));
        yield return ("depthwise blocked 3x3 s1 p1 7x7, 48 ch", new ConvSpec([3, 3], padBegin: [1], groups: 48), new(3, 48, 7, 7), new(48, 1, 3, 3));
        yield return ("depthwise blocked 5x5 s1 asym pad 7x7, 40 ch (partial block)", new ConvSpec([5, 5], padBegin: [2, 1], padEnd: [0, 2], groups: 40), new(2, 40, 7, 7), new(40, 1, 5, 5));
        yield return ("depthwise blocked 3x3 s2 asym pad 14x14, 16 ch", new ConvSpec([3, 3], stride: [2], padBegin: [0, 1], padEnd: [1, 2], groups: 16), new(1, 16, 14, 14), new(16, 1, 3, 3));
        yield return ("depthwise blocked 5x5 s2 p2 14x14, 40 ch (partial block)", new ConvSpec([5, 5], stride: [2], padBegin: [2], groups: 40), new(2, 40, 14, 14), new(40, 1, 5, 5));
        yield return ("depthwise blocked 3x3 s1 p0 14x14, 48 ch", new ConvSpec([3, 3], groups: 48), new(1, 48, 14, 14), new(48, 1, 3, 3));
        yield return ("depthwise blocked 5x5 s1 p(1,2)/(2,0) 14x7, 16 ch", new ConvSpec([5, 5], padBegin: [1, 2], padEnd: [2, 0], groups: 16), new(3, 16, 14, 7), new(16, 1, 5, 5));
        yield return ("depthwise blocked 3x3 s2 p0 14x14, 32 ch (last row and column read by no output)", new ConvSpec([3, 3], stride: [2], groups: 32), new(2, 32, 14, 14), new(32, 1, 3, 3));
        yield return ("depthwise blocked 3x3 p1 3x3 planes, 32 ch (under 16 pixels)", new ConvSpec([3, 3], padBegin: [1], groups: 32), new(2, 32, 3, 3), new(32, 1, 3, 3));
        yield return ("depthwise blocked 3x3 s2 p1 28x28, 48 ch, one image", new ConvSpec([3, 3], stride: [2], padBegin: [1], groups: 48), new(1, 48, 28, 28), new(48, 1, 3, 3));
        yield return ("1-d k3 p1, 32 ch (shifted)", new ConvSpec([3], padBegin: [1]), new(2, 32, 301), new(48, 32, 3));
        yield return ("1-d k3 s2 dil 2, 96 -> 192 (output-channel tiles)", new ConvSpec([3], stride: [2], padBegin: [2], dilation: [2]), new(2, 96, 150), new(192, 96, 3));
        yield return ("1-d k7 s3 dil 2, 6 ch", new ConvSpec([7], stride: [3], padBegin: [5], padEnd: [2], dilation: [2]), new(4, 6, 200), new(10, 6, 7));
        yield return ("3-d 3x3x3 p1, 16 ch (shifted)", new ConvSpec([3, 3, 3], padBegin: [1]), new(2, 16, 7, 9, 10), new(16, 16, 3, 3, 3));
        yield return ("3-d 3x3x3 p1, 24 -> 128, one image (output-channel tiles)", new ConvSpec([3, 3, 3], padBegin: [1]), new(1, 24, 5, 6, 7), new(128, 24, 3, 3, 3));
        yield return ("3-d 2x3x1 s(1,2,1), 5 ch", new ConvSpec([2, 3, 1], stride: [1, 2, 1], padBegin: [0, 1, 0]), new(1, 5, 6, 11, 7), new(9, 5, 2, 3, 1));
    }

    static IEnumerable<TestCaseData> CaseData() => Cases().Select(c => new TestCaseData(c.Spec, c.X, c.W).SetName(c.Name));

    static ErrorReport Check(CpuBackend cpu, ConvProblem p, ConvAlgorithm a, HostTensor x, HostTensor dy, double[] reference, out HostTensor dw)
    {
        dw = HostTensor.Random(p.WShape, 99);     // overwritten, not accumulated into
        cpu.Run(p, a, new ConvTensors(x, dw, dy));
        return ErrorMetrics.Compare(dw.Data, reference);
    }

    /// <summary>max |error| / max |reference|: the error relative to the largest gradient.</summary>
    static double MaxErrorOverMaxReference(float[] actual, double[] reference)
    {
        double err = 0, max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            err = Math.Max(err, Math.Abs(actual[i] - reference[i]));
            max = Math.Max(max, Math.Abs(reference[i]));
        }
        return err / max;
    }

    [TestCaseSource(nameof(CaseData))]
    public void EveryAlgorithmMatchesTheReferenceOnEveryTierAndThreadCount(ConvSpec spec, TensorShape xShape, TensorShape wShape)
    {
        var p = ConvProblem.Create(spec, xShape, wShape, ConvOp.BackwardFilter);
        var x = HostTensor.Random(p.XShape, 1);
        var dy = HostTensor.Random(p.YShape, 2);
        double[] reference = ReferenceConv.BackwardFilter(p, x.Data, dy.Data);
        var best = GemmTiers.Best;
        var names = new HashSet<string>();
        foreach (var tier in Enum.GetValues<GemmTier>().Where(t => t <= best))
            foreach (int threads in new[] { 1, 2, 3 })
            {
                using var cpu = new CpuBackend(threads, tier);
                foreach (var a in cpu.GetAlgorithms(p, ConvPrecision.Strict))
                {
                    names.Add(a.Name);
                    var report = Check(cpu, p, a, x, dy, reference, out var dw);
                    double maxRel = MaxErrorOverMaxReference(dw.Data, reference);
                    Assert.That(maxRel < Tolerance && report.L2Relative < Tolerance,
                        $"{a.Name}, tier {tier}, {threads} threads: max err / max ref {maxRel:E2}, {report}");
                }
            }
        TestContext.Out.WriteLine($"{p}: {string.Join(", ", names)}");
        if (p.IsDepthwise) Assert.That(names, Does.Contain(CpuBackend.DirectDepthwise));
        Assert.That(names, Does.Contain(CpuBackend.ReductionSplit));
    }

    [Test]
    public void TheNamedCasesRunEveryReductionSplitPath()
    {
        var cases = Cases().Select(c => ConvProblem.Create(c.Spec, c.X, c.W, ConvOp.BackwardFilter)).Where(q => !q.IsDepthwise).ToList();
        using var cpu = new CpuBackend(2);
        var plans = cases.Select(q => ReductionSplitFilter.Plan.Of(q, 2)).ToList();
        Assert.That(plans.Count(pl => pl.Shifted), Is.GreaterThanOrEqualTo(5), "shifted");
        Assert.That(plans.Count(pl => pl.Padded), Is.GreaterThanOrEqualTo(5), "padded columns");
        Assert.That(plans.Count(pl => pl.Padded && pl.Chunks < cases[plans.IndexOf(pl)].N), Is.GreaterThanOrEqualTo(1), "a chunk spanning images");
        Assert.That(plans.Count(pl => !pl.Shifted && !pl.Padded), Is.GreaterThanOrEqualTo(1), "1x1 in place");
        Assert.That(plans.Count(pl => pl.Slices > 1), Is.GreaterThanOrEqualTo(3), "the reduction split across tasks");
        Assert.That(plans.Count(pl => pl.KTiles > 1), Is.GreaterThanOrEqualTo(5), "output channels split across tasks");
        Assert.That(plans.Count(pl => pl.KTiles > 1 && pl.Padded), Is.GreaterThanOrEqualTo(3), "output channels split on the padded-columns path");
    }

    /// <summary>Long reductions (N·Ho·Wo = 2 · 112 · 112 = 25 088 products per weight): the fp32 sums stay within the bound.</summary>
    [TestCase(3, 32, 1, TestName = "long reduction, 3x3 32 channels (shifted)")]
    [TestCase(7, 3, 1, TestName = "long reduction, 7x7 3 channels (dot products on AVX-512, padded columns elsewhere)")]
    [TestCase(3, 48, 48, TestName = "long reduction, depthwise 3x3")]
    public void LongReductionsStayWithinTheBound(int kernel, int channels, int groups)
    {
        var spec = new ConvSpec([kernel, kernel], padBegin: [kernel / 2], groups: groups);
        var p = ConvProblem.Create(spec, new TensorShape(2, channels, 112, 112), new TensorShape(groups == 1 ? 32 : channels, channels / groups, kernel, kernel), ConvOp.BackwardFilter);
        var x = HostTensor.Random(p.XShape, 5);
        var dy = HostTensor.Random(p.YShape, 6);
        double[] reference = ReferenceConv.BackwardFilter(p, x.Data, dy.Data);
        using var cpu = new CpuBackend(2);
        foreach (var a in cpu.GetAlgorithms(p, ConvPrecision.Strict).Where(a => a.Name is CpuBackend.ReductionSplit or CpuBackend.DirectDepthwise))
        {
            var report = Check(cpu, p, a, x, dy, reference, out var dw);
            double maxRel = MaxErrorOverMaxReference(dw.Data, reference);
            TestContext.Out.WriteLine($"{a.Name}: max err / max ref {maxRel:E2}, {report}");
            Assert.That(maxRel < Tolerance && report.L2Relative < Tolerance, $"{a.Name}: {maxRel:E2}, {report}");
        }
    }

    /// <summary>
    /// The small-plane depthwise cases above take the channel-blocked kernel on the Vector512 tier, and give
    /// bit-identical dW at 1, 2 and 3 threads (per-image sums added in image order, whatever the split).
    /// </summary>
    [Test]
    public void SmallDepthwisePlanesTakeTheChannelBlockedKernelWhateverTheThreadCount()
    {
        if (GemmTiers.Best < GemmTier.Vector512 || !System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
            Assert.Ignore("the channel-blocked depthwise backward-filter needs AVX-512");
        var blocked = Cases().Where(c => c.Name.StartsWith("depthwise blocked", StringComparison.Ordinal)).ToList();
        Assert.That(blocked, Has.Count.GreaterThanOrEqualTo(6));
        foreach (var (name, spec, xs, ws) in blocked)
        {
            var p = ConvProblem.Create(spec, xs, ws, ConvOp.BackwardFilter);
            Assert.That(GpuConv.Cpu.Depthwise.DepthwiseFilterGradientBlocked.Applies(ConvGeometry.Of(p), p.KPerGroup, p.C, GemmTier.Vector512), name);
            var x = HostTensor.Random(p.XShape, 21);
            var dy = HostTensor.Random(p.YShape, 22);
            float[]? first = null;
            foreach (int threads in new[] { 1, 2, 3 })
            {
                using var cpu = new CpuBackend(threads, GemmTier.Vector512);
                var a = cpu.GetAlgorithms(p, ConvPrecision.Strict).Single(a => a.Name == CpuBackend.DirectDepthwise);
                var dw = HostTensor.Random(p.WShape, 23);
                cpu.Run(p, a, new ConvTensors(x, dw, dy));
                if (first == null) first = dw.Data.ToArray();
                else Assert.That(dw.Data, Is.EqualTo(first), $"{name} at {threads} threads");
            }
        }
    }

    /// <summary>Repeated runs at a fixed thread count give bit-identical dW (the reduction's split and order depend only on the problem and the thread count).</summary>
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void RunsAreRepeatableAtAFixedThreadCount(int threads)
    {
        using var cpu = new CpuBackend(threads);
        foreach (var (name, spec, xs, ws) in Cases())
        {
            var p = ConvProblem.Create(spec, xs, ws, ConvOp.BackwardFilter);
            var x = HostTensor.Random(p.XShape, 11);
            var dy = HostTensor.Random(p.YShape, 12);
            foreach (var a in cpu.GetAlgorithms(p, ConvPrecision.Strict))
            {
                Assert.That(a.Deterministic, $"{a.Name} declares itself deterministic");
                var first = new HostTensor(p.WShape);
                var second = HostTensor.Random(p.WShape, 13);
                cpu.Run(p, a, new ConvTensors(x, first, dy));
                cpu.Run(p, a, new ConvTensors(x, second, dy));
                Assert.That(second.Data, Is.EqualTo(first.Data), $"{name}: {a.Name} at {threads} threads");
            }
        }
    }

    [Test]
    public void TheHeuristicOrderFollowsTheMeasuredRules()
    {
        using var cpu = new CpuBackend(2);
        string First(ConvSpec s, TensorShape x, TensorShape w) =>
            cpu.GetAlgorithms(ConvProblem.Create(s, x, w, ConvOp.BackwardFilter), ConvPrecision.Strict)[0].Name;
        var s3 = new ConvSpec([3, 3], padBegin: [1]);
        Assert.That(First(new ConvSpec([3, 3], padBegin: [1], groups: 144), new(1, 144, 56, 56), new(144, 1, 3, 3)), Is.EqualTo(CpuBackend.DirectDepthwise));
        Assert.That(First(s3, new(1, 64, 56, 56), new(64, 64, 3, 3)), Is.EqualTo(CpuBackend.ReductionSplit));
        Assert.That(First(new ConvSpec([7, 7], stride: [2], padBegin: [3]), new(1, 3, 224, 224), new(64, 3, 7, 7)), Is.EqualTo(CpuBackend.ReductionSplit));
        Assert.That(First(new ConvSpec([1, 1]), new(1, 256, 56, 56), new(64, 256, 1, 1)), Is.EqualTo(CpuBackend.ReductionSplit));
        Assert.That(First(s3, new(1, 256, 14, 14), new(256, 256, 3, 3)), Is.EqualTo(CpuBackend.Im2ColGemm));
        Assert.That(First(new ConvSpec([1, 1]), new(1, 1024, 14, 14), new(256, 1024, 1, 1)), Is.EqualTo(CpuBackend.Gemm1x1));
        // MobileNetV2's 14 × 14 96 → 576: reduction-split's dot products on AVX-512, gemm-1x1 elsewhere.
        bool dots = GemmTiers.Best == GemmTier.Vector512 && System.Runtime.Intrinsics.X86.Avx512F.IsSupported;
        Assert.That(First(new ConvSpec([1, 1]), new(8, 96, 14, 14), new(576, 96, 1, 1)), Is.EqualTo(dots ? CpuBackend.ReductionSplit : CpuBackend.Gemm1x1));
        Assert.That(First(new ConvSpec([1, 1]), new(8, 160, 7, 7), new(960, 160, 1, 1)), Is.EqualTo(CpuBackend.Gemm1x1));
    }

    [Test]
    public void ConvEngineBackwardFilterOnTheCpuBackendMatchesTheReference()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Backend = "cpu", PersistPlans = false });
        foreach (var (name, spec, xs, ws) in Cases().Where((_, i) => i % 3 == 0))
        {
            var p = ConvProblem.Create(spec, xs, ws, ConvOp.BackwardFilter);
            var x = HostTensor.Random(p.XShape, 21);
            var dy = HostTensor.Random(p.YShape, 22);
            var dw = engine.BackwardFilter(spec, x, dy, p.WShape);
            double[] reference = ReferenceConv.BackwardFilter(p, x.Data, dy.Data);
            var report = ErrorMetrics.Compare(dw.Data, reference);
            Assert.That(MaxErrorOverMaxReference(dw.Data, reference) < Tolerance && report.L2Relative < Tolerance, $"{name}: {report}");
        }
    }

    static IEnumerable<TestCaseData> AllocationCases()
    {
        yield return new TestCaseData(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(1, 64, 28, 28), new TensorShape(64, 64, 3, 3), CpuBackend.ReductionSplit).SetName("reduction-split shifted 3x3");
        yield return new TestCaseData(new ConvSpec([7, 7], stride: [2], padBegin: [3]), new TensorShape(1, 3, 64, 64), new TensorShape(16, 3, 7, 7), CpuBackend.ReductionSplit).SetName("reduction-split im2col 7x7 stride 2");
        yield return new TestCaseData(new ConvSpec([1, 1]), new TensorShape(1, 64, 28, 28), new TensorShape(128, 64, 1, 1), CpuBackend.ReductionSplit).SetName("reduction-split 1x1");
        yield return new TestCaseData(new ConvSpec([1, 1]), new TensorShape(2, 32, 28, 28), new TensorShape(96, 32, 1, 1), CpuBackend.ReductionSplit).SetName("reduction-split 1x1 dot products");
        yield return new TestCaseData(new ConvSpec([3, 3], padBegin: [1], groups: 32), new TensorShape(2, 32, 28, 28), new TensorShape(32, 1, 3, 3), CpuBackend.DirectDepthwise).SetName("direct-depthwise 3x3");
    }

    /// <summary>Steady state allocates nothing on the calling thread (reduction-split's pad, sums and ordered total; direct-depthwise).</summary>
    [TestCaseSource(nameof(AllocationCases))]
    public void SteadyStateRunsAllocateNothing(ConvSpec spec, TensorShape xs, TensorShape ws, string name)
    {
        using var cpu = new CpuBackend(2);
        var p = ConvProblem.Create(spec, xs, ws, ConvOp.BackwardFilter);
        var a = cpu.GetAlgorithms(p, ConvPrecision.Strict).Single(c => c.Name == name);
        var tensors = new ConvTensors(HostTensor.Random(p.XShape, 1), new HostTensor(p.WShape), HostTensor.Random(p.YShape, 2));
        double perCall = SteadyStateAllocation.BytesPerCall(cpu, p, a, tensors);
        Assert.That(perCall, Is.Zero, $"{name}: {perCall:F1} bytes per call");
        Assert.That(cpu.WorkspaceBytesHeld, Is.LessThanOrEqualTo(a.WorkspaceBytes + 64L * 1024), "workspace within what the algorithm declares");
    }

    /// <summary>
    /// A ±Inf or NaN in x: every backward-filter algorithm gives the direct sum's non-finite values (the
    /// padded paths would have multiplied x at their gap columns by dy's zeros: NaN in taps that never read
    /// it). The value sits at the last input column, which the gap columns of the 3x3 stride-1 layout read.
    /// </summary>
    [TestCase(float.PositiveInfinity, 64, 1)]
    [TestCase(float.NegativeInfinity, 128, 1)]
    [TestCase(float.NaN, 32, 1)]
    [TestCase(float.PositiveInfinity, 16, 16)]
    public void NonFiniteInputsGiveTheDirectSumsNonFiniteValues(float value, int channels, int groups)
    {
        var spec = new ConvSpec([3, 3], padBegin: [1], groups: groups);
        var p = ConvProblem.Create(spec, new TensorShape(2, channels, 20, 20), new TensorShape(channels, channels / groups, 3, 3), ConvOp.BackwardFilter);
        var x = HostTensor.Random(p.XShape, 31);
        x.Data[(1 * channels + 3) * 400 + 7 * 20 + 19] = value;
        var dy = HostTensor.Random(p.YShape, 32);
        double[] reference = ReferenceConv.BackwardFilter(p, x.Data, dy.Data);
        int refNaN = reference.Count(double.IsNaN), refInf = reference.Count(double.IsInfinity);
        Assert.That(refNaN + refInf, Is.GreaterThan(0));
        Assert.That(refNaN + refInf, Is.LessThan(reference.Length), "some taps never read the value");
        using var cpu = new CpuBackend(2);
        foreach (var a in cpu.GetAlgorithms(p, ConvPrecision.Strict))
        {
            var dw = new HostTensor(p.WShape);
            cpu.Run(p, a, new ConvTensors(x, dw, dy));
            Assert.That(dw.Data.Count(float.IsNaN), Is.EqualTo(refNaN), $"{a.Name}: NaN count");
            Assert.That(dw.Data.Count(float.IsInfinity), Is.EqualTo(refInf), $"{a.Name}: ±Inf count");
            double error = ErrorMetrics.Compare(dw.Data, reference).MaxRelative;
            Assert.That(double.IsFinite(error) && error < Tolerance, $"{a.Name}: max rel error {error}");
            // Finite again: the padded paths are back.
            var finite = HostTensor.Random(p.XShape, 33);
            cpu.Run(p, a, new ConvTensors(finite, dw, dy));
            Assert.That(ErrorMetrics.Compare(dw.Data, ReferenceConv.BackwardFilter(p, finite.Data, dy.Data)).MaxRelative, Is.LessThan(Tolerance), a.Name);
        }
    }

    /// <summary>
    /// The channel-blocked kernel sends input pixels that no output reads (here the last row and column of a
    /// 3x3 stride-2 unpadded layer) to a trash vector: an Inf or NaN there leaves dW finite, as in the
    /// reference, and a finite run after it (same workers, pads zeroed once per task) is right again.
    /// </summary>
    [Test]
    public void NonFiniteValuesNoOutputReadsLeaveTheBlockedSumsFinite()
    {
        var spec = new ConvSpec([3, 3], stride: [2], groups: 32);
        var p = ConvProblem.Create(spec, new TensorShape(2, 32, 14, 14), new TensorShape(32, 1, 3, 3), ConvOp.BackwardFilter);
        if (GemmTiers.Best < GemmTier.Vector512 || !System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
            Assert.Ignore("the channel-blocked depthwise backward-filter needs AVX-512");
        Assert.That(GpuConv.Cpu.Depthwise.DepthwiseFilterGradientBlocked.Applies(ConvGeometry.Of(p), p.KPerGroup, p.C, GemmTier.Vector512));
        var x = HostTensor.Random(p.XShape, 41);
        x.Data[(1 * 32 + 3) * 196 + 13 * 14 + 13] = float.PositiveInfinity;
        x.Data[(0 * 32 + 17) * 196 + 13 * 14 + 2] = float.NaN;
        x.Data[(1 * 32 + 30) * 196 + 4 * 14 + 13] = float.NegativeInfinity;
        var dy = HostTensor.Random(p.YShape, 42);
        double[] reference = ReferenceConv.BackwardFilter(p, x.Data, dy.Data);
        Assert.That(reference.All(double.IsFinite), "no output reads the planted values");
        var finite = HostTensor.Random(p.XShape, 43);
        double[] finiteReference = ReferenceConv.BackwardFilter(p, finite.Data, dy.Data);
        foreach (int threads in new[] { 1, 2 })
        {
            using var cpu = new CpuBackend(threads);
            var a = cpu.GetAlgorithms(p, ConvPrecision.Strict).Single(a => a.Name == CpuBackend.DirectDepthwise);
            var dw = new HostTensor(p.WShape);
            cpu.Run(p, a, new ConvTensors(x, dw, dy));
            Assert.That(dw.Data.All(float.IsFinite), $"{threads} threads: dW finite");
            Assert.That(ErrorMetrics.Compare(dw.Data, reference).MaxRelative, Is.LessThan(Tolerance), $"{threads} threads");
            cpu.Run(p, a, new ConvTensors(finite, dw, dy));
            Assert.That(ErrorMetrics.Compare(dw.Data, finiteReference).MaxRelative, Is.LessThan(Tolerance), $"{threads} threads, finite again");
        }
    }
}
