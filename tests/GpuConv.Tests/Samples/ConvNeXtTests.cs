using GpuConv.Cuda.Discovery;
using GpuConv.Networks;
using GpuConv.Networks.ConvNeXt;
using GpuConv.Networks.Onnx;
using GpuConv.Tensors;

namespace GpuConv.Tests.Samples;

/// <summary>
/// samples/GpuConv.Networks' ConvNeXt-T (<c>--model convnexttiny</c>) in this process on the CPU path, at 64×64 so CI
/// stays fast (the same 58 convolutions, 23 channels-first LayerNorms and 18 fused GELUs as at 224×224): the
/// device-resident network (host memory here, same code; layer scale folded into the projections) against the
/// unfolded network in float64, max |error| / max |reference| ≤ 1e-4 (<see cref="NetworkResult.Tolerance"/>); the judge
/// catches a changed LayerNorm weight, the layer scale left out and GELU's tanh form in the erf form's place.
/// </summary>
public class ConvNeXtTests
{
    static float[] OnTheCpuEngine(ConvNeXtModel model, HostTensor x)
    {
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        using var net = new DeviceConvNeXt(cpu, model, x.Shape);
        cpu.Upload(x.Data, net.Input);
        net.Run();
        return cpu.Download(net.Logits).Data;
    }

    [Test]
    public void CpuPath_64x64_MatchesTheUnfoldedNetworkInFloat64()
    {
        var output = new StringWriter();
        var result = NetworkApp.Run(new NetworkOptions { Model = NetworkModel.ConvNeXtTiny, Cpu = true, Size = 64, Runs = 2, Out = output });
        TestContext.Out.WriteLine(output);
        Assert.That(result.Memory, Is.EqualTo("host memory"));
        // torchvision's convnext_tiny() has 28,589,128 parameters: the same layers, counted the same way.
        Assert.That(output.ToString(), Does.Contain("ConvNeXt-T: 58 convolutions (18 blocks: depthwise 7×7, LayerNorm, 1×1 + GELU, 1×1 with layer scale folded, residual add) + classifier, 28.59 M parameters"));
        Assert.That(ConvNeXtModel.Create().ParameterCount, Is.EqualTo(28_589_128));
        Assert.That(result.MaxRelativeError, Is.Not.Null.And.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(result.Logits, Has.Length.EqualTo(1000));
        Assert.That(result.Logits.Distinct().Count(), Is.GreaterThan(900), "the logits are not all alike");
        Assert.That(output.ToString(), Does.EndWith("convnexttiny: PASS" + Environment.NewLine));
    }

    [Test]
    public void TheFloat64JudgeCatchesAChangedNormTheLayerScaleLeftOutAndTanhGelu()
    {
        var model = ConvNeXtModel.Create(seed: 3, classes: 10);
        var x = HostTensor.Random(new TensorShape(1, 3, 32, 32), 4);
        var logits = OnTheCpuEngine(model, x);
        double error = ErrorMetrics.Compare(logits, ReferenceConvNeXt.Run(model, x)).MaxRelative;
        Assert.That(error, Is.LessThanOrEqualTo(NetworkResult.Tolerance));

        ConvNeXtModel WithLastBlock(Func<ConvNeXtBlock, ConvNeXtBlock> change)
        {
            var stages = model.Stages.ToList();
            var last = stages[^1];
            var blocks = last.Blocks.ToList();
            blocks[^1] = change(blocks[^1]);
            stages[^1] = last with { Blocks = blocks };
            return new ConvNeXtModel { Stem = model.Stem, StemNorm = model.StemNorm, Stages = stages, HeadNorm = model.HeadNorm,
                ClassifierWeight = model.ClassifierWeight, ClassifierBias = model.ClassifierBias };
        }
        // The last block's LayerNorm weight changed on every 7th channel.
        var changedNorm = WithLastBlock(b =>
        {
            var w = new HostTensor(b.Norm.Weight.Shape, [.. b.Norm.Weight.Data]);
            for (int c = 0; c < w.Data.Length; c += 7) w.Data[c] += 0.5f;
            return b with { Norm = b.Norm with { Weight = w } };
        });
        double withChangedNorm = ErrorMetrics.Compare(logits, ReferenceConvNeXt.Run(changedNorm, x)).MaxRelative;
        // The last block without its layer scale (gamma = 1): a device run that forgot to fold it would match this one.
        var unscaled = WithLastBlock(b => b with { LayerScale = new HostTensor(b.LayerScale.Shape, [.. b.LayerScale.Data.Select(_ => 1f)]) });
        double withoutScale = ErrorMetrics.Compare(logits, ReferenceConvNeXt.Run(unscaled, x)).MaxRelative;
        // GELU's tanh form in every block (what Activation.GeluTanh would compute).
        double withTanh = ErrorMetrics.Compare(logits, ReferenceConvNeXt.Run(model, x, ReferenceGelu.GeluTanh)).MaxRelative;
        TestContext.Out.WriteLine($"max rel error {error:E2}; against a changed norm {withChangedNorm:E2}, without the layer scale {withoutScale:E2}, with tanh GELU {withTanh:E2}");
        Assert.That(withChangedNorm, Is.GreaterThan(1e-2));
        Assert.That(withoutScale, Is.GreaterThan(1e-2));
        // The two GELUs differ by up to ~5e-4 per value; through 18 blocks that is 6e-4 of the logits at this seed, several
        // times the tolerance, while the erf form's own error is some 4e-6.
        Assert.That(withTanh, Is.GreaterThan(3 * NetworkResult.Tolerance));
    }

    [Test]
    public void BatchOfTwo_EachImageGetsItsOwnLogits()
    {
        var model = ConvNeXtModel.Create(seed: 5, classes: 8);
        var a = HostTensor.Random(new TensorShape(1, 3, 32, 32), 1);
        var b = HostTensor.Random(new TensorShape(1, 3, 32, 32), 2);
        var together = OnTheCpuEngine(model, new HostTensor(new TensorShape(2, 3, 32, 32), [.. a.Data, .. b.Data]));
        var expected = ReferenceConvNeXt.Run(model, a).Concat(ReferenceConvNeXt.Run(model, b)).ToArray();
        Assert.That(ErrorMetrics.Compare(together, expected).MaxRelative, Is.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(together[..8], Is.Not.EqualTo(together[8..]));
    }

    /// <summary>
    /// ONNX Runtime runs the written graph (channels-first LayerNorm as Transpose + LayerNormalization + Transpose, GELU
    /// as its erf formula nodes, the layer scale folded into the projections) and its logits match the unfolded float64
    /// network: the ONNX form says the same thing as the device form.
    /// </summary>
    [Test, Category("OnnxRuntime")]
    public void ConvNeXt_32x32_InOnnxRuntime_MatchesTheUnfoldedNetworkInFloat64()
    {
        var model = ConvNeXtModel.Create(seed: 7, classes: 10);
        var x = HostTensor.Random(new TensorShape(1, 3, 32, 32), 8);
        var graph = model.ToOnnx(x.Shape);
        Assert.That(graph.Operators, Is.EquivalentTo(new Dictionary<string, int>
        {
            ["Conv"] = 58, ["LayerNormalization"] = 23, ["Transpose"] = 46, ["Erf"] = 18, ["Div"] = 18, ["Mul"] = 36, ["Add"] = 36,
            ["GlobalAveragePool"] = 1, ["Flatten"] = 1, ["Gemm"] = 1,
        }));
        var logits = new float[10];
        using (var ort = new OnnxRuntimeNetwork(graph.ToModel(), x.Data, [.. x.Shape.Dims.Select(d => (long)d)], logits, threads: 1))
            ort.Run();
        double error = ErrorMetrics.Compare(logits, ReferenceConvNeXt.Run(model, x)).MaxRelative;
        TestContext.Out.WriteLine($"ONNX Runtime vs float64: max rel error {error:E2}");
        Assert.That(error, Is.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(logits.Distinct().Count(), Is.EqualTo(10), "the logits are not all alike");
    }
}

/// <summary>
/// On a GPU host (and against the native fakes in CI): ConvNeXt-T on the device at 32×32 — tensors in GPU memory, the
/// LayerNorms by kernels/layernorm.ptx, the GELUs fused into the convolutions — against the unfolded network in float64.
/// Skipped with discovery's reason without a GPU.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class ConvNeXtGpuTests
{
    [Test]
    public void DevicePath_32x32_MatchesTheUnfoldedNetworkInFloat64()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        var output = new StringWriter();
        var result = NetworkApp.Run(new NetworkOptions { Model = NetworkModel.ConvNeXtTiny, Size = 32, Runs = 1, Classes = 100, Out = output });
        TestContext.Out.WriteLine(output);
        Assert.That(result.Memory, Is.EqualTo("GPU memory"));
        Assert.That(result.MaxRelativeError, Is.Not.Null.And.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(result.Passed, Is.True);
    }
}
