using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// The CPU backend's forward-phases backward-data (transposed convolution run as forward convolutions of
/// dy, one per stride phase) against ReferenceConv.BackwardData in float64 on random non-zero inputs.
/// fp32 max relative error bound: 1e-5 (sums of at most a few thousand products).
/// </summary>
public class ForwardPhasesTests
{
    const double Tolerance = BackwardDataCheck.Tolerance;

    static ConvAlgorithm? Phases(CpuBackend cpu, ConvProblem p) => BackwardDataCheck.Offered(cpu, p, CpuBackend.ForwardPhases);

    static double Check(CpuBackend cpu, ConvProblem p, int seed, bool bias, bool constant) =>
        BackwardDataCheck.WorstError(cpu, p, CpuBackend.ForwardPhases, seed, bias, constant);

    static ConvProblem Transposed(int[] kernel, int[] stride, int[] padBegin, int[] padEnd, int[] outputPadding, int[] dilation,
        int groups, int n, int cin, int coutPerGroup, int[] input) =>
        BackwardDataCheck.Transposed(kernel, stride, padBegin, padEnd, outputPadding, dilation, groups, n, cin, coutPerGroup, input);

    /// <summary>
    /// Strides 1–3, kernels 1–5 (below, at and above the stride), asymmetric pads, output padding,
    /// dilation with stride 1, groups, batch 1–2, ranks 1–3, bias on and off, constant and per-call weights.
    /// </summary>
    [Test]
    public void RandomTransposedConvolutionsMatchReference()
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 3);
        var rng = new Random(2026);
        var failures = new List<string>();
        int ran = 0, declined = 0, kernelBelowStride = 0, kernelIsStride = 0, dilated = 0, grouped = 0, withOutputPadding = 0, asymmetric = 0;
        var ranks = new int[4];
        double worst = 0;
        for (int i = 0; ran < 300 && i < 1000; i++)
        {
            int rank = 1 + i % 3;
            int[] R(Func<int> f) => Enumerable.Range(0, rank).Select(_ => f()).ToArray();
            var stride = R(() => rng.Next(1, 4));
            var kernel = R(() => rng.Next(1, 6));
            var dil = Enumerable.Range(0, rank).Select(d => stride[d] == 1 && rng.Next(3) == 0 ? 2 : 1).ToArray();
            var pb = Enumerable.Range(0, rank).Select(d => rng.Next(0, (kernel[d] - 1) * dil[d] + 1)).ToArray();
            var pe = Enumerable.Range(0, rank).Select(d => rng.Next(0, (kernel[d] - 1) * dil[d] + 1)).ToArray();
            var op = Enumerable.Range(0, rank).Select(d => rng.Next(0, Math.Max(stride[d], dil[d]))).ToArray();
            var input = R(() => rng.Next(1, rank == 3 ? 5 : 8));
            int groups = rng.Next(3) == 0 ? rng.Next(2, 4) : 1;
            int cin = groups * rng.Next(1, 4), coutPerGroup = rng.Next(1, 4), n = rng.Next(1, 3);
            ConvProblem p;
            try { p = Transposed(kernel, stride, pb, pe, op, dil, groups, n, cin, coutPerGroup, input); }
            catch (ArgumentException) { continue; }
            if (Phases(cpu, p) is null) { declined++; continue; }
            ran++;
            ranks[rank]++;
            if (Enumerable.Range(0, rank).Any(d => kernel[d] < stride[d])) kernelBelowStride++;
            if (Enumerable.Range(0, rank).Any(d => kernel[d] == stride[d] && stride[d] > 1)) kernelIsStride++;
            if (dil.Any(d => d > 1)) dilated++;
            if (groups > 1) grouped++;
            if (op.Any(o => o > 0)) withOutputPadding++;
            if (!pb.SequenceEqual(pe)) asymmetric++;
            double e = Check(cpu, p, i, bias: i % 2 == 0, constant: i % 4 < 2);
            worst = Math.Max(worst, e);
            if (!(e < Tolerance)) failures.Add($"{p}: {e:E2}");
        }
        TestContext.Out.WriteLine($"{ran} ran ({declined} declined), worst {worst:E2}; ranks {ranks[1]}/{ranks[2]}/{ranks[3]}, kernel<stride {kernelBelowStride}, kernel==stride {kernelIsStride}, dilated {dilated}, grouped {grouped}, output padding {withOutputPadding}, asymmetric {asymmetric}");
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
        Assert.That(ran, Is.EqualTo(300));
        Assert.That(ranks[1] > 0 && ranks[2] > 0 && ranks[3] > 0 && kernelBelowStride > 0 && kernelIsStride > 0 && dilated > 0
            && grouped > 0 && withOutputPadding > 0 && asymmetric > 0, "the sweep covers every feature");
    }

    /// <summary>Depthwise (groups == C == K: its backward-data is depthwise again) and channel multipliers, strides 1 and 2, on enough channels for the blocked depthwise kernels.</summary>
    [TestCase(1, 3, 1, 1, false)]
    [TestCase(1, 3, 2, 1, true)]
    [TestCase(2, 5, 1, 2, true)]
    [TestCase(1, 4, 2, 1, false)]
    [TestCase(2, 3, 2, 1, true)]
    public void DepthwiseMatchesReference(int multiplier, int kernel, int stride, int pad, bool constant)
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var spec = new ConvSpec([kernel, kernel], [stride], padBegin: [pad], groups: 40);
        var p = ConvProblem.Create(spec, new TensorShape(2, 40, 15, 13), new TensorShape(40 * multiplier, 1, kernel, kernel), ConvOp.BackwardData);
        Assert.That(Check(cpu, p, kernel, bias: true, constant), Is.LessThan(Tolerance));
    }

    /// <summary>
    /// Layer-sized shapes where the sub-runs take channel-tiled and Winograd (constant weights) or their
    /// per-call paths (sub-kernels written straight as channel panels: 64, 80, 96 and 144 channels of dx per group, so whole and part-filled panels;
    /// 1x1 kernels, whose panel rows are W's rows as they lie, unit-stride and strided, grouped and not).
    /// </summary>
    [TestCase(64, 64, 14, 3, 1, 1, true)]
    [TestCase(64, 64, 14, 3, 1, 1, false)]
    [TestCase(128, 64, 16, 4, 2, 1, true)]
    [TestCase(128, 64, 16, 4, 2, 1, false)]
    [TestCase(96, 64, 12, 2, 2, 0, true)]
    [TestCase(64, 96, 13, 3, 2, 1, true)]
    [TestCase(64, 96, 13, 3, 2, 1, false)]
    [TestCase(64, 80, 12, 4, 2, 1, false)]
    [TestCase(48, 144, 9, 3, 1, 1, false)]
    [TestCase(128, 160, 10, 3, 1, 1, false, 2)]
    [TestCase(128, 160, 10, 4, 2, 1, false, 2)]
    [TestCase(128, 160, 10, 4, 2, 1, true, 2)]
    [TestCase(256, 64, 7, 1, 1, 0, false)]
    [TestCase(256, 64, 7, 1, 1, 0, true)]
    [TestCase(192, 144, 7, 1, 1, 0, false)]
    [TestCase(96, 80, 9, 1, 1, 0, false)]
    [TestCase(128, 160, 12, 1, 2, 0, false, 2)]
    [TestCase(256, 144, 11, 1, 2, 0, false)]
    public void LayerShapesMatchReference(int k, int c, int h, int kernel, int stride, int pad, bool constant, int groups = 1)
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var p = ConvProblem.Create(new ConvSpec([kernel, kernel], [stride], padBegin: [pad], groups: groups), new TensorShape(1, c, h, h),
            new TensorShape(k, c / groups, kernel, kernel), ConvOp.BackwardData);
        Assert.That(Check(cpu, p, h, bias: true, constant), Is.LessThan(Tolerance));
    }

    /// <summary>
    /// Unit-stride 1x1 backward-data: forward-phases (one channel-tiled forward with W's rows as panels) leads where
    /// at least 80 dy channels fill channel-tiled's sums into mostly full tiles of dx channels; gemm-1x1 elsewhere.
    /// </summary>
    [TestCase(2048, 512, 7, true)]       // ResNet-50 layer4.1.conv1
    [TestCase(512, 2048, 7, true)]       // layer4.0.conv3
    [TestCase(64, 256, 56, true)]        // layer1.0.conv3: 256 dy channels
    [TestCase(256, 64, 56, false)]       // layer1.1.conv1: 64 dy channels
    [TestCase(256, 128, 56, false)]      // layer2.0.conv1: 128 dy channels on a large plane
    [TestCase(240, 80, 14, true)]        // EfficientNet-B0 features.4.0.project
    [TestCase(144, 32, 28, false)]       // MobileNetV2 features.4.project: 32 dy channels
    [TestCase(32, 192, 28, false)]       // features.5.expand: 32 dx channels, a half tile
    [TestCase(192, 64, 14, false)]       // features.7.project: 64 dy channels
    public void PointwiseLeadsWhereChannelTiledFillsItsTiles(int c, int k, int h, bool leads)
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var p = ConvProblem.Create(new ConvSpec([1, 1]), new TensorShape(1, c, h, h), new TensorShape(k, c, 1, 1), ConvOp.BackwardData);
        var names = cpu.GetAlgorithms(p, ConvPrecision.Strict).Select(a => a.Name).ToList();
        Assert.That(names[0], Is.EqualTo(leads ? CpuBackend.ForwardPhases : CpuBackend.Gemm1x1), string.Join(", ", names));
        Assert.That(names, Does.Contain(CpuBackend.ForwardPhases).And.Contain(CpuBackend.Gemm1x1));
    }

    /// <summary>
    /// Unit-stride backward-data with per-call weights whose one forward is channel-tiled's, on planes small enough
    /// that each block of dx channels is one task: the forward writes the flipped sub-kernel's panel rows from W a K
    /// chunk at a time (PhasePanelRows) — 3x3 in one and two chunks, 1x1, a part-filled block (80 dx channels, one thread)
    /// — and gives the bits of the constant-weights run (sub-kernels transformed once, whole panels).
    /// </summary>
    [TestCase(64, 256, 7, 3, 1, 2)]
    [TestCase(128, 256, 7, 3, 1, 2)]
    [TestCase(256, 256, 6, 1, 0, 2)]
    [TestCase(128, 80, 7, 3, 1, 1)]
    public void PanelRowsWrittenInTheForwardGiveTheConstantRunsBits(int k, int c, int h, int kernel, int pad, int threads)
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: threads);
        var p = ConvProblem.Create(new ConvSpec([kernel, kernel], padBegin: [pad]), new TensorShape(1, c, h, h), new TensorShape(k, c, kernel, kernel), ConvOp.BackwardData);
        var algo = Phases(cpu, p)!;
        var (w, dy) = (HostTensor.Random(p.WShape, 7), HostTensor.Random(p.YShape, 8));
        var perCall = new HostTensor(p.XShape);
        var constant = new HostTensor(p.XShape);
        cpu.Run(p, algo, new ConvTensors(perCall, w, dy));
        cpu.Run(p, algo, new ConvTensors(constant, w, dy) { ConstantWeights = true });
        Assert.That(perCall.Data, Is.EqualTo(constant.Data), "per-call and constant weights differ");
        double[] expected = ReferenceConv.BackwardData(p, dy.Data, w.Data, null);
        Assert.That(ErrorMetrics.Compare(perCall.Data, expected).MaxRelative, Is.LessThan(Tolerance));
    }

    /// <summary>A constant W changed in place is stale until ForgetPreparedWeights; then the new values are used.</summary>
    [Test]
    public void ChangedConstantWeightsAreUsedAfterForgetPreparedWeights()
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var p = ConvProblem.Create(new ConvSpec([4, 4], [2], padBegin: [1]), new TensorShape(1, 64, 16, 16), new TensorShape(64, 64, 4, 4), ConvOp.BackwardData);
        BackwardDataCheck.AssertChangedConstantWeightsNeedForget(cpu, p, CpuBackend.ForwardPhases, "the cached sub-kernels");
    }

    /// <summary>
    /// Padding beyond the kernel (a phase's sub-convolution would need negative padding: it computes extra
    /// outputs that the scatter skips), with stride 1 and 2.
    /// </summary>
    [TestCase(1, 2, 1, 2, true)]
    [TestCase(1, 2, 2, 0, false)]
    [TestCase(2, 3, 3, 1, true)]
    [TestCase(3, 1, 3, 3, false)]
    [TestCase(2, 1, 2, 1, true)]
    public void PaddingBeyondTheKernelMatchesReference(int kernel, int stride, int padBegin, int padEnd, bool constant)
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var p = ConvProblem.Create(new ConvSpec([kernel, kernel], [stride], padBegin: [padBegin], padEnd: [padEnd]), new TensorShape(2, 6, 11, 10),
            new TensorShape(5, 6, kernel, kernel), ConvOp.BackwardData);
        Assert.That(Check(cpu, p, kernel, bias: true, constant), Is.LessThan(Tolerance));
    }

    /// <summary>Where stride and dilation are both above 1 in a dimension, or the op is not backward-data, it is not offered (gemm-col2im runs).</summary>
    [Test]
    public void DeclinedWhereItDoesNotApply()
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var stridedDilated = ConvProblem.Create(new ConvSpec([3, 3], [2], [2], padBegin: [1]), new TensorShape(1, 8, 15, 15), new TensorShape(8, 8, 3, 3), ConvOp.BackwardData);
        var forward = ConvProblem.Create(new ConvSpec([3, 3], [2], padBegin: [1]), new TensorShape(1, 8, 15, 15), new TensorShape(8, 8, 3, 3));
        Assert.That(cpu.GetAlgorithms(stridedDilated, ConvPrecision.Strict).Select(a => a.Name), Is.EqualTo(new[] { CpuBackend.GemmCol2Im, CpuBackend.WeightStream }));
        foreach (var p in new[] { stridedDilated, forward })
        {
            var names = cpu.GetAlgorithms(p, ConvPrecision.Strict).Select(a => a.Name).ToList();
            Assert.That(names, Does.Not.Contain(CpuBackend.ForwardPhases), p.ToString());
            var ex = Assert.Throws<ArgumentException>(() => cpu.Run(p, new ConvAlgorithm(CpuBackend.BackendName, CpuBackend.ForwardPhases, 7, 0, true),
                new ConvTensors(new HostTensor(p.XShape), new HostTensor(p.WShape), new HostTensor(p.YShape))));
            Assert.That(ex!.Message, Does.Contain("does not apply"));
        }
    }

    /// <summary>The engine runs a transposed ConvSpec on the cpu backend with forward-phases first and matches the reference.</summary>
    [Test]
    public void EngineTransposedConvolutionMatchesReference()
    {
        var spec = new ConvSpec([3, 3], [2], padBegin: [1], transposed: true, outputPadding: [1]);
        var x = HostTensor.Random(new TensorShape(2, 32, 9, 7), 5);
        var w = HostTensor.Random(new TensorShape(32, 24, 3, 3), 6);
        var b = HostTensor.Random(new TensorShape(24), 7);
        var p = ConvProblem.Create(spec, x.Shape, w.Shape);
        using (var cpu = new CpuBackend(2))
            Assert.That(cpu.GetAlgorithms(p, ConvPrecision.Strict)[0].Name, Is.EqualTo(CpuBackend.ForwardPhases));
        using var engine = ConvEngine.Open(new ConvEngineOptions { Backend = "cpu", PersistPlans = false });
        var y = engine.Forward(spec, x, w, b);
        Assert.That(y.Shape, Is.EqualTo(new TensorShape(2, 24, 18, 14)));
        double[] expected = ReferenceConv.BackwardData(p, x.Data, w.Data, b.Data);
        Assert.That(ErrorMetrics.Compare(y.Data, expected).MaxRelative, Is.LessThan(Tolerance));
    }
}
