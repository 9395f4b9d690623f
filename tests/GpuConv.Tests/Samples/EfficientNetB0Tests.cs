using GpuConv.Cuda.Discovery;
using GpuConv.Networks;
using GpuConv.Networks.InvertedResiduals;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Samples;

/// <summary>
/// samples/GpuConv.Networks' EfficientNet-B0 (<c>--model efficientnetb0</c>) in this process on the CPU path, at 96×96 so
/// CI stays fast (the same 49 convolutions, 16 of them depthwise, 16 squeeze-and-excitation blocks and 9 residual adds as
/// at 224×224): the device-resident network (host memory here, same code; BatchNorm folded; conv + bias + SiLU fused, the
/// SE gates as the engine's sigmoid and ScaleChannels) against the unfolded network in float64, max |error| /
/// max |reference| ≤ 1e-4 (<see cref="NetworkResult.Tolerance"/>); the judge catches the SE blocks left out, a
/// hardsigmoid gate in sigmoid's place, ReLU in SiLU's place and a residual left out; batch 2 gives each image its own
/// logits; the layers and the parameter count are torchvision's.
/// </summary>
public class EfficientNetB0Tests
{
    static float[] OnTheCpuEngine(EfficientNetB0Model model, HostTensor x)
    {
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        using var net = new DeviceInvertedResidualNetwork(cpu, model, x.Shape);
        cpu.Upload(x.Data, net.Input);
        net.Run();
        return cpu.Download(net.Logits).Data;
    }

    static EfficientNetB0Model WithBlocks(EfficientNetB0Model m, IReadOnlyList<InvertedResidual> blocks) => new()
    {
        Stem = m.Stem, Blocks = blocks, Last = m.Last, ClassifierWeight = m.ClassifierWeight, ClassifierBias = m.ClassifierBias,
    };

    [Test]
    public void CpuPath_96x96_MatchesTheUnfoldedNetworkInFloat64()
    {
        var output = new StringWriter();
        var result = NetworkApp.Run(new NetworkOptions { Model = NetworkModel.EfficientNetB0, Cpu = true, Size = 96, Runs = 2, Out = output });
        TestContext.Out.WriteLine(output);
        Assert.That(result.Memory, Is.EqualTo("host memory"));
        Assert.That(output.ToString(), Does.Contain(
            "EfficientNet-B0: 49 convolutions (BatchNorm folded; 16 depthwise, 9 residual adds) + 16 squeeze-excitation blocks + classifier, 5.29 M parameters"));
        Assert.That(result.MaxRelativeError, Is.Not.Null.And.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(result.Logits, Has.Length.EqualTo(1000));
        Assert.That(result.Logits.Distinct().Count(), Is.GreaterThan(900), "the logits are not all alike");
        Assert.That(output.ToString(), Does.Contain("efficientnetb0[gpuconv]: batch 1 median "));
        Assert.That(output.ToString(), Does.EndWith("efficientnetb0: PASS" + Environment.NewLine));
    }

    /// <summary>torchvision's efficientnet_b0() has 5,288,548 parameters: the same layers, counted the same way (weights,
    /// biases, BatchNorm affine values, not the running statistics).</summary>
    [Test]
    public void TheParameterCountIsTorchvisions()
    {
        Assert.That(EfficientNetB0Model.Create().ParameterCount, Is.EqualTo(5_288_548));
        Assert.That(EfficientNetB0Model.Create(classes: 10).ParameterCount, Is.EqualTo(5_288_548 - 990 * 1281));
    }

    [Test]
    public void TheBlocksFollowTorchvisionsTable()
    {
        var model = EfficientNetB0Model.Create(classes: 10);
        var blocks = model.Blocks;
        Assert.That(blocks, Has.Count.EqualTo(16));
        Assert.That(blocks[0].Expand, Is.Null, "expansion ratio 1: no expansion");
        Assert.That(blocks.Skip(1).All(b => b.Expand is not null));
        Assert.That(blocks.Select(b => b.Depthwise.Spec.Kernel[0]), Is.EqualTo(new[] { 3, 3, 3, 5, 5, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 3 }));
        Assert.That(blocks.Select(b => b.Depthwise.Spec.Stride[0]), Is.EqualTo(new[] { 1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1 }));
        Assert.That(blocks.Select(b => b.Depthwise.Weight.Shape.Dims[0]), Is.EqualTo(new[] { 32, 96, 144, 144, 240, 240, 480, 480, 480, 672, 672, 672, 1152, 1152, 1152, 1152 }));
        Assert.That(blocks.Select(b => b.Project.Weight.Shape.Dims[0]), Is.EqualTo(new[] { 16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112, 192, 192, 192, 192, 320 }));
        // The squeeze is a quarter of the block's input channels (not of the expanded width, as MobileNetV3's).
        Assert.That(blocks.Select(b => b.Se!.Squeeze), Is.EqualTo(new[] { 8, 4, 6, 6, 10, 10, 20, 20, 20, 28, 28, 28, 48, 48, 48, 48 }));
        Assert.That(blocks.All(b => b.Se!.Inner == Activation.Silu && b.Se.Gate == SqueezeGate.Sigmoid));
        Assert.That(blocks.All(b => b.Activation == Activation.Silu));
        Assert.That(blocks.Select(b => b.Residual), Is.EqualTo(new[] { false, false, true, false, true, false, true, true, false, true, true, false, true, true, true, false }));
        Assert.That(model.Convolutions().All(c => c.BatchNorm.Eps == 1e-5), "torch's default BatchNorm eps");
        Assert.That(model.Last.Weight.Shape.Dims, Is.EqualTo(new[] { 1280, 320, 1, 1 }));
    }

    [Test]
    public void TheFloat64JudgeCatchesPlantedChanges()
    {
        var model = EfficientNetB0Model.Create(seed: 3, classes: 10);
        var x = HostTensor.Random(new TensorShape(1, 3, 64, 64), 4);
        var logits = OnTheCpuEngine(model, x);
        double Error(EfficientNetB0Model m, Activation silu = Activation.Silu, bool squeezeExcite = true) =>
            ErrorMetrics.Compare(logits, ReferenceInvertedResidualNetwork.Run(m, x, ReferenceInvertedResidualNetwork.Replacing(Activation.Silu, silu), squeezeExcite)).MaxRelative;
        Assert.That(Error(model), Is.LessThanOrEqualTo(NetworkResult.Tolerance));

        int lastResidual = model.Blocks.ToList().FindLastIndex(b => b.Residual);
        var errors = new Dictionary<string, double>
        {
            ["the SE blocks left out"] = Error(model, squeezeExcite: false),
            ["ReLU in SiLU's place"] = Error(model, Activation.Relu),
            ["hardsigmoid gates in sigmoid's place"] = Error(WithBlocks(model, [.. model.Blocks.Select(b => b with { Se = b.Se! with { Gate = SqueezeGate.Hardsigmoid } })])),
            ["the last residual left out"] = Error(WithBlocks(model, [.. model.Blocks.Select((b, i) => i == lastResidual ? b with { Residual = false } : b)])),
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
        var model = EfficientNetB0Model.Create(seed: 5, classes: 8);
        var a = HostTensor.Random(new TensorShape(1, 3, 32, 32), 1);
        var b = HostTensor.Random(new TensorShape(1, 3, 32, 32), 2);
        var together = OnTheCpuEngine(model, new HostTensor(new TensorShape(2, 3, 32, 32), [.. a.Data, .. b.Data]));
        var expected = ReferenceInvertedResidualNetwork.Run(model, a).Concat(ReferenceInvertedResidualNetwork.Run(model, b)).ToArray();
        Assert.That(ErrorMetrics.Compare(together, expected).MaxRelative, Is.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(together[..8], Is.Not.EqualTo(together[8..]));
    }
}

/// <summary>
/// On a GPU host (and against the native fakes in CI): EfficientNet-B0 on the device at 32×32 — tensors in GPU memory, the
/// SE blocks' pools, sigmoids and channel scaling as kernels, one upload and one download per run — against the unfolded
/// network in float64. Skipped with discovery's reason without a GPU.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class EfficientNetB0GpuTests
{
    [Test]
    public void DevicePath_32x32_MatchesTheUnfoldedNetworkInFloat64()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        var output = new StringWriter();
        var result = NetworkApp.Run(new NetworkOptions { Model = NetworkModel.EfficientNetB0, Size = 32, Runs = 1, Classes = 100, Out = output });
        TestContext.Out.WriteLine(output);
        Assert.That(result.Memory, Is.EqualTo("GPU memory"));
        Assert.That(result.MaxRelativeError, Is.Not.Null.And.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(result.Passed, Is.True);
    }
}
