using System.Diagnostics;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cli;

/// <summary>
/// build/gpu-check.sh's own options, checked before any step: it runs on a rarely lent GPU host, where a
/// misspelt GPUCONV_CHECK_ONLY key used to leave every step out and still end in PASS. Needs the repository
/// (the GPU-check pack runs its tests without one: ignored there) and bash.
/// </summary>
public class GpuCheckScriptTests
{
    static (int Exit, string Output) RunScript(string results, params (string Name, string Value)[] environment)
    {
        var root = SharedData.RepositoryRoot();
        if (root is null) Assert.Ignore("no repository around the test assembly (the GPU-check pack): build/gpu-check.sh is not here");
        var start = new ProcessStartInfo("bash", [Path.Combine(root!, "build", "gpu-check.sh"), results])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        // A zero budget: whatever the script gets past its option checks, it runs no step.
        start.Environment["GPUCONV_CHECK_BUDGET"] = "0";
        foreach (var (name, value) in environment) start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd() + stderr.Result;
        Assert.That(process.WaitForExit(60_000), Is.True, "gpu-check.sh did not end");
        return (process.ExitCode, output);
    }

    [TestCase("gpu_tests")]
    [TestCase("smoke,benchmarks")]
    public void AnUnknownStepKeyStopsTheScriptBeforeAnyStep(string only)
    {
        using var folder = new CliHarness();
        var (exit, output) = RunScript(folder.Folder, ("GPUCONV_CHECK_ONLY", only));

        Assert.That(exit, Is.EqualTo(2), output);
        Assert.That(output, Does.StartWith("GPUCONV_CHECK_ONLY: unknown step").And.Contain("gpu-tests,torch,bench,probe,resnet50,all-tests"), output);
        Assert.That(File.Exists(folder.Path("summary.txt")), Is.False, "no step ran, not even the system report");
    }

    [TestCase("0")]
    [TestCase("1.5")]
    [TestCase("three")]
    public void AStepScaleThatIsNotAPositiveWholeNumberIsRefused(string scale)
    {
        using var folder = new CliHarness();
        var (exit, output) = RunScript(folder.Folder, ("GPUCONV_CHECK_STEP_SCALE", scale));

        Assert.That(exit, Is.EqualTo(2), output);
        Assert.That(output, Does.StartWith($"GPUCONV_CHECK_STEP_SCALE: expected a whole number >= 1, got '{scale}'"));
    }

    [Test]
    public void TheRehearsalKnobsAreCheckedLikeTheStepKeys()
    {
        using var folder = new CliHarness();
        var (exit, output) = RunScript(folder.Folder, ("GPUCONV_CHECK_NO_COMPUTE_STEPS", "torch,benchmarks"));
        Assert.That(exit, Is.EqualTo(2), output);
        Assert.That(output, Does.StartWith("GPUCONV_CHECK_NO_COMPUTE_STEPS: unknown step 'benchmarks'"));

        (exit, output) = RunScript(folder.Folder, ("GPUCONV_CHECK_TORCH_DEVICE", "gpu"));
        Assert.That(exit, Is.EqualTo(2), output);
        Assert.That(output, Does.StartWith("GPUCONV_CHECK_TORCH_DEVICE: expected auto, cuda or cpu, got 'gpu'"));

        (exit, output) = RunScript(folder.Folder, ("GPUCONV_CHECK_NETWORKS", "resnet50,mobilenet_v2"));
        Assert.That(exit, Is.EqualTo(2), output);
        Assert.That(output, Does.StartWith("GPUCONV_CHECK_NETWORKS: unknown network 'mobilenet_v2' in 'resnet50,mobilenet_v2'; networks: resnet50,mobilenetv2,convnexttiny"));
        Assert.That(File.Exists(folder.Path("summary.txt")), Is.False, "no step ran");

        // Commas alone name no network: the whole-network step would time nothing and still pass.
        (exit, output) = RunScript(folder.Folder, ("GPUCONV_CHECK_NETWORKS", " , "));
        Assert.That(exit, Is.EqualTo(2), output);
        Assert.That(output, Does.StartWith("GPUCONV_CHECK_NETWORKS: no network in ' , '; networks: resnet50,mobilenetv2,convnexttiny (unset: resnet50)"));
        Assert.That(File.Exists(folder.Path("summary.txt")), Is.False, "no step ran");
    }

    [Test]
    public void KnownStepKeysWithSpacesPassTheCheck()
    {
        using var folder = new CliHarness();
        var (_, output) = RunScript(folder.Folder, ("GPUCONV_CHECK_ONLY", "smoke, probe, resnet50"), ("GPUCONV_CHECK_STEP_SCALE", "3"),
            ("GPUCONV_CHECK_NETWORKS", "resnet50,mobilenetv2,convnexttiny"));

        Assert.That(output, Does.Not.Contain("unknown step").And.Not.Contain("GPUCONV_CHECK_STEP_SCALE:"), output);
        Assert.That(File.Exists(folder.Path("summary.txt")), Is.True, "the script went on to its steps");
        // Outside a pack (no app/ beside the script; the PyTorch scripts are beside it in build/) the resnet50 step says
        // what is missing rather than passing.
        var resnet50 = File.ReadAllLines(folder.Path("summary.txt")).Single(l => l.Contains("resnet50 vs PyTorch"));
        Assert.That(resnet50, Does.StartWith("FAIL").And.EndWith("the pack lacks app/GpuConv.Networks.dll"));
    }
}
