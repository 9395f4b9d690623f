using GpuConv.Cuda.Discovery;
using GpuConv.Networks;
using GpuConv.Networks.InvertedResiduals;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Samples;

/// <summary>
/// samples/GpuConv.Networks' MobileNetV3-Large (<c>--model mobilenetv3</c>) in this process on the CPU path, at 96×96 so
/// CI stays fast (the same 46 convolutions, 15 of them depthwise, 8 squeeze-and-excitation blocks and 10 residual adds as
/// at 224×224): the device-resident network (host memory here, same code; BatchNorm folded; hardswish, hardsigmoid and
/// the SE scaling as the engine's element-wise ops) against the unfolded network in float64, max |error| /
/// max |reference| ≤ 1e-4 (<see cref="NetworkResult.Tolerance"/>); the judge catches the SE blocks left out, a sigmoid
/// gate in hardsigmoid's place, ReLU in hardswish's place, a residual left out and torch's default BatchNorm epsilon in
/// MobileNetV3's 0.001; batch 2 gives each image its own logits; the layers and the parameter count are torchvision's.
/// </summary>
public class MobileNetV3Tests
{
    static float[] OnTheCpuEngine(MobileNetV3Model model, HostTensor x)
    {
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        using var net = new DeviceInvertedResidualNetwork(cpu, model, x.Shape);
        cpu.Upload(x.Data, net.Input);
        net.Run();
        return cpu.Download(net.Logits).Data;
    }

    static MobileNetV3Model WithBlocks(MobileNetV3Model m, IReadOnlyList<InvertedResidual> blocks) => new()
    {
        Stem = m.Stem, Blocks = blocks, Last = m.Last, HiddenWeight = m.HiddenWeight, HiddenBias = m.HiddenBias,
        ClassifierWeight = m.ClassifierWeight, ClassifierBias = m.ClassifierBias,
    };

    /// <summary>The model with every BatchNorm's epsilon <paramref name="eps"/>.</summary>
    static MobileNetV3Model WithEps(MobileNetV3Model m, double eps)
    {
        ConvBn E(ConvBn c) => c with { BatchNorm = c.BatchNorm with { Eps = eps } };
        var blocks = m.Blocks.Select(b => b with { Expand = b.Expand is { } e ? E(e) : null, Depthwise = E(b.Depthwise), Project = E(b.Project) }).ToList();
        return new MobileNetV3Model
        {
            Stem = E(m.Stem), Blocks = blocks, Last = E(m.Last), HiddenWeight = m.HiddenWeight, HiddenBias = m.HiddenBias,
            ClassifierWeight = m.ClassifierWeight, ClassifierBias = m.ClassifierBias,
        };
    }

    [Test]
    public void CpuPath_96x96_MatchesTheUnfoldedNetworkInFloat64()
    {
        var output = new StringWriter();
        var result = NetworkApp.Run(new NetworkOptions { Model = NetworkModel.MobileNetV3, Cpu = true, Size = 96, Runs = 2, Out = output });
        TestContext.Out.WriteLine(output);
        Assert.That(result.Memory, Is.EqualTo("host memory"));
        Assert.That(output.ToString(), Does.Contain(
            "MobileNetV3-Large: 46 convolutions (BatchNorm folded; 15 depthwise, 10 residual adds) + 8 squeeze-excitation blocks + 2-layer classifier, 5.48 M parameters"));
        Assert.That(result.MaxRelativeError, Is.Not.Null.And.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(result.Logits, Has.Length.EqualTo(1000));
        Assert.That(result.Logits.Distinct().Count(), Is.GreaterThan(900), "the logits are not all alike");
        Assert.That(output.ToString(), Does.Contain("mobilenetv3[gpuconv]: batch 1 median "));
        Assert.That(output.ToString(), Does.EndWith("mobilenetv3: PASS" + Environment.NewLine));
    }

    /// <summary>torchvision's mobilenet_v3_large() has 5,483,032 parameters (sum(p.numel() for p in model.parameters())):
    /// the same layers, counted the same way (weights, biases, BatchNorm affine values, not the running statistics).</summary>
    [Test]
    public void TheParameterCountIsTorchvisions()
    {
        Assert.That(MobileNetV3Model.Create().ParameterCount, Is.EqualTo(5_483_032));
        // The classifier's last linear is 1280 × classes + classes of it.
        Assert.That(MobileNetV3Model.Create(classes: 10).ParameterCount, Is.EqualTo(5_483_032 - 990 * 1281));
    }

    [Test]
    public void TheBlocksFollowTorchvisionsTable()
    {
        var model = MobileNetV3Model.Create(classes: 10);
        var blocks = model.Blocks;
        Assert.That(blocks, Has.Count.EqualTo(15));
        Assert.That(blocks[0].Expand, Is.Null, "expanded 16 = input 16: no expansion");
        Assert.That(blocks.Skip(1).All(b => b.Expand is not null));
        Assert.That(blocks.Select(b => b.Depthwise.Spec.Kernel[0]), Is.EqualTo(new[] { 3, 3, 3, 5, 5, 5, 3, 3, 3, 3, 3, 3, 5, 5, 5 }));
        Assert.That(blocks.Select(b => b.Depthwise.Spec.Stride[0]), Is.EqualTo(new[] { 1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1 }));
        Assert.That(blocks.Select(b => b.Depthwise.Spec.PadBegin[0]), Is.EqualTo(blocks.Select(b => b.Depthwise.Spec.Kernel[0] / 2)));
        Assert.That(blocks.Select(b => b.Depthwise.Weight.Shape.Dims[0]), Is.EqualTo(new[] { 16, 64, 72, 72, 120, 120, 240, 200, 184, 184, 480, 672, 672, 960, 960 }));
        Assert.That(blocks.Select(b => b.Project.Weight.Shape.Dims[0]), Is.EqualTo(new[] { 16, 24, 24, 40, 40, 40, 80, 80, 80, 80, 112, 112, 160, 160, 160 }));
        // _make_divisible(expanded // 4, 8): 72 → 24 (18 rounds to 16, under 90%: one step up), 120 → 32, 480 → 120, 672 → 168, 960 → 240.
        Assert.That(blocks.Where(b => b.Se is not null).Select(b => b.Se!.Squeeze), Is.EqualTo(new[] { 24, 32, 32, 120, 168, 168, 240, 240 }));
        Assert.That(blocks.Select(b => b.Se is not null), Is.EqualTo(new[] { false, false, false, true, true, true, false, false, false, false, true, true, true, true, true }));
        Assert.That(blocks.Select(b => b.Activation == Activation.Hardswish), Is.EqualTo(Enumerable.Repeat(false, 6).Concat(Enumerable.Repeat(true, 9))));
        Assert.That(blocks.Select(b => b.Residual), Is.EqualTo(new[] { true, false, true, false, true, true, false, true, true, true, false, true, false, true, true }));
        Assert.That(blocks.All(b => b.Depthwise.Spec.IsDepthwise(b.Depthwise.Weight.Shape.Dims[0]) && b.Depthwise.Weight.Shape.Dims[1] == 1));
        Assert.That(model.Convolutions().All(c => c.BatchNorm.Eps == 1e-3), "torchvision's MobileNetV3 BatchNorm eps");
        Assert.That(model.Last.Weight.Shape.Dims, Is.EqualTo(new[] { 960, 160, 1, 1 }));
        Assert.That(model.HiddenWeight.Shape.Dims, Is.EqualTo(new[] { 1280, 960, 1, 1 }));
        Assert.That(model.Blocks.Where(b => b.Se is not null).All(b => b.Se!.Inner == Activation.Relu && b.Se.Gate == SqueezeGate.Hardsigmoid));
    }

    [Test]
    public void TheFloat64JudgeCatchesPlantedChanges()
    {
        var model = MobileNetV3Model.Create(seed: 3, classes: 10);
        var x = HostTensor.Random(new TensorShape(1, 3, 64, 64), 4);
        var logits = OnTheCpuEngine(model, x);
        double Error(MobileNetV3Model m, Activation hardswish = Activation.Hardswish, bool squeezeExcite = true) =>
            ErrorMetrics.Compare(logits, ReferenceInvertedResidualNetwork.Run(m, x, ReferenceInvertedResidualNetwork.Replacing(Activation.Hardswish, hardswish), squeezeExcite)).MaxRelative;
        Assert.That(Error(model), Is.LessThanOrEqualTo(NetworkResult.Tolerance));

        var errors = new Dictionary<string, double>
        {
            ["the SE blocks left out"] = Error(model, squeezeExcite: false),
            ["ReLU in hardswish's place"] = Error(model, hardswish: Activation.Relu),
            ["sigmoid gates in hardsigmoid's place"] = Error(WithBlocks(model, [.. model.Blocks.Select(b => b with { Se = b.Se is { } se ? se with { Gate = SqueezeGate.Sigmoid } : null })])),
            ["the last residual left out"] = Error(WithBlocks(model, [.. model.Blocks.Select((b, i) => i == 14 ? b with { Residual = false } : b)])),
            ["BatchNorm eps 1e-5 (torch's default) in 0.001's place"] = Error(WithEps(model, 1e-5)),
        };
        foreach (var (change, error) in errors)
        {
            TestContext.Out.WriteLine($"{change}: max rel error {error:E2}");
            Assert.That(error, Is.GreaterThan(NetworkResult.Tolerance), change + ": the sample's check would pass it");
        }
    }

    [Test]
    public void BatchOfTwo_EachImageGetsItsOwnLogits()
    {
        var model = MobileNetV3Model.Create(seed: 5, classes: 8);
        var a = HostTensor.Random(new TensorShape(1, 3, 32, 32), 1);
        var b = HostTensor.Random(new TensorShape(1, 3, 32, 32), 2);
        var together = OnTheCpuEngine(model, new HostTensor(new TensorShape(2, 3, 32, 32), [.. a.Data, .. b.Data]));
        var expected = ReferenceInvertedResidualNetwork.Run(model, a).Concat(ReferenceInvertedResidualNetwork.Run(model, b)).ToArray();
        Assert.That(ErrorMetrics.Compare(together, expected).MaxRelative, Is.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(together[..8], Is.Not.EqualTo(together[8..]));
    }

    [TestCase(18, 24)]     // 72 // 4: 18 → 16 would lose more than 10%, one step up
    [TestCase(17, 16)]     // 16 loses under 10%: kept
    [TestCase(30, 32)]
    [TestCase(3, 8)]       // at least the divisor
    [TestCase(168, 168)]
    [TestCase(20, 24)]     // 20 + 4 = 24: rounds half up
    public void MakeDivisibleIsTorchvisions(double v, int expected) => Assert.That(MobileNetV3Model.MakeDivisible(v), Is.EqualTo(expected));
}

/// <summary>
/// On a GPU host (and against the native fakes in CI): MobileNetV3-Large on the device at 32×32 — tensors in GPU memory,
/// the SE blocks' pools, hardswish, hardsigmoid and channel scaling as kernels, one upload and one download per run —
/// against the unfolded network in float64. Skipped with discovery's reason without a GPU.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class MobileNetV3GpuTests
{
    [Test]
    public void DevicePath_32x32_MatchesTheUnfoldedNetworkInFloat64()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        var output = new StringWriter();
        var result = NetworkApp.Run(new NetworkOptions { Model = NetworkModel.MobileNetV3, Size = 32, Runs = 1, Classes = 100, Out = output });
        TestContext.Out.WriteLine(output);
        Assert.That(result.Memory, Is.EqualTo("GPU memory"));
        Assert.That(result.MaxRelativeError, Is.Not.Null.And.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(result.Passed, Is.True);
    }
}
