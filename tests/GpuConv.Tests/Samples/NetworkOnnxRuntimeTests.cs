using GpuConv.Networks;
using GpuConv.Networks.InvertedResiduals;
using GpuConv.Networks.Onnx;
using GpuConv.Networks.ResNet50;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Samples;

/// <summary>
/// samples/GpuConv.Networks' <c>--vs onnxruntime</c>: each network written as one ONNX model (BatchNorm folded, the
/// weights GpuConv runs) runs in ONNX Runtime's CPU provider and its logits match the unfolded network in float64 within
/// <see cref="NetworkResult.Tolerance"/> (1e-4, max |error| / max |reference|; fp32 through ~53 layers lands near 1e-6);
/// the comparison in the sample passes on the written model and fails (exit status 1) on one with a planted weight change.
/// Small inputs (32×32, 64×64, 96×96) keep it to seconds.
/// Category OnnxRuntime: needs ORT's native library, which the GPU-check pack leaves out.
/// </summary>
[Category("OnnxRuntime")]
public class NetworkOnnxRuntimeTests
{
    static float[] InOnnxRuntime(OnnxGraph graph, HostTensor x, int classes)
    {
        var logits = new float[x.Shape.Dims[0] * classes];
        using var ort = new OnnxRuntimeNetwork(graph.ToModel(), x.Data, [.. x.Shape.Dims.Select(d => (long)d)], logits, threads: 1);
        ort.Run();
        return logits;
    }

    [Test]
    public void ResNet50_32x32_InOnnxRuntime_MatchesTheUnfoldedNetworkInFloat64()
    {
        var model = ResNet50Model.Create(seed: 7, classes: 10);
        var x = HostTensor.Random(new TensorShape(1, 3, 32, 32), 8);
        var graph = model.ToOnnx(x.Shape);
        // What the graph holds, operator by operator: 53 convolutions, 49 ReLUs (stem + 3 per block), 16 residual adds.
        Assert.That(graph.Operators, Is.EquivalentTo(new Dictionary<string, int>
        {
            ["Conv"] = 53, ["Relu"] = 49, ["Add"] = 16, ["MaxPool"] = 1, ["GlobalAveragePool"] = 1, ["Flatten"] = 1, ["Gemm"] = 1,
        }));
        var logits = InOnnxRuntime(graph, x, 10);
        double error = ErrorMetrics.Compare(logits, ReferenceResNet50.Run(model, x)).MaxRelative;
        TestContext.Out.WriteLine($"ONNX Runtime vs float64: max rel error {error:E2}");
        Assert.That(error, Is.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(logits.Distinct().Count(), Is.EqualTo(10), "the logits are not all alike");
    }

    /// <summary>
    /// MobileNetV2 with the input scaled by 4 so ReLU6's clamp at 6 is reached (as
    /// <see cref="MobileNetV2Tests.TheClampAtSixIsReached_ReluInItsPlaceFailsTheCheck"/>): ORT's logits match the float64
    /// network with ReLU6 and are far from the one with ReLU, so the Clip nodes carry min 0 and max 6.
    /// </summary>
    [Test]
    public void MobileNetV2_96x96_InOnnxRuntime_MatchesFloat64_ClipIsReluSix()
    {
        var model = MobileNetV2Model.Create();
        var x = HostTensor.Random(new TensorShape(1, 3, 96, 96), 51);
        for (int i = 0; i < x.Data.Length; i++) x.Data[i] *= 4;
        var graph = model.ToOnnx(x.Shape);
        Assert.That(graph.Operators, Is.EquivalentTo(new Dictionary<string, int>
        {
            ["Conv"] = 52, ["Clip"] = 35, ["Add"] = 10, ["GlobalAveragePool"] = 1, ["Flatten"] = 1, ["Gemm"] = 1,
        }));
        var logits = InOnnxRuntime(graph, x, 1000);
        double withRelu6 = ErrorMetrics.Compare(logits, ReferenceInvertedResidualNetwork.Run(model, x)).MaxRelative;
        double withRelu = ErrorMetrics.Compare(logits, ReferenceInvertedResidualNetwork.Run(model, x, ReferenceInvertedResidualNetwork.Replacing(Activation.Relu6, Activation.Relu))).MaxRelative;
        TestContext.Out.WriteLine($"ONNX Runtime: max rel error against ReLU6 {withRelu6:E2}, against ReLU {withRelu:E2}");
        Assert.That(withRelu6, Is.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(withRelu, Is.GreaterThan(100 * NetworkResult.Tolerance));
    }

    /// <summary>
    /// MobileNetV3-Large: ORT's HardSwish, HardSigmoid (alpha 1/6, beta 0.5 written: ONNX's default alpha is 0.2) and Mul
    /// broadcasting the [N, C, 1, 1] gates give the float64 network's logits; with ReLU in hardswish's place they are far.
    /// </summary>
    [Test]
    public void MobileNetV3_96x96_InOnnxRuntime_MatchesTheUnfoldedNetworkInFloat64()
    {
        var model = MobileNetV3Model.Create(seed: 7, classes: 100);
        var x = HostTensor.Random(new TensorShape(1, 3, 96, 96), 8);
        var graph = model.ToOnnx(x.Shape);
        // 46 convolutions + 2 per SE block + the hidden linear; 21 HardSwish (the stem, the 9 "HS" blocks' expansion and
        // depthwise layers, the last conv, the hidden linear); 19 Relu (the 6 "RE" blocks' 11 layers, the 8 SE reductions).
        Assert.That(graph.Operators, Is.EquivalentTo(new Dictionary<string, int>
        {
            ["Conv"] = 63, ["HardSwish"] = 21, ["Relu"] = 19, ["HardSigmoid"] = 8, ["Mul"] = 8, ["Add"] = 10, ["GlobalAveragePool"] = 9,
            ["Flatten"] = 1, ["Gemm"] = 1,
        }));
        var logits = InOnnxRuntime(graph, x, 100);
        double error = ErrorMetrics.Compare(logits, ReferenceInvertedResidualNetwork.Run(model, x)).MaxRelative;
        double withRelu = ErrorMetrics.Compare(logits, ReferenceInvertedResidualNetwork.Run(model, x, ReferenceInvertedResidualNetwork.Replacing(Activation.Hardswish, Activation.Relu))).MaxRelative;
        TestContext.Out.WriteLine($"ONNX Runtime vs float64: max rel error {error:E2} (against ReLU in hardswish's place {withRelu:E2})");
        Assert.That(error, Is.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(withRelu, Is.GreaterThan(100 * NetworkResult.Tolerance));
        Assert.That(logits.Distinct().Count(), Is.EqualTo(100), "the logits are not all alike");
    }

    /// <summary>EfficientNet-B0: SiLU as Sigmoid + Mul, the SE gates as Sigmoid and a broadcasting Mul, against float64.</summary>
    [Test]
    public void EfficientNetB0_64x64_InOnnxRuntime_MatchesTheUnfoldedNetworkInFloat64()
    {
        var model = EfficientNetB0Model.Create(seed: 7, classes: 100);
        var x = HostTensor.Random(new TensorShape(1, 3, 64, 64), 8);
        var graph = model.ToOnnx(x.Shape);
        // 49 convolutions + 2 per SE block; 49 SiLUs (stem, 15 expansions, 16 depthwise, last, 16 SE reductions), each a
        // Sigmoid and a Mul, + 16 gates (a Sigmoid and a Mul each).
        Assert.That(graph.Operators, Is.EquivalentTo(new Dictionary<string, int>
        {
            ["Conv"] = 81, ["Sigmoid"] = 65, ["Mul"] = 65, ["Add"] = 9, ["GlobalAveragePool"] = 17, ["Flatten"] = 1, ["Gemm"] = 1,
        }));
        var logits = InOnnxRuntime(graph, x, 100);
        double error = ErrorMetrics.Compare(logits, ReferenceInvertedResidualNetwork.Run(model, x)).MaxRelative;
        TestContext.Out.WriteLine($"ONNX Runtime vs float64: max rel error {error:E2}");
        Assert.That(error, Is.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(logits.Distinct().Count(), Is.EqualTo(100), "the logits are not all alike");
    }

    static NetworkOptions Options(TextWriter output) => new()
    {
        Model = NetworkModel.MobileNetV2, Size = 32, Classes = 10, Runs = 2, Rounds = 2, Check = NetworkCheck.None, Threads = 1,
        Vs = NetworkPeer.OnnxRuntime, Out = output, WarmupSeconds = 0.1,
    };

    [Test]
    public void TheComparisonPassesOnTheWrittenModel_BothSidesTimed()
    {
        var output = new StringWriter();
        var result = NetworkApp.Run(Options(output));
        TestContext.Out.WriteLine(output);
        Assert.That(result.Memory, Is.EqualTo("host memory"), "--vs runs GpuConv's CPU path");
        Assert.That(result.Peer, Is.Not.Null);
        var peer = result.Peer!;
        Assert.That(peer.Threads, Is.EqualTo(1), "ORT's intra-op threads are the engine's CPU threads (--threads 1)");
        Assert.That(peer.MaxRelativeError, Is.LessThanOrEqualTo(NetworkResult.Tolerance));
        Assert.That(peer.GpuConvMs, Is.GreaterThan(0));
        Assert.That(peer.PeerMs, Is.GreaterThan(0));
        Assert.That(peer.Ratio, Is.EqualTo(peer.PeerMs / peer.GpuConvMs));
        Assert.That(peer.RoundRatios, Has.Count.EqualTo(2).And.All.GreaterThan(0), "one ratio per round of blocks");
        Assert.That(result.ExitCode, Is.EqualTo(0));
        string text = output.ToString();
        Assert.That(text, Does.Match(@"mobilenetv2\[gpuconv, network only\]: batch 1 median \d+\.\d{3} ms, 4 runs in 2 blocks of 2 \(Run \+ Synchronize;"));
        Assert.That(text, Does.Match(@"mobilenetv2\[onnxruntime\]: batch 1 median \d+\.\d{3} ms, first \d+\.\d ms, 4 runs in 2 blocks of 2 \(RunWithBinding;"));
        Assert.That(text, Does.Contain("model written (10 Add, 35 Clip, 52 Conv, 1 Flatten, 1 Gemm, 1 GlobalAveragePool;"));
        Assert.That(text, Does.Match(@"mobilenetv2: onnxruntime / gpuconv = \d+\.\d\d \(per round \d+\.\d\d \d+\.\d\d\) \(> 1: GpuConv faster\), both the network only; logits max rel error .* PASS"));
        Assert.That(text, Does.EndWith("mobilenetv2: PASS" + Environment.NewLine));
    }

    /// <summary>--profile with --vs onnxruntime: ORT's own per-node profile beside GpuConv's steps, both printed.</summary>
    [Test]
    public void TheProfileHasBothSides()
    {
        var output = new StringWriter();
        var result = NetworkApp.Run(Options(output) with { Profile = true, Rounds = 1 });
        TestContext.Out.WriteLine(output);
        Assert.That(result.Profile, Is.Not.Null.And.Not.Empty);
        var peer = result.Peer!.PeerProfile;
        Assert.That(peer, Is.Not.Null);
        Assert.That(peer!.Count(s => s.Label.EndsWith(" (Conv)", StringComparison.Ordinal)), Is.GreaterThan(10), "ORT's Conv nodes, fused or not");
        Assert.That(peer!, Has.All.Matches<ProfileStep>(s => s.MicrosecondsPerRun >= 0));
        Assert.That(output.ToString(), Does.Contain("mobilenetv2[gpuconv] profile: "));
        Assert.That(output.ToString(), Does.Contain("mobilenetv2[onnxruntime] profile: "));
        Assert.That(Directory.GetFiles(Path.GetTempPath(), $"gpuconv-ort-profile-{Environment.ProcessId}*"), Is.Empty, "the profiler's file is removed");
    }

    /// <summary>One weight of the last 1×1 convolution changed in the model ORT runs: the logits part and the run fails, exit status 1.</summary>
    [Test]
    public void APlantedWeightChangeInTheWrittenModelFailsTheComparison()
    {
        var model = MobileNetV2Model.Create(seed: 50, classes: 10);
        var last = model.Last;
        var weight = new HostTensor(last.Weight.Shape, [.. last.Weight.Data]);
        weight.Data[0] += 1f;
        var planted = new MobileNetV2Model
        {
            Stem = model.Stem, Blocks = model.Blocks, Last = last with { Weight = weight },
            ClassifierWeight = model.ClassifierWeight, ClassifierBias = model.ClassifierBias,
        };
        var output = new StringWriter();
        var options = Options(output);
        var result = NetworkApp.Run(options with { OnnxModel = planted.ToOnnx(new TensorShape(1, 3, options.Size, options.Size)).ToModel() });
        TestContext.Out.WriteLine(output);
        Assert.That(result.Peer!.MaxRelativeError, Is.GreaterThan(NetworkResult.Tolerance));
        Assert.That(result.Passed, Is.False);
        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(output.ToString(), Does.Contain("model given;"));
        Assert.That(output.ToString(), Does.Contain("(tolerance 1E-004) FAIL"));
        Assert.That(output.ToString(), Does.EndWith("mobilenetv2: FAIL" + Environment.NewLine));
    }
}
