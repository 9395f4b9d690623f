using System.Text.RegularExpressions;
using GpuConv.Tests.NativeFakes;

namespace GpuConv.Tests.Samples;

/// <summary>
/// samples/GpuConv.Networks' executable in a CHILD process against the native fakes, as a standalone application meets
/// them, once per network (the sealed fixtures below). Two runs: with GPUCONV_FAKE_NO_COMPUTE=1 the whole network goes
/// through the GPU path (cuDNN, the pool and bias kernels) and the sample reports its (meaningless) result line and exits
/// 1, the check against the CPU engine failing as it must when nothing was computed; its GPUCONV_TRACE lines between the
/// sample's run markers show what a steady-state run does: one copy in, one copy out, one host wait, no device
/// allocation; without it, the fakes refuse a kernel launch (no launch hook in a standalone process), and the sample
/// must end with its reason and exit status 3 — not abort on an unhandled exception (status 134), which the GPU check's
/// rehearsal once met. Where the fakes cannot be built the tests fail when GPUCONV_REQUIRE_NATIVE_FAKES=1 (CI) and are
/// skipped with the build's reason otherwise.
/// </summary>
public abstract class NetworkFakeRunTests(string model, int pools)
{
    string _fakes = null!;
    string _work = null!;

    [OneTimeSetUp]
    public void BuildFakes()
    {
        _fakes = NativeFakeChild.BuildOrSkip("native-fakes");   // the folder NativeFakeRunTests builds: built once, reused
        _work = Directory.CreateTempSubdirectory($"{model}-fakes-").FullName;
    }

    [OneTimeTearDown]
    public void RemoveWork()
    {
        if (_work is not null && Directory.Exists(_work)) Directory.Delete(_work, recursive: true);
    }

    (int Code, string Stdout, string Stderr) RunSample(string tag, bool compute)
    {
        var env = NativeFakeChild.Environment(_fakes, Path.Join(_work, $"report-{tag}.txt"));
        env["GPUCONV_TRACE"] = "1";
        if (!compute) env["GPUCONV_FAKE_NO_COMPUTE"] = "1";
        // ResNet-50 is the default model: its runs name none, as gpu-check.sh's did before MobileNetV2 joined.
        string[] modelArgs = model == "resnet50" ? [] : ["--model", model];
        string[] args = [.. modelArgs, "--size", "32", "--runs", "2", "--check", "cpu", "--plan-cache", Path.Join(_work, $"plans-{tag}.json")];
        return NativeFakeChild.Run(Path.Join(NativeFakeChild.TestOutput, "GpuConv.Networks"), args, TimeSpan.FromMinutes(5), env);
    }

    [Test]
    public void TheWholeNetworkRunsThroughTheGpuPath()
    {
        var (code, stdout, stderr) = RunSample("no-compute", compute: false);
        TestContext.Out.WriteLine(stdout + stderr);
        Assert.That(stdout, Does.Contain("tensors in GPU memory"));
        Assert.That(stdout, Does.Contain($"{model}[gpuconv]: batch 1 median"), "the result line the GPU check reads");
        Assert.That(code, Is.EqualTo(1), "nothing computed: the check against the CPU engine fails, and says so by status 1");

        // A steady-state run (the first plans and prepares): one copy in, one copy out, one host wait, nothing allocated.
        var calls = CallsBetweenMarkers(stderr, run: 2);
        TestContext.Out.WriteLine("run 2: " + string.Join(", ", calls.GroupBy(c => c).Select(g => $"{g.Key} ×{g.Count()}")));
        Assert.That(calls.Count(c => c.StartsWith("cuMemcpyHtoD", StringComparison.Ordinal)), Is.EqualTo(1), "the input upload only");
        Assert.That(calls.Count(c => c.StartsWith("cuMemcpyDtoH", StringComparison.Ordinal)), Is.EqualTo(1), "the logits' download only");
        Assert.That(calls.Count(c => c == "cuStreamSynchronize"), Is.EqualTo(1), "one host wait, the download's");
        Assert.That(calls.Count(c => c is "cuCtxSynchronize" or "cuEventSynchronize"), Is.Zero, "no other wait");
        Assert.That(calls.Count(c => c.StartsWith("cuMemAlloc", StringComparison.Ordinal)), Is.Zero, "buffers reused, no allocation");
        Assert.That(calls.Count(c => c == "cuLaunchKernel"), Is.GreaterThanOrEqualTo(pools), $"the {pools} pool(s) ran as kernels on the device");
    }

    /// <summary>The native call names the trace logged between "[model] begin run N" and "end run N".</summary>
    List<string> CallsBetweenMarkers(string stderr, int run)
    {
        var lines = stderr.Split('\n');
        int begin = Array.FindIndex(lines, l => l.Trim() == $"[{model}] begin run {run}");
        int end = Array.FindIndex(lines, l => l.Trim() == $"[{model}] end run {run}");
        Assert.That(begin, Is.GreaterThanOrEqualTo(0).And.LessThan(end), $"markers of run {run} in stderr");
        return lines[(begin + 1)..end]
            .Select(l => Regex.Match(l, @"^\[gpuconv-trace\] (?!note )([A-Za-z_0-9]+)"))
            .Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
    }

    [Test]
    public void ADeviceErrorEndsTheRunWithItsReasonNotACrash()
    {
        var (code, stdout, stderr) = RunSample("refused-launch", compute: true);
        TestContext.Out.WriteLine(stdout + stderr);
        Assert.That(stderr, Does.Not.Contain("Unhandled exception"));
        Assert.That(stderr, Does.Contain($"{model}: FAIL: CudaException: cuLaunchKernel failed: CUDA_ERROR_NOT_SUPPORTED"));
        Assert.That(code, Is.EqualTo(3));
    }
}

/// <summary>ResNet-50 (the default model): the stem's max pool and the head's global average pool as kernels.</summary>
[TestFixture, NonParallelizable]
public sealed class ResNet50FakeRunTests() : NetworkFakeRunTests("resnet50", pools: 2);

/// <summary>MobileNetV2 (<c>--model mobilenetv2</c>): depthwise layers through cuDNN, the head's global average pool as a kernel.</summary>
[TestFixture, NonParallelizable]
public sealed class MobileNetV2FakeRunTests() : NetworkFakeRunTests("mobilenetv2", pools: 1);

/// <summary>MobileNetV3-Large (<c>--model mobilenetv3</c>): the 8 squeeze-and-excitation blocks' pools and the head's as kernels, beside the hardswish, hardsigmoid and channel-scaling ones.</summary>
[TestFixture, NonParallelizable]
public sealed class MobileNetV3FakeRunTests() : NetworkFakeRunTests("mobilenetv3", pools: 9);

/// <summary>EfficientNet-B0 (<c>--model efficientnetb0</c>): the 16 squeeze-and-excitation blocks' pools and the head's as kernels, beside the sigmoid and channel-scaling ones.</summary>
[TestFixture, NonParallelizable]
public sealed class EfficientNetB0FakeRunTests() : NetworkFakeRunTests("efficientnetb0", pools: 17);
