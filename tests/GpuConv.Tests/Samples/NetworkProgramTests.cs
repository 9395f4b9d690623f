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
        Assert.That(stderr.Trim(), Is.EqualTo("error: --model: expected resnet50 or mobilenetv2, got 'vgg16'."));
        Assert.That(stdout, Is.Empty, "nothing ran");
    }

    // Enum.TryParse would take these: a comma list is the flags union (resnet50,mobilenetv2 = MobileNetV2, the form
    // GPUCONV_CHECK_NETWORKS takes), and "cpu,none" an undefined NetworkCheck; each must be refused, not run.
    [TestCase("--model", "resnet50,mobilenetv2", "resnet50 or mobilenetv2")]
    [TestCase("--model", "1", "resnet50 or mobilenetv2")]
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

    [Test]
    public void HelpPrintsEveryOptionTheParserTakes()
    {
        var (code, stdout, stderr) = RunSample("--help");
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.StartWith("usage: GpuConv.Networks"));
        // Every option Program.cs's switch takes (this test also runs in the GPU pack, where there is no source to read).
        string[] options = ["--model", "--batch", "--size", "--classes", "--runs", "--seed", "--cpu", "--backend", "--no-reference",
            "--check", "--policy", "--plan-cache", "--threads", "--vs", "--rounds"];
        foreach (var option in options)
            Assert.That(stdout, Does.Contain($"[{option}"), option);
    }

    [TestCase(new[] { "--vs", "tensorflow" }, "error: --vs: expected onnxruntime, got 'tensorflow'.")]
    [TestCase(new[] { "--vs", "onnxruntime,onnxruntime" }, "error: --vs: expected onnxruntime, got 'onnxruntime,onnxruntime'.")]
    [TestCase(new[] { "--vs" }, "error: --vs needs a value.")]
    [TestCase(new[] { "--threads", "0" }, "error: --threads: Threads must be in 1..1024 (or left out: every core), got 0.")]
    [TestCase(new[] { "--threads", "two", "--vs", "onnxruntime" }, "error: --threads needs a whole number, got 'two'.")]
    [TestCase(new[] { "--vs", "onnxruntime", "--rounds", "0" }, "error: --rounds: Rounds must be at least 1, got 0.")]
    public void APeerOrThreadCountItCannotTakeIsOneLine(string[] args, string expected)
    {
        var (code, stdout, stderr) = RunSample(["--cpu", "--size", "32", "--runs", "1", "--classes", "10", .. args]);
        Assert.That(code, Is.EqualTo(2), stdout + stderr);
        Assert.That(stderr.Trim(), Is.EqualTo(expected));
        Assert.That(stdout, Is.Empty, "nothing ran");
    }

    /// <summary>The executable with <c>--vs onnxruntime</c>: ONNX Runtime's native library loads from the app's folder, one
    /// line per side and the ratio, exit status 0 (the comparison itself: <see cref="NetworkOnnxRuntimeTests"/>).</summary>
    [Test]
    public void VsOnnxRuntimePrintsOneLinePerSideAndTheRatio()
    {
        var (code, stdout, stderr) = RunSample("--model", "mobilenetv2", "--size", "32", "--runs", "2", "--classes", "10", "--check", "none",
            "--threads", "1", "--vs", "onnxruntime", "--rounds", "1");
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Contain("mobilenetv2[gpuconv, network only]: batch 1 median "));
        Assert.That(stdout, Does.Contain("; 1 CPU threads, CPU "));
        Assert.That(stdout, Does.Contain("mobilenetv2[onnxruntime]: batch 1 median ").And.Contain(", 2 runs (RunWithBinding;").And.Contain("; 1 intra-op threads)"));
        Assert.That(stdout, Does.Contain("mobilenetv2: onnxruntime / gpuconv = "));
        Assert.That(stdout, Does.EndWith("mobilenetv2: PASS" + Environment.NewLine));
    }

    [Test]
    public void TheModelOptionPicksTheNetwork()
    {
        var (code, stdout, stderr) = RunSample("--model", "mobilenetv2", "--cpu", "--size", "32", "--runs", "1", "--classes", "10", "--check", "cpu");
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Contain("MobileNetV2: 52 convolutions"));
        Assert.That(stdout, Does.Contain("mobilenetv2[gpuconv]: batch 1 median ").And.EndWith("mobilenetv2: PASS" + Environment.NewLine));
    }
}
