using GpuConv.Cuda.Discovery;
using GpuConv.Networks;
using GpuConv.Networks.ResNet50;
using GpuConv.Tensors;

namespace GpuConv.Tests.Samples;

/// <summary>
/// samples/GpuConv.Networks' ResNet-50 (the default model) in this process on the CPU path, at 64×64 so CI stays fast (the same 53
/// convolutions, pools and residual ends as at 224×224): the device-resident network (host memory here, same code;
/// BatchNorm folded) against the unfolded network in float64, max |error| / max |reference| ≤ 1e-4
/// (<see cref="NetworkResult.Tolerance"/>); the judge catches a changed BatchNorm; batch 2 gives each image its own logits.
/// </summary>
public class ResNet50Tests
{
    [Test]
    public void CpuPath_64x64_MatchesTheUnfoldedNetworkInFloat64()
    {
        var output = new StringWriter();
        var result = NetworkApp.Run(new NetworkOptions { Cpu = true, Size = 64, Runs = 2, Out = output });
        TestContext.Out.WriteLine(output);
        Assert.That(result.Memory, Is.EqualTo("host memory"));
        Assert.That(output.ToString(), Does.Contain("GPU path off: not requested (Device = Cpu)"));
        Assert.That(output.ToString(), Does.Contain("53 convolutions (BatchNorm folded) + fc, 25.6 M parameters"));
        Assert.That(result.MaxRelativeError, Is.Not.Null.And.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(result.Logits, Has.Length.EqualTo(1000));
        Assert.That(result.Logits.Distinct().Count(), Is.GreaterThan(900), "the logits are not all alike");
        Assert.That(result.Passed, Is.True);
        Assert.That(output.ToString(), Does.EndWith("resnet50: PASS" + Environment.NewLine));
    }

    [Test]
    public void TheFloat64JudgeCatchesAChangedBatchNorm()
    {
        var model = ResNet50Model.Create(seed: 3, classes: 10);
        var x = HostTensor.Random(new TensorShape(1, 3, 32, 32), 4);
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        using var net = new DeviceResNet50(cpu, model, x.Shape);
        cpu.Upload(x.Data, net.Input);
        net.Run();
        var logits = cpu.Download(net.Logits).Data;
        Assert.That(GpuConv.Reference.ErrorMetrics.Compare(logits, ReferenceResNet50.Run(model, x)).MaxRelative, Is.LessThanOrEqualTo(NetworkResult.Tolerance));
        // One BatchNorm mean moved in the last block's projection-free expand: far past the tolerance.
        var blocks = model.Blocks.ToList();
        var last = blocks[^1];
        var bn = last.Expand.BatchNorm;
        float[] mean = [.. bn.RunningMean];
        for (int c = 0; c < mean.Length; c += 7) mean[c] += 1f;
        blocks[^1] = last with { Expand = last.Expand with { BatchNorm = bn with { RunningMean = mean } } };
        var changed = new ResNet50Model { Stem = model.Stem, Blocks = blocks, FcWeight = model.FcWeight, FcBias = model.FcBias };
        Assert.That(GpuConv.Reference.ErrorMetrics.Compare(logits, ReferenceResNet50.Run(changed, x)).MaxRelative, Is.GreaterThan(1e-2));
    }

    [Test]
    public void BatchOfTwo_EachImageGetsItsOwnLogits()
    {
        var model = ResNet50Model.Create(seed: 5, classes: 8);
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var a = HostTensor.Random(new TensorShape(1, 3, 32, 32), 1);
        var b = HostTensor.Random(new TensorShape(1, 3, 32, 32), 2);
        var both = new HostTensor(new TensorShape(2, 3, 32, 32), [.. a.Data, .. b.Data]);
        float[] Logits(HostTensor x)
        {
            using var net = new DeviceResNet50(cpu, model, x.Shape);
            cpu.Upload(x.Data, net.Input);
            net.Run();
            return cpu.Download(net.Logits).Data;
        }
        var together = Logits(both);
        var expected = ReferenceResNet50.Run(model, a).Concat(ReferenceResNet50.Run(model, b)).ToArray();
        Assert.That(GpuConv.Reference.ErrorMetrics.Compare(together, expected).MaxRelative, Is.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(together[..8], Is.Not.EqualTo(together[8..]));
    }

    [Test]
    public void BadOptionsAreRefusedByName()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => new NetworkOptions { Size = 16 }.Validate())!.ParamName, Is.EqualTo("Size"));
        Assert.That(Assert.Throws<ArgumentException>(() => new NetworkOptions { Batch = 0 }.Validate())!.ParamName, Is.EqualTo("Batch"));
        Assert.That(Assert.Throws<ArgumentException>(() => new NetworkOptions { Runs = 0 }.Validate())!.ParamName, Is.EqualTo("Runs"));
    }
}

/// <summary>
/// On a GPU host (and against the native fakes in CI, where the pools' kernels run in the PTX interpreter and the
/// convolutions in the fake cuDNN): the sample's core on the device at 32×32 — tensors in GPU memory, one upload and
/// one download per run — against the unfolded network in float64. Skipped with discovery's reason without a GPU.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class ResNet50GpuTests
{
    [Test]
    public void DevicePath_32x32_MatchesTheUnfoldedNetworkInFloat64()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        var output = new StringWriter();
        var result = NetworkApp.Run(new NetworkOptions { Size = 32, Runs = 1, Classes = 100, Out = output });
        TestContext.Out.WriteLine(output);
        Assert.That(result.Memory, Is.EqualTo("GPU memory"));
        Assert.That(result.MaxRelativeError, Is.Not.Null.And.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(result.Passed, Is.True);
    }
}
