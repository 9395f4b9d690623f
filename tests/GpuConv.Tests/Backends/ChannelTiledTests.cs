using GpuConv.Tests.Support;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu.Gemm;
using GpuConv.Tensors;

namespace GpuConv.Tests.Backends;

/// <summary>
/// The channel-tiled forward path (AVX-512, or AVX2 + FMA: Avx2ChannelTileTests): against the float64 reference on the shapes that
/// stress it, and the constant-weights cache it reads its packed weights from.
/// </summary>
public class ChannelTiledTests
{
    const double Tolerance = 1e-5;

    /// <summary>Skips a test that runs the kernel where the CPU has none; see <see cref="ChannelTileTier"/>.</summary>
    static void RequireKernels() => ChannelTileTier.RequireOffered(CpuBackend.ChannelTiled, Problem(1, 16, 5, 64, 3, 1, 1, 1, 1));

    static ConvProblem Problem(int n, int c, int hw, int k, int kernel, int stride, int pad, int dilation, int groups) =>
        ConvProblem.Create(new ConvSpec([kernel, kernel], [stride], [dilation], [pad], groups: groups),
            new TensorShape(n, c, hw, hw), new TensorShape(k, c / groups, kernel, kernel));

    /// <summary>
    /// Output channels not a multiple of 64 (partial tiles), depths split into several chunks, pixel counts
    /// not a multiple of 6 and above one task's 1024, padding (own padded planes) and none (x read in
    /// place, strided 1x1 included), inputs padded per worker and once for all, dilation, groups and batch.
    /// </summary>
    [TestCase(1, 40, 7, 70, 3, 1, 1, 1, 1)]
    [TestCase(2, 64, 14, 130, 3, 2, 1, 1, 1)]
    [TestCase(1, 300, 9, 64, 1, 1, 0, 1, 1)]
    [TestCase(2, 96, 13, 96, 1, 2, 0, 1, 1)]   // strided 1x1: read from a dense subsampled copy
    [TestCase(1, 64, 14, 64, 1, 3, 0, 1, 1)]
    [TestCase(1, 32, 41, 80, 3, 1, 1, 1, 1)]
    [TestCase(1, 48, 12, 64, 3, 1, 2, 2, 1)]
    [TestCase(1, 64, 11, 128, 3, 1, 0, 1, 2)]
    [TestCase(3, 24, 10, 17, 5, 1, 2, 1, 1)]
    [TestCase(2, 64, 72, 64, 3, 2, 1, 1, 1)]   // 74 × 74 × 64 padded floats: padded once, shared by the workers
    [TestCase(8, 16, 6, 130, 3, 1, 1, 1, 1)]   // a small padded batch: block-major, each worker keeps its images padded
    [TestCase(8, 64, 44, 64, 3, 1, 1, 1, 1)]   // a large padded batch (> 768K floats): each task is a whole image
    [TestCase(1, 48, 13, 96, 1, 1, 0, 1, 1)]   // K = 96: the last block runs half tiles (32 channels, up to 12 pixels)
    [TestCase(2, 40, 9, 160, 3, 1, 1, 1, 1)]   // K = 160: two whole blocks and a half one, 81 pixels in 7 half tiles
    // The padding's row kernels: stride-2 rows of 33..64 floats (four permutes a row; 56 wide is ResNet-50's
    // layer2.0.conv2, 64 the longest), of at most 32 (odd widths, padding even and odd), and unit-stride
    // padded rows of at most 16 floats (one masked load and store a row; 16 the widest, 17 the row loop).
    [TestCase(1, 24, 56, 64, 3, 2, 1, 1, 1)]
    [TestCase(1, 16, 33, 64, 3, 2, 1, 1, 1)]
    [TestCase(1, 16, 64, 64, 3, 2, 1, 1, 1)]
    [TestCase(1, 16, 45, 64, 3, 2, 2, 1, 1)]
    [TestCase(1, 32, 15, 64, 3, 2, 2, 1, 1)]
    [TestCase(2, 32, 14, 70, 3, 2, 1, 1, 1)]
    [TestCase(1, 24, 12, 64, 3, 1, 2, 1, 1)]
    [TestCase(1, 24, 13, 64, 3, 1, 2, 1, 1)]
    [TestCase(1, 512, 7, 64, 3, 1, 1, 1, 1)]
    // Depths over one K chunk (1024 rows): 4608 above in five chunks of 103 channels and a last of 100, and
    // a 1x1 read in place (1100: two of 550) and a padded stride-2 3x3 (1170: two of 65 channels).
    [TestCase(1, 1100, 9, 64, 1, 1, 0, 1, 1)]
    [TestCase(2, 130, 14, 70, 3, 2, 1, 1, 1)]
    public void MatchesReference(int n, int c, int hw, int k, int kernel, int stride, int pad, int dilation, int groups)
    {
        RequireKernels();
        using var cpu = new CpuBackend(3);
        var p = Problem(n, c, hw, k, kernel, stride, pad, dilation, groups);
        var algo = cpu.GetAlgorithms(p, ConvPrecision.Strict).Single(a => a.Name == CpuBackend.ChannelTiled);
        var (x, w, bias) = (HostTensor.Random(p.XShape, 1), HostTensor.Random(p.WShape, 2), HostTensor.Random(new TensorShape(p.K), 3));
        double[] expected = ReferenceConv.Run(p, x.Data, w.Data, new float[p.YShape.ElementCountInt], bias.Data);
        foreach (bool constant in new[] { false, true })
        {
            var y = new HostTensor(p.YShape);
            Array.Fill(y.Data, float.NaN);
            cpu.Run(p, algo, new ConvTensors(x, w, y, bias) { ConstantWeights = constant });
            var err = ErrorMetrics.Compare(y.Data, expected);
            Assert.That(err.MaxRelative, Is.LessThan(Tolerance), $"{p}, constant weights {constant}: {err}");
        }
    }

    /// <summary>
    /// Per-call weights where each channel block is used by one task (one image, one pixel range: the task packs its
    /// block's K chunks itself) give the constant-weights run's bits (panels packed once, whole): whole and part-filled
    /// blocks, one and several K chunks, x read in place and padded, one and two threads; the Vector256 tier too.
    /// </summary>
    [TestCase(512, 7, 512, 3, 1, 1, 2)]      // ResNet-50's layer4.1.conv2: 8 blocks, 5 chunks
    [TestCase(512, 7, 128, 3, 1, 1, 1)]
    [TestCase(1100, 5, 128, 1, 1, 0, 1)]     // x in place, 2 chunks
    [TestCase(300, 14, 80, 3, 2, 1, 1)]      // a block of 16 channels, 3 chunks, padded phase planes
    [TestCase(40, 7, 70, 3, 1, 1, 1)]
    public void PerCallWeightsPackedInTheTasksGiveTheConstantRunsBits(int c, int hw, int k, int kernel, int stride, int pad, int threads)
    {
        RequireKernels();
        var p = Problem(1, c, hw, k, kernel, stride, pad, 1, 1);
        var (x, w, bias) = (HostTensor.Random(p.XShape, 4), HostTensor.Random(p.WShape, 5), HostTensor.Random(new TensorShape(p.K), 6));
        double[] expected = ReferenceConv.Run(p, x.Data, w.Data, new float[p.YShape.ElementCountInt], bias.Data);
        foreach (var tier in new[] { GemmTier.Vector512, GemmTier.Vector256 })
        {
            if (!GemmTiers.IsSupported(tier)) continue;
            using var cpu = new CpuBackend(threads, tier);
            var algo = cpu.GetAlgorithms(p, ConvPrecision.Strict).Single(a => a.Name == CpuBackend.ChannelTiled);
            var perCall = new HostTensor(p.YShape);
            var constant = new HostTensor(p.YShape);
            cpu.Run(p, algo, new ConvTensors(x, w, perCall, bias));
            cpu.Run(p, algo, new ConvTensors(x, w, constant, bias) { ConstantWeights = true });
            Assert.That(perCall.Data, Is.EqualTo(constant.Data), $"{tier}: per-call and constant weights differ");
            Assert.That(ErrorMetrics.Compare(perCall.Data, expected).MaxRelative, Is.LessThan(Tolerance), tier.ToString());
        }
    }

    /// <summary>
    /// Block-major runs of several units (images) per task, at depths over one K chunk: a padded small
    /// batch on one thread and an unpadded batch of 16 on two.
    /// </summary>
    [TestCase(1, 8, 128, 6, 64, 1)]   // depth 1152: two K chunks of 1024 rows at most
    [TestCase(2, 16, 120, 7, 70, 0)]  // depth 1080
    public void UnitsSharingAPanelMatchReference(int threads, int n, int c, int hw, int k, int pad)
    {
        RequireKernels();
        using var cpu = new CpuBackend(threads);
        var p = Problem(n, c, hw, k, 3, 1, pad, 1, 1);
        var algo = cpu.GetAlgorithms(p, ConvPrecision.Strict).Single(a => a.Name == CpuBackend.ChannelTiled);
        var (x, w, bias) = (HostTensor.Random(p.XShape, 7), HostTensor.Random(p.WShape, 8), HostTensor.Random(new TensorShape(p.K), 9));
        double[] expected = ReferenceConv.Run(p, x.Data, w.Data, new float[p.YShape.ElementCountInt], bias.Data);
        var y = new HostTensor(p.YShape);
        Array.Fill(y.Data, float.NaN);
        cpu.Run(p, algo, new ConvTensors(x, w, y, bias) { ConstantWeights = true });
        var err = ErrorMetrics.Compare(y.Data, expected);
        Assert.That(err.MaxRelative, Is.LessThan(Tolerance), $"{p}: {err}");
    }

    [Test]
    public void ConstantWeightsArePackedOnceAndForgottenOnRequest()
    {
        RequireKernels();
        using var cpu = new CpuBackend(2);
        var p = Problem(1, 64, 7, 64, 3, 1, 1, 1, 1);
        var algo = cpu.GetAlgorithms(p, ConvPrecision.Strict).Single(a => a.Name == CpuBackend.ChannelTiled);
        var x = HostTensor.Random(p.XShape, 4);
        var w = HostTensor.Random(p.WShape, 5);
        var y = new HostTensor(p.YShape);
        var constant = new ConvTensors(x, w, y) { ConstantWeights = true };
        for (int i = 0; i < 5; i++) cpu.Run(p, algo, constant);
        Assert.That(cpu.PreparedWeightPacks, Is.EqualTo(1), "five runs with one constant W pack it once");
        cpu.Run(p, algo, new ConvTensors(x, w, y));
        Assert.That(cpu.PreparedWeightPacks, Is.EqualTo(1), "a W not declared constant is packed into scratch, not cached");

        // Changing a constant W in place and saying so: the next run repacks and is right again.
        for (int i = 0; i < w.Data.Length; i++) w.Data[i] = -2 * w.Data[i] + 0.25f;
        Assert.That(cpu.ForgetPreparedWeights(w), Is.True);
        Assert.That(cpu.ForgetPreparedWeights(w), Is.False, "nothing is held any more");
        cpu.Run(p, algo, constant);
        Assert.That(cpu.PreparedWeightPacks, Is.EqualTo(2));
        var expected = ReferenceConv.Run(p, x.Data, w.Data, new float[p.YShape.ElementCountInt], default);
        Assert.That(ErrorMetrics.Compare(y.Data, expected).MaxRelative, Is.LessThan(Tolerance));

        // Another W array of the same shape is another cache entry.
        var w2 = HostTensor.Random(p.WShape, 6);
        cpu.Run(p, algo, new ConvTensors(x, w2, y) { ConstantWeights = true });
        Assert.That(cpu.PreparedWeightPacks, Is.EqualTo(3));
        expected = ReferenceConv.Run(p, x.Data, w2.Data, new float[p.YShape.ElementCountInt], default);
        Assert.That(ErrorMetrics.Compare(y.Data, expected).MaxRelative, Is.LessThan(Tolerance));
    }

    [Test]
    public void SameWeightsWithAnotherGroupingAreRepacked()
    {
        RequireKernels();
        using var cpu = new CpuBackend(2);
        // One 64 × 32 × 3 × 3 array read as 1 group of 64 outputs, then as 2 groups of 32 over 64 inputs.
        var single = Problem(1, 32, 8, 64, 3, 1, 1, 1, 1);
        var grouped = Problem(1, 64, 8, 64, 3, 1, 1, 1, 2);
        var w = HostTensor.Random(single.WShape, 7);
        foreach (var p in new[] { single, grouped, single })
        {
            var algo = cpu.GetAlgorithms(p, ConvPrecision.Strict).Single(a => a.Name == CpuBackend.ChannelTiled);
            var x = HostTensor.Random(p.XShape, 8);
            var y = new HostTensor(p.YShape);
            cpu.Run(p, algo, new ConvTensors(x, w, y) { ConstantWeights = true });
            var expected = ReferenceConv.Run(p, x.Data, w.Data, new float[p.YShape.ElementCountInt], default);
            Assert.That(ErrorMetrics.Compare(y.Data, expected).MaxRelative, Is.LessThan(Tolerance), p.ToString());
        }
        Assert.That(cpu.PreparedWeightPacks, Is.EqualTo(3));
    }

    /// <summary>
    /// When it is offered, on every CPU: forward only, never depthwise, never below the Vector256 tier
    /// (forced here, so the refusal is checked on wider machines too), and on the default tier exactly
    /// when AVX-512 or AVX2 + FMA runs.
    /// </summary>
    [Test]
    public void OfferedOnlyForNonDepthwiseForwardOnAvx512()
    {
        var p = Problem(1, 16, 5, 64, 3, 1, 1, 1, 1);
        bool Offered(CpuBackend cpu, ConvProblem q) => cpu.GetAlgorithms(q, ConvPrecision.Strict).Any(a => a.Name == CpuBackend.ChannelTiled);
        using (var cpu = new CpuBackend(1))
        {
            bool wide = GemmTiers.Best == GemmTier.Vector512 ? System.Runtime.Intrinsics.X86.Avx512F.IsSupported
                : GemmTiers.Best == GemmTier.Vector256 && System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported;
            Assert.That(Offered(cpu, p), Is.EqualTo(wide), $"default tier {cpu.Tier}, AVX-512 or AVX2 + FMA {wide}");
            Assert.That(Offered(cpu, p.WithOp(ConvOp.BackwardData)), Is.False, "backward data");
            Assert.That(Offered(cpu, p.WithOp(ConvOp.BackwardFilter)), Is.False, "backward filter");
            Assert.That(Offered(cpu, Problem(1, 16, 5, 16, 3, 1, 1, 1, 16)), Is.False, "depthwise");
        }
        foreach (var tier in new[] { GemmTier.Scalar, GemmTier.Vector128 }.Where(GemmTiers.IsSupported))
        {
            using var narrow = new CpuBackend(1, tier);
            Assert.That(Offered(narrow, p), Is.False, $"tier {tier}");
            var (err, where) = ConvCheck.AllAlgorithms(narrow, p, 3, withBias: true);
            Assert.That(err, Is.LessThan(Tolerance), where);
        }
    }
}
