using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// The CPU backend's gemm-shuffle backward-data (stride == kernel, or a dy extent of 1: one GEMM on Wᵀ and
/// a pixel shuffle) against ReferenceConv.BackwardData in float64 on random non-zero inputs.
/// fp32 max relative error bound: 1e-5 (sums of at most a thousand products).
/// </summary>
public class GemmShuffleTests
{
    const double Tolerance = BackwardDataCheck.Tolerance;

    static ConvAlgorithm? Shuffle(CpuBackend cpu, ConvProblem p) => BackwardDataCheck.Offered(cpu, p, CpuBackend.GemmShuffle);

    static double Check(CpuBackend cpu, ConvProblem p, int seed, bool bias, bool constant) =>
        BackwardDataCheck.WorstError(cpu, p, CpuBackend.GemmShuffle, seed, bias, constant);

    static ConvProblem Transposed(int[] kernel, int[] stride, int[] padBegin, int[] padEnd, int[] outputPadding,
        int groups, int n, int cin, int coutPerGroup, int[] input) =>
        BackwardDataCheck.Transposed(kernel, stride, padBegin, padEnd, outputPadding, null, groups, n, cin, coutPerGroup, input);

    /// <summary>
    /// Kernel == stride (1–4) per dimension, or an input of extent 1 with any stride; pads within the kernel
    /// (asymmetric: cropped dx), output padding, groups, batch 1–2, ranks 1–3, bias on and off, constant and per-call weights.
    /// </summary>
    [Test]
    public void RandomKernelIsStrideConvolutionsMatchReference()
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 3);
        var rng = new Random(77);
        var failures = new List<string>();
        int ran = 0, grouped = 0, withOutputPadding = 0, padded = 0, batched = 0, singleInput = 0;
        var ranks = new int[4];
        double worst = 0;
        for (int i = 0; ran < 200 && i < 1000; i++)
        {
            int rank = 1 + i % 3;
            int[] R(Func<int> f) => Enumerable.Range(0, rank).Select(_ => f()).ToArray();
            var kernel = R(() => rng.Next(1, 5));
            var input = R(() => rng.Next(1, rank == 3 ? 5 : 9));
            // Stride == kernel, except along an input of extent 1, where any stride puts one tap per position.
            var stride = Enumerable.Range(0, rank).Select(d => input[d] == 1 && rng.Next(2) == 0 ? rng.Next(1, 4) : kernel[d]).ToArray();
            var pb = R(() => rng.Next(3) == 0 ? 1 : 0).Select((v, d) => Math.Min(v, kernel[d] - 1)).ToArray();
            var pe = R(() => rng.Next(3) == 0 ? 1 : 0).Select((v, d) => Math.Min(v, kernel[d] - 1)).ToArray();
            var op = Enumerable.Range(0, rank).Select(d => rng.Next(3) == 0 ? rng.Next(0, Math.Max(1, stride[d])) : 0).ToArray();
            int groups = rng.Next(3) == 0 ? rng.Next(2, 4) : 1;
            int cin = groups * rng.Next(1, 5), coutPerGroup = rng.Next(1, 5), n = rng.Next(1, 3);
            ConvProblem p;
            try { p = Transposed(kernel, stride, pb, pe, op, groups, n, cin, coutPerGroup, input); }
            catch (ArgumentException) { continue; }
            if (Shuffle(cpu, p) is null) continue;
            ran++;
            ranks[rank]++;
            if (groups > 1) grouped++;
            if (op.Any(o => o > 0)) withOutputPadding++;
            if (pb.Any(v => v > 0) || pe.Any(v => v > 0)) padded++;
            if (n > 1) batched++;
            if (p.YShape.SpatialSize == 1) singleInput++;
            double e = Check(cpu, p, i, bias: i % 2 == 0, constant: i % 4 < 2);
            worst = Math.Max(worst, e);
            if (!(e < Tolerance)) failures.Add($"{p}: {e:E2}");
        }
        TestContext.Out.WriteLine($"{ran} ran, worst {worst:E2}; ranks {ranks[1]}/{ranks[2]}/{ranks[3]}, grouped {grouped}, output padding {withOutputPadding}, padded {padded}, batch 2 {batched}, one dy position {singleInput}");
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
        Assert.That(ran, Is.EqualTo(200));
        Assert.That(ranks[1] > 0 && ranks[2] > 0 && ranks[3] > 0 && grouped > 0 && withOutputPadding > 0 && padded > 0 && batched > 0 && singleInput > 0,
            "the sweep covers every feature");
    }

    /// <summary>
    /// Layer-sized shapes: UNet's and ERFNet's 2x2 s2 up-convolutions (scaled down: several column blocks and
    /// channel tiles, rows split across blocks), a 3x3 s3 and a 2x2x2 s2, DCGAN's 1x1 → 4x4 (the one-column
    /// W-row sum, 100 → 512 and a ragged 37 → 70), output padding, groups and batch 2.
    /// </summary>
    [TestCase(1, 256, 28, 28, 128, 2, 0, 1, true)]
    [TestCase(1, 256, 28, 28, 128, 2, 0, 1, false)]
    [TestCase(1, 128, 50, 50, 64, 2, 0, 1, false)]
    [TestCase(2, 64, 37, 41, 32, 2, 1, 1, true)]
    [TestCase(1, 16, 64, 96, 20, 2, 0, 1, false)]
    [TestCase(1, 48, 13, 17, 24, 3, 2, 1, true)]
    [TestCase(2, 64, 20, 20, 32, 2, 0, 4, false)]
    [TestCase(1, 100, 1, 1, 512, 4, 0, 1, true)]
    [TestCase(2, 37, 1, 1, 70, 4, 0, 1, false)]
    public void LayerShapesMatchReference(int n, int cin, int h, int w, int cout, int kernel, int outputPadding, int groups, bool constant)
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var p = Transposed([kernel, kernel], h == 1 ? [1, 1] : [kernel, kernel], [0, 0], [0, 0], [outputPadding, outputPadding],
            groups, n, cin, cout / groups, [h, w]);
        Assert.That(cpu.GetAlgorithms(p, ConvPrecision.Strict)[0].Name, Is.EqualTo(CpuBackend.GemmShuffle), "it leads where it applies");
        Assert.That(Check(cpu, p, h + cin, bias: true, constant), Is.LessThan(Tolerance));
    }

    /// <summary>On deep sums (≥ 512 dy channels per group, UNet's first up-convolutions) forward-phases leads and gemm-shuffle comes next.</summary>
    [Test]
    public void FollowsForwardPhasesOnDeepSums()
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var deep = Transposed([2, 2], [2, 2], [0, 0], [0, 0], [0, 0], 1, 1, 512, 256, [6, 6]);
        Assert.That(cpu.GetAlgorithms(deep, ConvPrecision.Strict).Select(a => a.Name).Take(2), Is.EqualTo(new[] { CpuBackend.ForwardPhases, CpuBackend.GemmShuffle }));
        Assert.That(Check(cpu, deep, 9, bias: true, constant: true), Is.LessThan(Tolerance));
    }

    /// <summary>A 3-d 2x2x2 stride-2 up-convolution (V-Net / 3-d U-Net style) with output padding along one dimension.</summary>
    [TestCase(true)]
    [TestCase(false)]
    public void ThreeDimensionalMatchesReference(bool constant)
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var p = Transposed([2, 2, 2], [2, 2, 2], [0, 0, 0], [0, 0, 0], [1, 0, 0], 1, 1, 32, 16, [5, 6, 7]);
        Assert.That(Check(cpu, p, 3, bias: true, constant), Is.LessThan(Tolerance));
    }

    /// <summary>Lower SIMD tiers run the same tiles with their own GEMM kernels and the narrower W-row sum.</summary>
    [TestCase(GpuConv.Cpu.Gemm.GemmTier.Vector256)]
    [TestCase(GpuConv.Cpu.Gemm.GemmTier.Vector128)]
    [TestCase(GpuConv.Cpu.Gemm.GemmTier.Scalar)]
    public void LowerTiersMatchReference(GpuConv.Cpu.Gemm.GemmTier tier)
    {
        // Vector256 is x86's AVX2: on ARM64 (NEON) the widest tier is Vector128.
        if (!GpuConv.Cpu.Gemm.GemmTiers.IsSupported(tier)) Assert.Ignore($"tier {tier} is not accelerated here (best {GpuConv.Cpu.Gemm.GemmTiers.Best})");
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2, tier: tier);
        var upConv = Transposed([2, 2], [2, 2], [0, 0], [0, 0], [0, 0], 1, 1, 40, 24, [9, 11]);
        var oneColumn = Transposed([4, 4], [1, 1], [0, 0], [0, 0], [0, 0], 1, 1, 20, 21, [1, 1]);
        Assert.That(Check(cpu, upConv, 1, bias: true, constant: false), Is.LessThan(Tolerance));
        Assert.That(Check(cpu, oneColumn, 2, bias: false, constant: true), Is.LessThan(Tolerance));
    }

    /// <summary>A constant W changed in place is stale (the cached Wᵀ) until ForgetPreparedWeights; then the new values are used.</summary>
    [Test]
    public void ChangedConstantWeightsAreUsedAfterForgetPreparedWeights()
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var p = Transposed([2, 2], [2, 2], [0, 0], [0, 0], [0, 0], 1, 1, 64, 32, [12, 12]);
        BackwardDataCheck.AssertChangedConstantWeightsNeedForget(cpu, p, CpuBackend.GemmShuffle, "the cached Wᵀ");
    }

    /// <summary>Not offered where a dx position takes several taps (kernel above the stride), with dilation, or for forward problems.</summary>
    [Test]
    public void DeclinedWhereItDoesNotApply()
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var overlapping = Transposed([4, 4], [2, 2], [1, 1], [1, 1], [0, 0], 1, 1, 8, 8, [6, 6]);
        var sparse = Transposed([1, 1], [2, 2], [0, 0], [0, 0], [0, 0], 1, 1, 8, 8, [6, 6]);
        var dilated = ConvProblem.Create(new ConvSpec([2, 2], [1], [2]), new TensorShape(1, 8, 9, 9), new TensorShape(8, 8, 2, 2), ConvOp.BackwardData);
        var forward = ConvProblem.Create(new ConvSpec([2, 2], [2]), new TensorShape(1, 8, 12, 12), new TensorShape(8, 8, 2, 2));
        foreach (var p in new[] { overlapping, sparse, dilated, forward })
        {
            Assert.That(Shuffle(cpu, p), Is.Null, p.ToString());
            var ex = Assert.Throws<ArgumentException>(() => cpu.Run(p, new ConvAlgorithm(CpuBackend.BackendName, CpuBackend.GemmShuffle, 8, 0, true),
                new ConvTensors(new HostTensor(p.XShape), new HostTensor(p.WShape), new HostTensor(p.YShape))));
            Assert.That(ex!.Message, Does.Contain("does not apply"));
        }
    }
}
