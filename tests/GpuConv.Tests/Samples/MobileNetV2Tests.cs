using GpuConv.Cuda.Discovery;
using GpuConv.Networks;
using GpuConv.Networks.InvertedResiduals;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Samples;

/// <summary>
/// samples/GpuConv.Networks' MobileNetV2 (<c>--model mobilenetv2</c>) in this process on the CPU path, at 96×96 so CI
/// stays fast (the same 52 convolutions, 17 of them depthwise, and 10 residual adds as at 224×224): the device-resident
/// network (host memory here, same code; BatchNorm folded) against the unfolded network in float64, max |error| /
/// max |reference| ≤ 1e-4 (<see cref="NetworkResult.Tolerance"/>); the judge catches a changed depthwise BatchNorm, a
/// residual left out and ReLU in ReLU6's place; batch 2 gives each image its own logits.
/// </summary>
public class MobileNetV2Tests
{
    static float[] OnTheCpuEngine(MobileNetV2Model model, HostTensor x)
    {
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        using var net = new DeviceInvertedResidualNetwork(cpu, model, x.Shape);
        cpu.Upload(x.Data, net.Input);
        net.Run();
        return cpu.Download(net.Logits).Data;
    }

    /// <summary>
    /// The large blocks as single calls (at 128 × 128 the four blocks at 64² and 32², in the CPU engine's band kernel)
    /// against every layer as its own call: the same logits to rounding, on one image and on two.
    /// </summary>
    [TestCase(1)]
    [TestCase(2)]
    public void FusedBlocksGiveTheLayerByLayerLogits(int batch)
    {
        var model = MobileNetV2Model.Create(7, 100);
        var x = HostTensor.Random(new TensorShape(batch, 3, 128, 128), 3);
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        (float[] Logits, long Activations) Run(bool fuse)
        {
            using var net = new DeviceInvertedResidualNetwork(cpu, model, x.Shape, fuseLargeBlocks: fuse);
            cpu.Upload(x.Data, net.Input);
            net.Run();
            return (cpu.Download(net.Logits).Data, net.ActivationBytes);
        }
        var fused = Run(true);
        Assert.That(cpu.LastInvertedResidualBanded, Is.EqualTo(GpuConv.Cpu.Gemm.GemmTiers.Best is GpuConv.Cpu.Gemm.GemmTier.Vector512 or GpuConv.Cpu.Gemm.GemmTier.Vector256),
            "the last fused block ran in bands (where the 3x3 plane kernels exist)");
        var layers = Run(false);
        Assert.That(fused.Activations, Is.LessThan(layers.Activations), "no expansion buffers for the fused blocks");
        double error = GpuConv.Tests.Support.Differences.MaxRelative(fused.Logits, layers.Logits);
        TestContext.Out.WriteLine($"fused against layer by layer: max rel {error:E2}; activations {fused.Activations} against {layers.Activations} bytes");
        Assert.That(error, Is.LessThan(1e-5));
    }

    [Test]
    public void CpuPath_96x96_MatchesTheUnfoldedNetworkInFloat64()
    {
        var output = new StringWriter();
        var result = NetworkApp.Run(new NetworkOptions { Model = NetworkModel.MobileNetV2, Cpu = true, Size = 96, Runs = 2, Out = output });
        TestContext.Out.WriteLine(output);
        Assert.That(result.Memory, Is.EqualTo("host memory"));
        // torchvision's mobilenet_v2() has 3,504,872 parameters: the same layers, counted the same way.
        Assert.That(output.ToString(), Does.Contain("MobileNetV2: 52 convolutions (BatchNorm folded; 17 depthwise, 10 residual adds) + classifier, 3.50 M parameters"));
        Assert.That(MobileNetV2Model.Create().ParameterCount, Is.EqualTo(3_504_872));
        Assert.That(result.MaxRelativeError, Is.Not.Null.And.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(result.Logits, Has.Length.EqualTo(1000));
        Assert.That(result.Logits.Distinct().Count(), Is.GreaterThan(900), "the logits are not all alike");
        Assert.That(output.ToString(), Does.Contain("mobilenetv2[gpuconv]: batch 1 median "));
        Assert.That(output.ToString(), Does.EndWith("mobilenetv2: PASS" + Environment.NewLine));
    }

    [Test]
    public void TheFloat64JudgeCatchesAChangedDepthwiseBatchNormAndAMissingResidual()
    {
        var model = MobileNetV2Model.Create(seed: 3, classes: 10);
        var x = HostTensor.Random(new TensorShape(1, 3, 64, 64), 4);
        var logits = OnTheCpuEngine(model, x);
        Assert.That(ErrorMetrics.Compare(logits, ReferenceInvertedResidualNetwork.Run(model, x)).MaxRelative, Is.LessThanOrEqualTo(NetworkResult.Tolerance));

        MobileNetV2Model With(int block, InvertedResidual changed)
        {
            var blocks = model.Blocks.ToList();
            blocks[block] = changed;
            return new MobileNetV2Model { Stem = model.Stem, Blocks = blocks, Last = model.Last, ClassifierWeight = model.ClassifierWeight, ClassifierBias = model.ClassifierBias };
        }
        // One depthwise BatchNorm's means moved (the last block's): far past the tolerance.
        var last = model.Blocks[^1];
        var bn = last.Depthwise.BatchNorm;
        float[] mean = [.. bn.RunningMean];
        for (int c = 0; c < mean.Length; c += 7) mean[c] += 1f;
        var changedBn = With(model.Blocks.Count - 1, last with { Depthwise = last.Depthwise with { BatchNorm = bn with { RunningMean = mean } } });
        Assert.That(ErrorMetrics.Compare(logits, ReferenceInvertedResidualNetwork.Run(changedBn, x)).MaxRelative, Is.GreaterThan(1e-2));
        // The last residual block (features.16, 160 → 160) without its skip add.
        int lastResidual = model.Blocks.ToList().FindLastIndex(b => b.Residual);
        var noSkip = With(lastResidual, model.Blocks[lastResidual] with { Residual = false });
        Assert.That(ErrorMetrics.Compare(logits, ReferenceInvertedResidualNetwork.Run(noSkip, x)).MaxRelative, Is.GreaterThan(1e-2));
    }

    /// <summary>
    /// The clamp at 6 on the device: with random weights and inputs in [−1, 1) few pre-activations reach 6 (none at
    /// 96×96 with the default weights: ReLU and ReLU6 give the same logits there), so the input is scaled by 4 (the
    /// BatchNorms are fixed in eval mode, so the stem's pre-activations scale with it and pass 6). Then the float64
    /// network with ReLU in ReLU6's place is far from the device's logits — a device run without the clamp fails the
    /// check — while the network as built (ReLU6) matches.
    /// </summary>
    [Test]
    public void TheClampAtSixIsReached_ReluInItsPlaceFailsTheCheck()
    {
        var model = MobileNetV2Model.Create();
        var x = HostTensor.Random(new TensorShape(1, 3, 96, 96), 51);
        for (int i = 0; i < x.Data.Length; i++) x.Data[i] *= 4;
        var logits = OnTheCpuEngine(model, x);
        double withRelu6 = ErrorMetrics.Compare(logits, ReferenceInvertedResidualNetwork.Run(model, x)).MaxRelative;
        double withRelu = ErrorMetrics.Compare(logits, ReferenceInvertedResidualNetwork.Run(model, x, ReferenceInvertedResidualNetwork.Replacing(Activation.Relu6, Activation.Relu))).MaxRelative;
        TestContext.Out.WriteLine($"max rel error: against ReLU6 {withRelu6:E2}, against ReLU {withRelu:E2}");
        Assert.That(withRelu6, Is.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(withRelu, Is.GreaterThan(100 * NetworkResult.Tolerance));
    }

    [Test]
    public void TheBlocksFollowTorchvisionsTable()
    {
        var model = MobileNetV2Model.Create(classes: 10);
        Assert.That(model.Blocks, Has.Count.EqualTo(17));
        Assert.That(model.Blocks[0].Expand, Is.Null, "t = 1: no expansion");
        Assert.That(model.Blocks.Skip(1).All(b => b.Expand is not null));
        Assert.That(model.Blocks.Select(b => b.Depthwise.Spec.Stride[0]), Is.EqualTo(new[] { 1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1 }));
        Assert.That(model.Blocks.Select(b => b.Project.Weight.Shape.Dims[0]), Is.EqualTo(new[] { 16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320 }));
        Assert.That(model.Blocks.Select(b => b.Residual), Is.EqualTo(new[] { false, false, true, false, true, true, false, true, true, true, false, true, true, false, true, true, false }));
        Assert.That(model.Blocks.All(b => b.Depthwise.Spec.IsDepthwise(b.Depthwise.Weight.Shape.Dims[0]) && b.Depthwise.Weight.Shape.Dims[1] == 1));
    }

    [Test]
    public void BatchOfTwo_EachImageGetsItsOwnLogits()
    {
        var model = MobileNetV2Model.Create(seed: 5, classes: 8);
        var a = HostTensor.Random(new TensorShape(1, 3, 32, 32), 1);
        var b = HostTensor.Random(new TensorShape(1, 3, 32, 32), 2);
        var together = OnTheCpuEngine(model, new HostTensor(new TensorShape(2, 3, 32, 32), [.. a.Data, .. b.Data]));
        var expected = ReferenceInvertedResidualNetwork.Run(model, a).Concat(ReferenceInvertedResidualNetwork.Run(model, b)).ToArray();
        Assert.That(ErrorMetrics.Compare(together, expected).MaxRelative, Is.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(together[..8], Is.Not.EqualTo(together[8..]));
    }
}

/// <summary>
/// On a GPU host (and against the native fakes in CI): MobileNetV2 on the device at 32×32 — tensors in GPU memory, the
/// depthwise layers through the GPU backends, one upload and one download per run — against the unfolded network in
/// float64. Skipped with discovery's reason without a GPU.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class MobileNetV2GpuTests
{
    [Test]
    public void DevicePath_32x32_MatchesTheUnfoldedNetworkInFloat64()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        var output = new StringWriter();
        var result = NetworkApp.Run(new NetworkOptions { Model = NetworkModel.MobileNetV2, Size = 32, Runs = 1, Classes = 100, Out = output });
        TestContext.Out.WriteLine(output);
        Assert.That(result.Memory, Is.EqualTo("GPU memory"));
        Assert.That(result.MaxRelativeError, Is.Not.Null.And.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(result.Passed, Is.True);
    }
}
