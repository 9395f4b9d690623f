using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu.Gemm;
using GpuConv.Tensors;

namespace GpuConv.Tests.Backends;

public class CpuBackendContractTests
{
    static ConvProblem Problem(int groups, int kernel, ConvOp op = ConvOp.Forward, int stride = 1) =>
        ConvProblem.Create(new ConvSpec([kernel, kernel], [stride], padBegin: [kernel / 2], groups: groups),
            new TensorShape(1, 8, 9, 9), new TensorShape(8, 8 / groups, kernel, kernel), op);

    [Test]
    public void CandidatesDependOnTheProblem()
    {
        using var cpu = new CpuBackend(2);
        Assert.That(cpu.Name, Is.EqualTo("cpu"));
        // Channel-tiled (AVX-512 or AVX2 + FMA) comes last for these 8-channel problems (tiles of 64 channels).
        string[] tiled = ChannelTiledSupported ? ["channel-tiled"] : [];
        Assert.That(cpu.GetAlgorithms(Problem(8, 3), ConvPrecision.Strict).Select(a => a.Name), Is.EqualTo(new[] { "direct-depthwise", "shifted-gemm", "im2col-gemm" }));
        Assert.That(cpu.GetAlgorithms(Problem(1, 1), ConvPrecision.Strict).Select(a => a.Name), Is.EqualTo((string[])["gemm-1x1", "im2col-gemm", .. tiled]));
        Assert.That(cpu.GetAlgorithms(Problem(1, 3), ConvPrecision.Strict).Select(a => a.Name), Is.EqualTo((string[])["shifted-gemm", "im2col-gemm", .. tiled]));
        Assert.That(cpu.GetAlgorithms(Problem(1, 3, stride: 2), ConvPrecision.Strict).Select(a => a.Name), Is.EqualTo((string[])["shifted-gemm", "im2col-gemm", .. tiled]));
        Assert.That(cpu.GetAlgorithms(Problem(1, 1, stride: 2), ConvPrecision.Strict).Select(a => a.Name), Is.EqualTo((string[])["im2col-gemm", "shifted-gemm", .. tiled]));
        Assert.That(cpu.GetAlgorithms(Problem(1, 3, ConvOp.BackwardData), ConvPrecision.Strict).Select(a => a.Name), Is.EqualTo(new[] { "forward-phases", "gemm-col2im", "weight-stream" }), "81 dy pixels: weight-stream offered, last");
        Assert.That(cpu.GetAlgorithms(Problem(8, 3, ConvOp.BackwardData), ConvPrecision.Strict).Select(a => a.Name), Is.EqualTo(new[] { "forward-phases", "gemm-col2im", "weight-stream" }), "depthwise");
        Assert.That(cpu.GetAlgorithms(Problem(1, 1, ConvOp.BackwardData), ConvPrecision.Strict).Select(a => a.Name), Is.EqualTo(new[] { "gemm-1x1", "gemm-col2im", "forward-phases", "weight-stream" }));
        var fewChannels = ConvProblem.Create(new ConvSpec([4, 4], [2], padBegin: [1]), new TensorShape(1, 3, 16, 16), new TensorShape(8, 3, 4, 4), ConvOp.BackwardData);
        Assert.That(cpu.GetAlgorithms(fewChannels, ConvPrecision.Strict).Select(a => a.Name), Is.EqualTo(new[] { "gemm-col2im", "forward-phases", "weight-stream" }), "3 channels of dx: the phases' forwards fill few lanes");
        var upConv = ConvProblem.Create(new ConvSpec([2, 2], [2]), new TensorShape(1, 16, 16, 16), new TensorShape(8, 16, 2, 2), ConvOp.BackwardData);
        Assert.That(cpu.GetAlgorithms(upConv, ConvPrecision.Strict).Select(a => a.Name), Is.EqualTo(new[] { "gemm-shuffle", "forward-phases", "gemm-col2im" }), "stride == kernel: one tap per dx position");
        Assert.That(cpu.GetAlgorithms(Problem(8, 3, ConvOp.BackwardFilter), ConvPrecision.Strict).Select(a => a.Name), Is.EqualTo(new[] { "direct-depthwise", "im2col-gemm", "reduction-split" }), "depthwise weight gradient: the direct kernel first");
        var shifted = cpu.GetAlgorithms(Problem(1, 3), ConvPrecision.Strict)[0];
        Assert.That(shifted.WorkspaceBytes, Is.GreaterThanOrEqualTo(8 * 11 * 11 * sizeof(float)), "the padded input is workspace");
        Assert.That(shifted.Deterministic, Is.True);
    }

    /// <summary>Whether this CPU's widest tier (the one <c>new CpuBackend(2)</c> takes) has channel-tile kernels: AVX-512, or AVX2 + FMA.</summary>
    static bool ChannelTiledSupported => GpuConv.Cpu.ChannelTiled.ChannelTiledConv.Supported(GemmTiers.Best);

    /// <summary>Deep problems with tiles at least three quarters full lead with channel-tiled, larger 3x3 stride-1 ones with winograd (where AVX-512 or AVX2 + FMA runs them).</summary>
    [Test]
    public void DeepProblemsLeadWithChannelTiled()
    {
        using var cpu = new CpuBackend(2);
        var deep = ConvProblem.Create(new ConvSpec([3, 3], [1], padBegin: [1]), new TensorShape(1, 64, 7, 7), new TensorShape(128, 64, 3, 3));
        var deepPointwise = ConvProblem.Create(new ConvSpec([1, 1]), new TensorShape(1, 256, 7, 7), new TensorShape(64, 256, 1, 1));
        var narrow = ConvProblem.Create(new ConvSpec([3, 3], [1], padBegin: [1]), new TensorShape(1, 64, 14, 14), new TensorShape(40, 64, 3, 3));
        var halfTiled = ConvProblem.Create(new ConvSpec([3, 3], [1], padBegin: [1]), new TensorShape(1, 64, 7, 7), new TensorShape(80, 64, 3, 3));
        var winograd = ConvProblem.Create(new ConvSpec([3, 3], [1], padBegin: [1]), new TensorShape(1, 64, 14, 14), new TensorShape(128, 64, 3, 3))
            .WithConstantWeights(true);
        var shallowSmall = ConvProblem.Create(new ConvSpec([1, 1]), new TensorShape(1, 32, 28, 28), new TensorShape(192, 32, 1, 1));
        var shallowLarge = ConvProblem.Create(new ConvSpec([1, 1]), new TensorShape(1, 64, 56, 56), new TensorShape(256, 64, 1, 1));
        string expected = ChannelTiledSupported ? "channel-tiled" : "shifted-gemm";
        Assert.That(cpu.GetAlgorithms(deep, ConvPrecision.Strict)[0].Name, Is.EqualTo(expected));
        Assert.That(cpu.GetAlgorithms(deepPointwise, ConvPrecision.Strict)[0].Name, Is.EqualTo(ChannelTiledSupported ? "channel-tiled" : "gemm-1x1"));
        Assert.That(cpu.GetAlgorithms(narrow, ConvPrecision.Strict)[0].Name, Is.EqualTo("shifted-gemm"), "40 of 64 lanes is too much waste");
        Assert.That(cpu.GetAlgorithms(halfTiled, ConvPrecision.Strict)[0].Name, Is.EqualTo(expected), "80 channels: a whole tile and a half one, 80 of 96 lanes");
        Assert.That(cpu.GetAlgorithms(winograd, ConvPrecision.Strict)[0].Name, Is.EqualTo(ChannelTiledSupported ? "winograd" : "shifted-gemm"),
            "a 3x3 stride-1 layer with 64 input channels and 196 outputs leads with winograd (7 × 7 planes do not)");
        Assert.That(cpu.GetAlgorithms(winograd.WithConstantWeights(false), ConvPrecision.Strict)[0].Name, Is.EqualTo(expected),
            "with weights that change every call the same layer leads with channel-tiled (Winograd is for constant weights)");
        Assert.That(cpu.GetAlgorithms(shallowSmall, ConvPrecision.Strict)[0].Name, Is.EqualTo(ChannelTiledSupported ? "channel-tiled" : "gemm-1x1"), "a small plane leads with channel-tiled at any depth");
        Assert.That(cpu.GetAlgorithms(shallowLarge, ConvPrecision.Strict)[0].Name, Is.EqualTo("gemm-1x1"), "a large plane with a shallow sum stays pixel-vectorized");
    }

    /// <summary>
    /// The lead choices that differ between the AVX-512 (Vector512) and AVX2 + FMA (Vector256) tiers, and some that do not,
    /// each tier asserted where this machine runs it: the stems (shifted-direct on both, with 12 × 32 and 6 × 16 tiles) and 1x1 layers
    /// with 16 or 32 output channels (channel-tiled's AVX2 kernels work in 16-channel quarters, its AVX-512 ones in 64-lane
    /// tiles and 32-lane half tiles).
    /// </summary>
    [TestCase(GemmTier.Vector512)]
    [TestCase(GemmTier.Vector256)]
    public void LeadChoicesPerTier(GemmTier tier)
    {
        if (!GemmTiers.IsSupported(tier) || !GpuConv.Cpu.Gemm.ChannelTileKernelChoice.Supported(tier))
            Assert.Ignore($"{tier} and its channel-tile kernels do not run here (best tier {GemmTiers.Best})");
        using var cpu = new CpuBackend(2, tier);
        bool avx2 = tier == GemmTier.Vector256;
        string Lead(ConvProblem p) => cpu.GetAlgorithms(p.WithConstantWeights(true), ConvPrecision.Strict)[0].Name;
        static ConvProblem Pointwise(int c, int k, int size) =>
            ConvProblem.Create(new ConvSpec([1, 1]), new TensorShape(1, c, size, size), new TensorShape(k, c, 1, 1));
        var stem = ConvProblem.Create(new ConvSpec([7, 7], [2], padBegin: [3]), new TensorShape(1, 3, 224, 224), new TensorShape(64, 3, 7, 7));
        var winograd = ConvProblem.Create(new ConvSpec([3, 3], [1], padBegin: [1]), new TensorShape(1, 64, 56, 56), new TensorShape(64, 64, 3, 3));
        Assert.Multiple(() =>
        {
            Assert.That(Lead(Pointwise(32, 16, 112)), Is.EqualTo(avx2 ? "channel-tiled" : "gemm-1x1"), "MobileNetV2's 32 -> 16 projection");
            Assert.That(Lead(Pointwise(192, 32, 28)), Is.EqualTo("channel-tiled"), "MobileNetV2's 192 -> 32 projection (AVX-512: one full 32-channel half tile)");
            Assert.That(Lead(Pointwise(16, 32, 112)), Is.EqualTo(avx2 ? "channel-tiled" : "gemm-1x1"), "a 32-channel sum over 16 inputs");
            Assert.That(Lead(Pointwise(144, 40, 28)), Is.EqualTo("gemm-1x1"), "EfficientNet-B0's 144 -> 40 projection");
            Assert.That(Lead(Pointwise(96, 24, 56)), Is.EqualTo("gemm-1x1"), "24 channels: two quarters, a fourth of them empty");
            Assert.That(Lead(Pointwise(64, 256, 56)), Is.EqualTo("gemm-1x1"), "a shallow sum over a large plane");
            Assert.That(Lead(Pointwise(2048, 512, 7)), Is.EqualTo("channel-tiled"), "a deep sum over a small plane");
            Assert.That(Lead(stem), Is.EqualTo("shifted-direct"), "ResNet-50's 7x7/2 stem");
            Assert.That(Lead(winograd), Is.EqualTo("winograd-4x4"), "ResNet-50's 56 x 56 3x3");
        });
    }

    [Test]
    public void RejectsForeignOrInapplicableAlgorithms()
    {
        using var cpu = new CpuBackend(1);
        var p = Problem(1, 3);
        var t = new ConvTensors(HostTensor.Random(p.XShape, 1), HostTensor.Random(p.WShape, 2), new HostTensor(p.YShape));
        var ex = Assert.Throws<ArgumentException>(() => cpu.Run(p, new ConvAlgorithm("reference", "naive-f64", 0, 0, true), t));
        Assert.That(ex!.Message, Does.Contain("reference"));
        ex = Assert.Throws<ArgumentException>(() => cpu.Run(p, new ConvAlgorithm("cpu", "direct-depthwise", 2, 0, true), t));
        Assert.That(ex!.Message, Does.Contain("does not apply"));
        var wrong = new ConvTensors(HostTensor.Random(p.XShape, 1), HostTensor.Random(p.WShape, 2), new HostTensor(1, 8, 9, 8));
        ex = Assert.Throws<ArgumentException>(() => cpu.Run(p, cpu.GetAlgorithms(p, ConvPrecision.Strict)[0], wrong));
        Assert.That(ex!.ParamName, Is.EqualTo("Y"));
    }

    [Test]
    public void RejectsBadOptions()
    {
        Assert.Throws<ArgumentException>(() => new CpuBackend(0));
        Assert.Throws<ArgumentException>(() => new CpuBackend(-2));
        Assert.That(new CpuBackend().MaxDegreeOfParallelism, Is.EqualTo(Environment.ProcessorCount));
    }

    [Test]
    public void SteadyStateReusesWorkspaces()
    {
        using var cpu = new CpuBackend(2);
        var p = Problem(1, 3);
        var algo = cpu.GetAlgorithms(p, ConvPrecision.Strict)[0];
        var t = new ConvTensors(HostTensor.Random(p.XShape, 1), HostTensor.Random(p.WShape, 2), new HostTensor(p.YShape));
        cpu.Run(p, algo, t);
        cpu.Run(p, algo, t);
        long held = cpu.WorkspaceBytesHeld;
        for (int i = 0; i < 5; i++) cpu.Run(p, algo, t);
        Assert.That(cpu.WorkspaceBytesHeld, Is.EqualTo(held), "no workspace grows on repeated runs");
        Assert.That(held, Is.GreaterThan(0));
    }

    [Test]
    public void SgemmRejectsShortOperands()
    {
        var ex = Assert.Throws<ArgumentException>(() => Sgemm.Multiply(4, 4, 4, new float[15], 4, false, new float[16], 4, false, new float[16], 4));
        Assert.That(ex!.ParamName, Is.EqualTo("a"));
        ex = Assert.Throws<ArgumentException>(() => Sgemm.Multiply(4, 4, 4, new float[16], 3, false, new float[16], 4, false, new float[16], 4));
        Assert.That(ex!.ParamName, Is.EqualTo("lda"));
    }
}
