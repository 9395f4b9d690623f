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

    [Test]
    public void ASizeTooSmallNamesTheModel()
    {
        var (code, stdout, stderr) = RunSample("--model", "MobileNetV2", "--size", "16", "--cpu");
        Assert.That(code, Is.EqualTo(2), stdout + stderr);
        Assert.That(stderr.Trim(), Is.EqualTo("error: Size must be at least 32 (MobileNetV2 halves it five times), got 16. (Parameter 'Size')"));
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
