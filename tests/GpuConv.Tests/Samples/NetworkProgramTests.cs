using GpuConv.Tests.NativeFakes;

namespace GpuConv.Tests.Samples;

/// <summary>
/// samples/GpuConv.Networks' command line, as a script meets it (the executable in a child process, no GPU needed):
/// <c>--model</c> picks the network, a name it does not know or a size the network cannot take is exit status 2 with one
/// line naming the option and the value, before any engine opens.
/// </summary>
public class NetworkProgramTests
{
    static (int Code, string Stdout, string Stderr) RunSample(params string[] args) =>
        NativeFakeChild.Run(Path.Join(NativeFakeChild.TestOutput, "GpuConv.Networks"), args, TimeSpan.FromMinutes(2));

    [Test]
    public void AnUnknownModelIsRefusedByName()
    {
        var (code, stdout, stderr) = RunSample("--model", "vgg16", "--cpu");
        Assert.That(code, Is.EqualTo(2), stdout + stderr);
        Assert.That(stderr.Trim(), Is.EqualTo("error: --model: expected resnet50, mobilenetv2, mobilenetv3, efficientnetb0 or convnexttiny, got 'vgg16'."));
        Assert.That(stdout, Is.Empty, "nothing ran");
    }

    // Enum.TryParse would take these: a comma list is the flags union (resnet50,mobilenetv2 = MobileNetV2, the form
    // GPUCONV_CHECK_NETWORKS takes), and "cpu,none" an undefined NetworkCheck; each must be refused, not run.
    [TestCase("--model", "resnet50,mobilenetv2", "resnet50, mobilenetv2, mobilenetv3, efficientnetb0 or convnexttiny")]
    [TestCase("--model", "1", "resnet50, mobilenetv2, mobilenetv3, efficientnetb0 or convnexttiny")]
    [TestCase("--model", "mobilenetv3,efficientnetb0", "resnet50, mobilenetv2, mobilenetv3, efficientnetb0 or convnexttiny")]
    [TestCase("--check", "cpu,none", "reference, cpu or none")]
    [TestCase("--policy", "heuristic, exhaustive", "heuristic, exhaustive or cached")]
    public void ANameListOrNumberIsNotAName(string option, string value, string expected)
    {
        var (code, stdout, stderr) = RunSample("--cpu", "--size", "32", "--runs", "1", "--classes", "10", option, value);
        Assert.That(code, Is.EqualTo(2), stdout + stderr);
        Assert.That(stderr.Trim(), Is.EqualTo($"error: {option}: expected {expected}, got '{value}'."));
        Assert.That(stdout, Is.Empty, "nothing ran");
    }

    [Test]
    public void ASizeTooSmallNamesTheOptionAndTheModel()
    {
        var (code, stdout, stderr) = RunSample("--model", "MobileNetV2", "--size", "16", "--cpu");
        Assert.That(code, Is.EqualTo(2), stdout + stderr);
        Assert.That(stderr.Trim(), Is.EqualTo("error: --size: Size must be at least 32 (MobileNetV2 halves it five times), got 16."));

        (code, stdout, stderr) = RunSample("--batch", "0", "--cpu");
        Assert.That(code, Is.EqualTo(2), stdout + stderr);
        Assert.That(stderr.Trim(), Is.EqualTo("error: --batch: Batch must be at least 1, got 0."));
    }

    [Test]
    public void AnUnknownBackendIsOneLineNamingTheOption()
    {
        var (code, stdout, stderr) = RunSample("--backend", "tpu", "--cpu", "--size", "32", "--runs", "1", "--check", "none");
        Assert.That(code, Is.EqualTo(2), stdout + stderr);
        Assert.That(stderr.Trim(), Does.StartWith("error: --backend: Backend 'tpu' is not available").And.Not.Contain("(Parameter"));
        Assert.That(stderr.Trim().Split('\n'), Has.Length.EqualTo(1), stderr);
    }

    // Tensors too large for one buffer, or for the memory left, are bad input as well: exit status 2 and one line naming
    // the options, where the run failed with status 3 ("a device or library error") and a stack trace.
    [Test]
    public void ABatchOrSizeTooLargeIsBadInput_NotAFailedRun()
    {
        // The input alone: [1, 3, 100000, 100000] is 3e10 elements (HostTensor threw InvalidOperationException).
        var (code, stdout, stderr) = RunSample("--cpu", "--size", "100000", "--check", "none", "--runs", "1");
        Assert.That(code, Is.EqualTo(2), stdout + stderr);
        Assert.That(stderr.Trim(), Is.EqualTo("error: --size: Size 100000 at Batch 1 makes an input [1, 3, 100000, 100000] of 30000000000 elements, more than one buffer holds (2147483591)."));
        Assert.That(stdout, Is.Empty, "nothing ran");

    }

    // --classes past ~1M: ResNet-50's classifier weight [classes, 2048, 1, 1] no longer fits one buffer, and HostTensor's
    // InvalidOperationException ended the run with status 3 ("a device or library error") and a stack trace.
    [TestCase("resnet50", "2000000", "1", "error: --classes: Classes 2000000 makes ResNet50's classifier weight [2000000, 2048, 1, 1] of 4096000000 elements, more than one buffer holds (2147483591).")]
    [TestCase("mobilenetv2", "1700000", "1", "error: --classes: Classes 1700000 makes MobileNetV2's classifier weight [1700000, 1280, 1, 1] of 2176000000 elements, more than one buffer holds (2147483591).")]
    [TestCase("mobilenetv3", "1700000", "1", "error: --classes: Classes 1700000 makes MobileNetV3's classifier weight [1700000, 1280, 1, 1] of 2176000000 elements, more than one buffer holds (2147483591).")]
    [TestCase("efficientnetb0", "1700000", "1", "error: --classes: Classes 1700000 makes EfficientNetB0's classifier weight [1700000, 1280, 1, 1] of 2176000000 elements, more than one buffer holds (2147483591).")]
    [TestCase("mobilenetv2", "1000000", "3000", "error: --classes: Classes 1000000 at Batch 3000 makes logits [3000, 1000000, 1, 1] of 3000000000 elements, more than one buffer holds (2147483591).")]
    public void TooManyClassesIsBadInputNamingTheOption(string model, string classes, string batch, string expected)
    {
        var (code, stdout, stderr) = RunSample("--model", model, "--classes", classes, "--batch", batch, "--cpu", "--size", "32", "--check", "none", "--runs", "1");
        Assert.That(code, Is.EqualTo(2), stdout + stderr);
        Assert.That(stderr.Trim(), Is.EqualTo(expected));
        Assert.That(stdout, Is.Empty, "nothing ran");
    }

    // The engine's memory check on the CPU path compared a GC heap hard limit with the whole machine's memory in use
    // (ConvProblem.AvailableInProcess): under DOTNET_GCHeapHardLimit = 1 GiB on this 24 GB VM (1.7 GB in use) it read 0
    // bytes available and refused ResNet-50's first call of 64 MiB or more at batch 4, 448 x 448 ("needs about 0.0 GiB
    // (26615808 bytes) but this process has 0.0 GiB (0 bytes) available"), though the run takes some 450 MB.
    [Test]
    public void UnderAGcHeapHardLimitTheLimitLessTheHeapIsWhatIsAvailable()
    {
        var (code, stdout, stderr) = NativeFakeChild.Run(Path.Join(NativeFakeChild.TestOutput, "GpuConv.Networks"),
            ["--cpu", "--batch", "4", "--size", "448", "--check", "none", "--runs", "1"], TimeSpan.FromMinutes(2),
            // Two workers whatever the host (the CPU backend's workspaces grow with them: at 64 they pass 1 GiB, rightly refused).
            env: new() { ["DOTNET_GCHeapHardLimit"] = "0x40000000", ["DOTNET_PROCESSOR_COUNT"] = "2" });
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Contain("resnet50[gpuconv]: batch 4 median"));
    }

    // --unfused places every layer as its own call: MobileNetV2's activations then hold the expansions' buffers again.
    [Test]
    public void UnfusedRunsEveryLayerAsItsOwnCall()
    {
        string Activations(params string[] extra)
        {
            var (code, stdout, stderr) = RunSample(["--model", "mobilenetv2", "--cpu", "--size", "128", "--runs", "1", "--check", "none", .. extra]);
            Assert.That(code, Is.EqualTo(0), stdout + stderr);
            return stdout.Split('\n').Single(l => l.StartsWith("activations: "));
        }
        Assert.That(Activations(), Does.StartWith("activations: 2.1 MB"));
        Assert.That(Activations("--unfused"), Does.StartWith("activations: 5.7 MB"));
    }

    // The engine refuses an empty plan-cache path (ConvEngineOptions.PlanCachePath): one line naming --plan-cache, as for
    // --backend; it ended with status 3 and a stack trace ("a device or library error").
    [Test]
    public void AnEmptyPlanCacheIsOneLineNamingTheOption()
    {
        var (code, stdout, stderr) = RunSample("--plan-cache", "", "--cpu", "--size", "32", "--runs", "1", "--check", "none");
        Assert.That(code, Is.EqualTo(2), stdout + stderr);
        Assert.That(stderr.Trim(), Is.EqualTo("error: --plan-cache: PlanCachePath must be null (default location) or a file path, got an empty string."));
    }

    [Test]
    public void HelpPrintsEveryOptionTheParserTakes()
    {
        var (code, stdout, stderr) = RunSample("--help");
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.StartWith("usage: GpuConv.Networks"));
        // Every option Program.cs's switch takes (this test also runs in the GPU pack, where there is no source to read).
        string[] options = ["--model", "--batch", "--size", "--classes", "--runs", "--seed", "--cpu", "--backend", "--no-reference",
            "--check", "--policy", "--plan-cache", "--threads", "--vs", "--rounds", "--warmup-seconds", "--unfused", "--profile"];
        foreach (var option in options)
            Assert.That(stdout, Does.Contain($"[{option}"), option);
    }

    [TestCase(new[] { "--vs", "tensorflow" }, "error: --vs: expected onnxruntime, got 'tensorflow'.")]
    [TestCase(new[] { "--vs", "onnxruntime,onnxruntime" }, "error: --vs: expected onnxruntime, got 'onnxruntime,onnxruntime'.")]
    [TestCase(new[] { "--vs" }, "error: --vs needs a value.")]
    [TestCase(new[] { "--threads", "0" }, "error: --threads: Threads must be in 1..1024 (or left out: every core), got 0.")]
    [TestCase(new[] { "--threads", "two", "--vs", "onnxruntime" }, "error: --threads needs a whole number, got 'two'.")]
    [TestCase(new[] { "--vs", "onnxruntime", "--rounds", "0" }, "error: --rounds: Rounds must be at least 1, got 0.")]
    [TestCase(new[] { "--vs", "onnxruntime", "--warmup-seconds", "-1" }, "error: --warmup-seconds: WarmupSeconds must be in 0..600, got -1.")]
    [TestCase(new[] { "--vs", "onnxruntime", "--warmup-seconds", "two" }, "error: --warmup-seconds needs a number of seconds, got 'two'.")]
    public void APeerOrThreadCountItCannotTakeIsOneLine(string[] args, string expected)
    {
        var (code, stdout, stderr) = RunSample(["--cpu", "--size", "32", "--runs", "1", "--classes", "10", .. args]);
        Assert.That(code, Is.EqualTo(2), stdout + stderr);
        Assert.That(stderr.Trim(), Is.EqualTo(expected));
        Assert.That(stdout, Is.Empty, "nothing ran");
    }

    /// <summary>--warmup-seconds without a peer: untimed runs between the first run and the timed ones, counted in the line.</summary>
    [Test]
    public void AWarmUpBeforeTheTimedRunsIsCountedInTheLine()
    {
        var (code, stdout, stderr) = RunSample("--cpu", "--model", "mobilenetv2", "--size", "32", "--runs", "2", "--classes", "10",
            "--check", "none", "--threads", "1", "--warmup-seconds", "0.3");
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Match(@"median of 2 runs [0-9.]+ ms, after [1-9]\d* untimed runs in 0\.3 s \(upload"));
        (code, stdout, stderr) = RunSample("--cpu", "--model", "mobilenetv2", "--size", "32", "--runs", "2", "--classes", "10", "--check", "none", "--threads", "1");
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Not.Contain("untimed"), "no warm-up unless asked (without --vs)");
    }

    /// <summary>The executable with <c>--vs onnxruntime</c>: ONNX Runtime's native library loads from the app's folder, one
    /// line per side and the ratio, exit status 0 (the comparison itself: <see cref="NetworkOnnxRuntimeTests"/>).
    /// Category OnnxRuntime: the GPU-check pack leaves ORT's native library out.</summary>
    [Test, Category("OnnxRuntime")]
    public void VsOnnxRuntimePrintsOneLinePerSideAndTheRatio()
    {
        var (code, stdout, stderr) = RunSample("--model", "mobilenetv2", "--size", "32", "--runs", "2", "--classes", "10", "--check", "none",
            "--threads", "1", "--vs", "onnxruntime", "--rounds", "1", "--warmup-seconds", "0.3");
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Contain("mobilenetv2[gpuconv, network only]: batch 1 median "));
        Assert.That(stdout, Does.Match(@"mobilenetv2: warm-up 0\.3 s each side untimed \(\d+ GpuConv runs, \d+ ONNX Runtime runs\)"));
        Assert.That(stdout, Does.Contain("; 1 CPU threads, CPU "));
        Assert.That(stdout, Does.Contain("mobilenetv2[onnxruntime]: batch 1 median ").And.Contain(", 2 runs (RunWithBinding;").And.Contain("; 1 intra-op threads)"));
        Assert.That(stdout, Does.Contain("mobilenetv2: onnxruntime / gpuconv = "));
        Assert.That(stdout, Does.EndWith("mobilenetv2: PASS" + Environment.NewLine));
    }

    [TestCase("mobilenetv2", "MobileNetV2: 52 convolutions")]
    [TestCase("MobileNetV3", "MobileNetV3-Large: 46 convolutions")]
    [TestCase("efficientnetb0", "EfficientNet-B0: 49 convolutions")]
    [TestCase("convnexttiny", "ConvNeXt-T: 58 convolutions")]
    public void TheModelOptionPicksTheNetwork(string model, string summary)
    {
        var (code, stdout, stderr) = RunSample("--model", model, "--cpu", "--size", "32", "--runs", "1", "--classes", "10", "--check", "cpu");
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Contain(summary));
        string key = model.ToLowerInvariant();
        Assert.That(stdout, Does.Contain($"{key}[gpuconv]: batch 1 median ").And.EndWith($"{key}: PASS" + Environment.NewLine));
    }
}
