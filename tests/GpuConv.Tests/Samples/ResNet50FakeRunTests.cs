using GpuConv.Tests.NativeFakes;

namespace GpuConv.Tests.Samples;

/// <summary>
/// samples/GpuConv.ResNet50's executable in a CHILD process against the native fakes, as a standalone application meets
/// them. Two runs: with GPUCONV_FAKE_NO_COMPUTE=1 the whole network goes through the GPU path (cuDNN, the pool and
/// bias kernels) and the sample reports its (meaningless) result line and exits 1, the check against the CPU engine
/// failing as it must when nothing was computed; without it, the fakes refuse a kernel launch (no launch hook in a
/// standalone process), and the sample must end with its reason and exit status 3 — not abort on an unhandled exception
/// (status 134), which the GPU check's rehearsal once met. Where the fakes cannot be built the tests fail when
/// GPUCONV_REQUIRE_NATIVE_FAKES=1 (CI) and are skipped with the build's reason otherwise.
/// </summary>
[TestFixture, NonParallelizable]
public sealed class ResNet50FakeRunTests
{
    string _fakes = null!;
    string _work = null!;

    [OneTimeSetUp]
    public void BuildFakes()
    {
        _fakes = NativeFakeChild.BuildOrSkip("native-fakes");   // the folder NativeFakeRunTests builds: built once, reused
        _work = Directory.CreateTempSubdirectory("resnet50-fakes-").FullName;
    }

    [OneTimeTearDown]
    public void RemoveWork()
    {
        if (_work is not null && Directory.Exists(_work)) Directory.Delete(_work, recursive: true);
    }

    (int Code, string Stdout, string Stderr) RunSample(string tag, bool compute)
    {
        var env = NativeFakeChild.Environment(_fakes, Path.Join(_work, $"report-{tag}.txt"));
        if (!compute) env["GPUCONV_FAKE_NO_COMPUTE"] = "1";
        string[] args = ["--size", "32", "--runs", "2", "--check", "cpu", "--plan-cache", Path.Join(_work, $"plans-{tag}.json")];
        return NativeFakeChild.Run(Path.Join(NativeFakeChild.TestOutput, "GpuConv.ResNet50"), args, TimeSpan.FromMinutes(5), env);
    }

    [Test]
    public void TheWholeNetworkRunsThroughTheGpuPath()
    {
        var (code, stdout, stderr) = RunSample("no-compute", compute: false);
        TestContext.Out.WriteLine(stdout + stderr);
        Assert.That(stdout, Does.Contain("tensors in GPU memory"));
        Assert.That(stdout, Does.Contain("resnet50[gpuconv]: batch 1 median"), "the result line the GPU check reads");
        Assert.That(code, Is.EqualTo(1), "nothing computed: the check against the CPU engine fails, and says so by status 1");
    }

    [Test]
    public void ADeviceErrorEndsTheRunWithItsReasonNotACrash()
    {
        var (code, stdout, stderr) = RunSample("refused-launch", compute: true);
        TestContext.Out.WriteLine(stdout + stderr);
        Assert.That(stderr, Does.Not.Contain("Unhandled exception"));
        Assert.That(stderr, Does.Contain("resnet50: FAIL: CudaException: cuLaunchKernel failed: CUDA_ERROR_NOT_SUPPORTED"));
        Assert.That(code, Is.EqualTo(3));
    }
}
