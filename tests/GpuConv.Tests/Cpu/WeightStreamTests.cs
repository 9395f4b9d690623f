using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// The CPU backend's weight-stream backward-data (small dy planes: one GEMM per block of dx's channels with
/// dy's pixels as rows, then col2im from colᵀ) against ReferenceConv.BackwardData in float64 on random
/// non-zero inputs. fp32 max relative error bound: 1e-5 (sums of at most a few thousand products).
/// </summary>
public class WeightStreamTests
{
    const double Tolerance = BackwardDataCheck.Tolerance;

    static ConvAlgorithm? Stream(CpuBackend cpu, ConvProblem p) => BackwardDataCheck.Offered(cpu, p, CpuBackend.WeightStream);

    static double Check(CpuBackend cpu, ConvProblem p, int seed, bool bias, bool constant) =>
        BackwardDataCheck.WorstError(cpu, p, CpuBackend.WeightStream, seed, bias, constant);

    static ConvProblem Transposed(int[] kernel, int[] stride, int[] padBegin, int[] padEnd, int[] outputPadding, int[] dilation,
        int groups, int n, int cin, int coutPerGroup, int[] input) =>
        BackwardDataCheck.Transposed(kernel, stride, padBegin, padEnd, outputPadding, dilation, groups, n, cin, coutPerGroup, input);

    /// <summary>
    /// Strides 1–3, kernels 1–5, dilation (with any stride: col2im handles every geometry), asymmetric pads,
    /// output padding, groups, batch 1–2, ranks 1–3, bias on and off, constant and per-call weights.
    /// </summary>
    [Test]
    public void RandomSmallPlaneConvolutionsMatchReference()
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 3);
        var rng = new Random(4242);
        var failures = new List<string>();
        int ran = 0, strided = 0, dilated = 0, grouped = 0, withOutputPadding = 0, asymmetric = 0, batched = 0;
        var ranks = new int[4];
        double worst = 0;
        for (int i = 0; ran < 200 && i < 1000; i++)
        {
            int rank = 1 + i % 3;
            int[] R(Func<int> f) => Enumerable.Range(0, rank).Select(_ => f()).ToArray();
            var stride = R(() => rng.Next(1, 4));
            var kernel = R(() => rng.Next(1, 6));
            var dil = R(() => rng.Next(4) == 0 ? 2 : 1);
            var pb = Enumerable.Range(0, rank).Select(d => rng.Next(0, (kernel[d] - 1) * dil[d] + 1)).ToArray();
            var pe = Enumerable.Range(0, rank).Select(d => rng.Next(0, (kernel[d] - 1) * dil[d] + 1)).ToArray();
            var op = Enumerable.Range(0, rank).Select(d => rng.Next(0, Math.Max(stride[d], dil[d]))).ToArray();
            var input = R(() => rng.Next(1, rank == 3 ? 5 : 9));
            int groups = rng.Next(3) == 0 ? rng.Next(2, 4) : 1;
            int cin = groups * rng.Next(1, 6), coutPerGroup = rng.Next(1, 6), n = rng.Next(1, 3);
            ConvProblem p;
            try { p = Transposed(kernel, stride, pb, pe, op, dil, groups, n, cin, coutPerGroup, input); }
            catch (ArgumentException) { continue; }
            if (Stream(cpu, p) is null) continue;
            ran++;
            ranks[rank]++;
            if (stride.Any(s => s > 1)) strided++;
            if (dil.Any(d => d > 1)) dilated++;
            if (groups > 1) grouped++;
            if (op.Any(o => o > 0)) withOutputPadding++;
            if (!pb.SequenceEqual(pe)) asymmetric++;
            if (n > 1) batched++;
            double e = Check(cpu, p, i, bias: i % 2 == 0, constant: i % 4 < 2);
            worst = Math.Max(worst, e);
            if (!(e < Tolerance)) failures.Add($"{p}: {e:E2}");
        }
        TestContext.Out.WriteLine($"{ran} ran, worst {worst:E2}; ranks {ranks[1]}/{ranks[2]}/{ranks[3]}, strided {strided}, dilated {dilated}, grouped {grouped}, output padding {withOutputPadding}, asymmetric {asymmetric}, batch 2 {batched}");
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
        Assert.That(ran, Is.EqualTo(200));
        Assert.That(ranks[1] > 0 && ranks[2] > 0 && ranks[3] > 0 && strided > 0 && dilated > 0 && grouped > 0 && withOutputPadding > 0 && asymmetric > 0 && batched > 0,
            "the sweep covers every feature");
    }

    /// <summary>
    /// Layer-sized shapes: DCGAN's 4x4 s2 p1 up-convolutions at 4 → 8 and 8 → 16 (scaled: several channel blocks,
    /// a ragged last block), batch 3, groups, a 3x3 s2 with output padding, and the 16 × 16 plane at the limit.
    /// </summary>
    [TestCase(1, 256, 4, 128, 4, 2, 1, 0, 1, true)]
    [TestCase(1, 256, 4, 128, 4, 2, 1, 0, 1, false)]
    [TestCase(1, 128, 8, 72, 4, 2, 1, 0, 1, true)]
    [TestCase(3, 96, 4, 40, 4, 2, 1, 0, 1, false)]
    [TestCase(2, 128, 5, 64, 3, 2, 1, 1, 2, true)]
    [TestCase(1, 64, 16, 32, 4, 2, 1, 0, 1, false)]
    public void LayerShapesMatchReference(int n, int cin, int h, int cout, int kernel, int stride, int pad, int outputPadding, int groups, bool constant)
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var p = Transposed([kernel, kernel], [stride, stride], [pad, pad], [pad, pad], [outputPadding, outputPadding], [1, 1],
            groups, n, cin, cout / groups, [h, h]);
        Assert.That(Check(cpu, p, h + cin, bias: true, constant), Is.LessThan(Tolerance));
    }

    /// <summary>It leads for DCGAN's 512 → 256 at 4 → 8 (strided, 16 dy pixels, 2M weights); forward-phases leads at 16 × 16 and at stride 1.</summary>
    [Test]
    public void LeadsForSmallStridedLayersOnly()
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var dcgan = Transposed([4, 4], [2, 2], [1, 1], [1, 1], [0, 0], [1, 1], 1, 1, 512, 256, [4, 4]);
        var larger = Transposed([4, 4], [2, 2], [1, 1], [1, 1], [0, 0], [1, 1], 1, 1, 128, 64, [16, 16]);
        var unitStride = Transposed([3, 3], [1, 1], [1, 1], [1, 1], [0, 0], [1, 1], 1, 1, 512, 512, [7, 7]);
        Assert.That(cpu.GetAlgorithms(dcgan, ConvPrecision.Strict)[0].Name, Is.EqualTo(CpuBackend.WeightStream));
        Assert.That(cpu.GetAlgorithms(larger, ConvPrecision.Strict)[0].Name, Is.EqualTo(CpuBackend.ForwardPhases));
        Assert.That(cpu.GetAlgorithms(unitStride, ConvPrecision.Strict)[0].Name, Is.EqualTo(CpuBackend.ForwardPhases));
        Assert.That(Stream(cpu, larger), Is.Not.Null, "offered after the others");
    }

    /// <summary>Lower SIMD tiers run the same blocks with their own GEMM kernels.</summary>
    [TestCase(GpuConv.Cpu.Gemm.GemmTier.Vector256)]
    [TestCase(GpuConv.Cpu.Gemm.GemmTier.Vector128)]
    [TestCase(GpuConv.Cpu.Gemm.GemmTier.Scalar)]
    public void LowerTiersMatchReference(GpuConv.Cpu.Gemm.GemmTier tier)
    {
        // Vector256 is x86's AVX2: on ARM64 (NEON) the widest tier is Vector128.
        if (!GpuConv.Cpu.Gemm.GemmTiers.IsSupported(tier)) Assert.Ignore($"tier {tier} is not accelerated here (best {GpuConv.Cpu.Gemm.GemmTiers.Best})");
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2, tier: tier);
        var p = Transposed([4, 4], [2, 2], [1, 1], [1, 1], [0, 0], [1, 1], 1, 2, 48, 20, [4, 5]);
        Assert.That(Check(cpu, p, 1, bias: true, constant: true), Is.LessThan(Tolerance));
        Assert.That(Check(cpu, p, 2, bias: false, constant: false), Is.LessThan(Tolerance));
    }

    /// <summary>A constant W changed in place is stale (the cached packed W) until ForgetPreparedWeights; then the new values are used.</summary>
    [Test]
    public void ChangedConstantWeightsAreUsedAfterForgetPreparedWeights()
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var p = Transposed([4, 4], [2, 2], [1, 1], [1, 1], [0, 0], [1, 1], 1, 1, 128, 64, [4, 4]);
        BackwardDataCheck.AssertChangedConstantWeightsNeedForget(cpu, p, CpuBackend.WeightStream, "the cached packed W");
    }

    /// <summary>Not offered for dy planes above 256 pixels, for forward problems, nor where gemm-shuffle applies.</summary>
    [Test]
    public void DeclinedWhereItDoesNotApply()
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var large = Transposed([4, 4], [2, 2], [1, 1], [1, 1], [0, 0], [1, 1], 1, 1, 8, 8, [17, 16]);
        var forward = ConvProblem.Create(new ConvSpec([3, 3], [2], padBegin: [1]), new TensorShape(1, 8, 8, 8), new TensorShape(8, 8, 3, 3));
        var shuffle = Transposed([2, 2], [2, 2], [0, 0], [0, 0], [0, 0], [1, 1], 1, 1, 8, 8, [4, 4]);
        foreach (var p in new[] { large, forward, shuffle })
            Assert.That(Stream(cpu, p), Is.Null, p.ToString());
        foreach (var p in new[] { large, forward })
        {
            var ex = Assert.Throws<ArgumentException>(() => cpu.Run(p, new ConvAlgorithm(CpuBackend.BackendName, CpuBackend.WeightStream, 9, 0, true),
                new ConvTensors(new HostTensor(p.XShape), new HostTensor(p.WShape), new HostTensor(p.YShape))));
            Assert.That(ex!.Message, Does.Contain("does not apply"));
        }
    }
}
