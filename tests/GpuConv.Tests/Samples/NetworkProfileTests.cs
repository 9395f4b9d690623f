using GpuConv.Networks;
using GpuConv.Networks.InvertedResiduals;
using GpuConv.Networks.Onnx;

namespace GpuConv.Tests.Samples;

/// <summary>
/// samples/GpuConv.Networks' <c>--profile</c>: after the timed runs, every engine call of a run is one step under its
/// layer's name (each timed between two synchronizations), in the order of the run; the inverted residual family's
/// fused calls are one step per block; without the option nothing is timed. ONNX Runtime's per-node profile (with
/// <c>--vs onnxruntime</c>) is parsed from its profiler's JSON (<see cref="OnnxRuntimeProfile.NodeTimes"/>).
/// </summary>
public class NetworkProfileTests
{
    static NetworkResult Run(NetworkModel model, int size, bool profile, bool unfused = false, TextWriter? output = null) =>
        NetworkApp.Run(new NetworkOptions
        {
            Model = model, Cpu = true, Size = size, Runs = 2, Classes = 10, Check = NetworkCheck.None, Threads = 1,
            Profile = profile, Unfused = unfused, Out = output ?? TextWriter.Null, WarmupSeconds = 0.1,
        });

    /// <summary>The steps an unfused inverted residual network runs, in order: every convolution by its name, the SE blocks' pool and scale, the head.</summary>
    static List<string> ExpectedSteps(InvertedResidualModel m)
    {
        var steps = new List<string> { m.Stem.Name };
        foreach (var b in m.Blocks)
        {
            if (b.Expand is { } e) steps.Add(e.Name);
            steps.Add(b.Depthwise.Name);
            if (b.Se is { } se) steps.AddRange([$"{se.Name}.pool", $"{se.Name}.fc1", $"{se.Name}.fc2", $"{se.Name}.scale"]);
            steps.Add(b.Project.Name);
        }
        steps.AddRange([m.Last.Name, "pool"]);
        if (m.Hidden is not null) steps.Add("classifier.hidden");
        steps.Add("classifier");
        return steps;
    }

    [TestCase(NetworkModel.MobileNetV3), TestCase(NetworkModel.EfficientNetB0)]
    public void EveryCallOfAnUnfusedRunIsOneStepInOrder(NetworkModel which)
    {
        var output = new StringWriter();
        var result = Run(which, 64, profile: true, unfused: true, output);
        var model = (InvertedResidualModel)NetworkApp.Create(which, seed: 50, classes: 10);
        Assert.That(result.Profile!.Select(s => s.Label), Is.EqualTo(ExpectedSteps(model)));
        Assert.That(result.Profile!, Has.All.Matches<ProfileStep>(s => s.MicrosecondsPerRun > 0), "every step took time");
        string key = which.ToString().ToLowerInvariant();
        Assert.That(output.ToString(), Does.Contain($"{key}[gpuconv] profile: {result.Profile!.Count} steps, 2 runs,"));
        Assert.That(output.ToString(), Does.Contain($"{key}[gpuconv] costliest 10:"));
    }

    // At 128 × 128 MobileNetV2's large blocks run fused (MobileNetV2Tests.FusedBlocksGiveTheLayerByLayerLogits): one step each.
    [Test]
    public void AFusedBlockIsOneStepUnderTheBlocksName()
    {
        var steps = Run(NetworkModel.MobileNetV2, 128, profile: true).Profile!.Select(s => s.Label).ToList();
        Assert.That(steps, Does.Contain("features.2"));
        Assert.That(steps, Has.None.StartsWith("features.2."), "the fused block's layers are not steps of their own");
        Assert.That(steps, Does.Contain("features.14.expand"), "a small block still runs its layers");
        Assert.That(steps, Has.Count.EqualTo(steps.Distinct().Count()));
    }

    [Test]
    public void ResNet50AndConvNeXtNameTheirPoolsNormsAndHeads()
    {
        var resnet = Run(NetworkModel.ResNet50, 32, profile: true).Profile!.Select(s => s.Label).ToList();
        // 53 convolutions, the stem's max pool, the head's average pool and fc.
        Assert.That(resnet, Has.Count.EqualTo(56));
        Assert.That(resnet[1], Is.EqualTo("maxpool"));
        Assert.That(resnet[^2..], Is.EqualTo(new[] { "avgpool", "fc" }));
        var convnext = Run(NetworkModel.ConvNeXtTiny, 32, profile: true).Profile!.Select(s => s.Label).ToList();
        Assert.That(convnext[^3..], Is.EqualTo(new[] { "pool", "head.norm", "classifier" }));
        Assert.That(convnext, Has.Count.EqualTo(convnext.Distinct().Count()), "each norm and layer by its own name");
    }

    [Test]
    public void WithoutTheOptionNothingIsProfiled()
    {
        var output = new StringWriter();
        var result = Run(NetworkModel.MobileNetV3, 64, profile: false, output: output);
        Assert.That(result.Profile, Is.Null);
        Assert.That(output.ToString(), Does.Not.Contain("profile:"));
    }

    /// <summary>
    /// --warmup-seconds 0 profiles the process's first runs: no untimed runs before the profile's (without it, two seconds
    /// of them, which take the JIT's first forms out of the profile).
    /// </summary>
    [Test]
    public void ZeroWarmUpProfilesTheFirstRuns()
    {
        var output = new StringWriter();
        var result = NetworkApp.Run(new NetworkOptions
        {
            Model = NetworkModel.MobileNetV3, Cpu = true, Size = 64, Runs = 2, Classes = 10, Check = NetworkCheck.None, Threads = 1,
            Profile = true, Out = output, WarmupSeconds = 0,
        });
        Assert.That(result.Profile, Is.Not.Empty);
        Assert.That(output.ToString(), Does.Contain("mobilenetv3[gpuconv] profile:"));
        Assert.That(output.ToString(), Does.Not.Contain("untimed"), "no untimed runs before the profile's");
    }

    /// <summary>ORT's profile JSON: kernel-time Node events per run; the first runs skipped, the rest averaged per node, in first-seen order.</summary>
    [Test]
    public void OnnxRuntimeNodeTimesAverageEachNodesRunsAfterTheWarmUp()
    {
        const string json = """
            [
              {"cat": "Session", "name": "model_run", "dur": 900, "args": {}},
              {"cat": "Node", "name": "conv1_kernel_time", "dur": 100, "args": {"op_name": "Conv"}},
              {"cat": "Node", "name": "conv1_fence_before", "dur": 1, "args": {"op_name": "Conv"}},
              {"cat": "Node", "name": "relu_kernel_time", "dur": 40, "args": {"op_name": "Relu"}},
              {"cat": "Node", "name": "conv1_kernel_time", "dur": 10, "args": {"op_name": "Conv"}},
              {"cat": "Node", "name": "relu_kernel_time", "dur": 4, "args": {"op_name": "Relu"}},
              {"cat": "Node", "name": "conv1_kernel_time", "dur": 20, "args": {"op_name": "Conv"}},
              {"cat": "Node", "name": "relu_kernel_time", "dur": 6, "args": {"op_name": "Relu"}}
            ]
            """;
        var steps = OnnxRuntimeProfile.NodeTimes(json, skip: 1);
        Assert.That(steps, Is.EqualTo(new[] { new ProfileStep("conv1 (Conv)", 15), new ProfileStep("relu (Relu)", 5) }));
    }
}
