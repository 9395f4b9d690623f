using System.Globalization;
using System.Text.RegularExpressions;
using GpuConv.Cli;
using GpuConv.Cuda.Discovery;

namespace GpuConv.Tests.Cli;

/// <summary>
/// `gpuconv probe`: the three summary lines the GPU check greps (overhead, bandwidth, plan-start), with
/// positive numbers and the exact prefixes; bad options refused with exit 2 naming the option before any
/// device work; an unavailable backend refused in one line. The cpu backend stands in here; the GPU
/// variants run on a GPU host and are skipped elsewhere with discovery's reason.
/// </summary>
public class ProbeCommandTests
{
    static readonly Regex Overhead = new(
        @"^overhead: engine (?<engine>\d+\.\d\d) us/call, backend (?<backend>\d+\.\d\d) us/call, bare (?<bare>\d+\.\d\d) us/call; " +
        @"engine over bare (?<over>-?\d+\.\d\d) us \(goal < 5 us\) on (?<on>.+), (?<calls>\d+) calls; bare is .+$", RegexOptions.Multiline);
    static readonly Regex Bandwidth = new(
        @"^bandwidth: im2col (?<im2col>\d+\.\d) GB/s, device copy (?<copy>\d+\.\d) GB/s, ratio (?<ratio>\d+\.\d\d) on (?<on>.+)$", RegexOptions.Multiline);
    static readonly Regex PlanStart = new(
        @"^plan-start: cold exhaustive (?<cold>\d+\.\d) ms, warm plan cache (?<warm>\d+\.\d) ms to the first result of (?<set>\S+) \((?<layers>\d+) layers\), (?<ratio>\d+\.\d)x \(goal >= 50x\)$",
        RegexOptions.Multiline);

    static double Number(Match m, string group) => double.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    /// <summary>Each summary line once, its numbers positive (engine over bare is a difference and may be either sign).</summary>
    static void AssertThreeSummaryLines(string output, string expectedSet, int expectedLayers, int expectedCalls)
    {
        var overhead = Overhead.Matches(output);
        Assert.That(overhead, Has.Count.EqualTo(1), output);
        var o = overhead[0];
        foreach (var g in new[] { "engine", "backend", "bare" })
            Assert.That(Number(o, g), Is.GreaterThan(0), g);
        Assert.That(Number(o, "over"), Is.EqualTo(Number(o, "engine") - Number(o, "bare")).Within(0.011));
        Assert.That(int.Parse(o.Groups["calls"].Value, CultureInfo.InvariantCulture), Is.EqualTo(expectedCalls));
        Assert.That(o.Groups["on"].Value, Does.Contain("x [1,8,8,8] w [8,8,3,3] pad 1"));

        var bandwidth = Bandwidth.Matches(output);
        Assert.That(bandwidth, Has.Count.EqualTo(1), output);
        foreach (var g in new[] { "im2col", "copy", "ratio" })
            Assert.That(Number(bandwidth[0], g), Is.GreaterThan(0), g);

        var planStart = PlanStart.Matches(output);
        Assert.That(planStart, Has.Count.EqualTo(1), output);
        var p = planStart[0];
        foreach (var g in new[] { "cold", "warm", "ratio" })
            Assert.That(Number(p, g), Is.GreaterThan(0), g);
        Assert.That(p.Groups["set"].Value, Is.EqualTo(expectedSet));
        Assert.That(int.Parse(p.Groups["layers"].Value, CultureInfo.InvariantCulture), Is.EqualTo(expectedLayers));
        // Which start is faster is the GPU run's measurement, not a test's; what the warm start must have
        // done is deterministic: every plan came from the cold start's cache.
        Assert.That(output, Does.Contain($" {expectedLayers} of {expectedLayers} plans from the cache"), output);
    }

    [Test]
    public void CpuBackendPrintsTheThreeSummaryLines()
    {
        var (exit, output, error) = CliHarness.Invoke("probe", "--backend", "cpu", "--shapes", "resnet18", "--limit", "4", "--calls", "300");

        Assert.That(exit, Is.EqualTo(ExitCodes.Ok), output + error);
        AssertThreeSummaryLines(output, "resnet18[:4]", 4, 300);
        Assert.That(output, Does.Contain("(cpu stand-in"));
        Assert.That(output, Does.Contain("engine result against the float64 reference").And.Contain("(ok,"));
        Assert.That(output, Does.Match(@"warm \(new engine, cached policy\): .* 4 of 4 plans from the cache"));
    }

    [Test]
    public void TheTemporaryPlanCacheIsDeletedAndAGivenOneIsKept()
    {
        using var harness = new CliHarness();
        string given = harness.Path("plans.json");

        var (exit, output, error) = CliHarness.Invoke("probe", "--backend", "cpu", "--shapes", "resnet18", "--limit", "2", "--calls", "50");
        var (exitGiven, outputGiven, errorGiven) = CliHarness.Invoke("probe", "--backend", "cpu", "--shapes", "resnet18", "--limit", "2", "--calls", "50", "--plan-cache", given);

        Assert.That(exit, Is.EqualTo(0), output + error);
        string temporary = Regex.Match(output, @"plan cache (\S+) \(temporary\)").Groups[1].Value;
        Assert.That(temporary, Is.Not.Empty, output);
        Assert.That(File.Exists(temporary), Is.False, $"{temporary} was left behind");
        Assert.That(File.Exists(temporary + ".lock"), Is.False);
        Assert.That(exitGiven, Is.EqualTo(0), outputGiven + errorGiven);
        Assert.That(outputGiven, Does.Contain($"plan cache {given}").And.Not.Contain("(temporary)"));
        Assert.That(File.Exists(given), Is.True, "the --plan-cache file is kept");
        Assert.That(File.ReadAllText(given), Does.Contain("\"backend\": \"cpu\""), "it holds the cold start's plans");
    }

    [TestCase(new[] { "--backend", "tpu" }, "--backend")]
    [TestCase(new[] { "--backend", "reference" }, "--backend")]
    [TestCase(new[] { "--backend", "cpu", "--calls", "0" }, "--calls")]
    [TestCase(new[] { "--backend", "cpu", "--limit", "0" }, "--limit")]
    [TestCase(new[] { "--backend", "cpu", "--shapes", "no-such-set" }, "--shapes")]
    [TestCase(new[] { "--backend", "cpu", "--plan-cache", "" }, "--plan-cache")]
    public void BadOptionsAreRefusedNamingTheOption(string[] options, string named)
    {
        var (exit, output, error) = CliHarness.Invoke(["probe", .. options]);

        Assert.That(exit, Is.EqualTo(ExitCodes.BadInput), output + error);
        Assert.That(error, Does.StartWith("error: " + named), error);
        Assert.That(output, Does.Not.Contain("== overhead"), "refused before any measuring");
    }

    [Test]
    public void AFolderAsPlanCacheIsRefused()
    {
        using var harness = new CliHarness();

        var (exit, _, error) = CliHarness.Invoke("probe", "--backend", "cpu", "--plan-cache", harness.Folder);

        Assert.That(exit, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.StartWith("error: --plan-cache:").And.Contain("is a folder"));
    }

    [Test]
    public void AMissingBackendOptionIsAParseError()
    {
        var (exit, _, error) = CliHarness.Invoke("probe");

        Assert.That(exit, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain("--backend"));
    }

    [TestCase("cudnn")]
    [TestCase("ptx")]
    public void AGpuBackendWithoutAGpuIsRefusedInOneLine(string backend)
    {
        var status = CudaDiscovery.Probe();
        if (status.IsAvailable) Assert.Ignore("a GPU is usable here: the refusal cannot be shown");

        var (exit, output, error) = CliHarness.Invoke("probe", "--backend", backend);

        Assert.That(exit, Is.EqualTo(ExitCodes.BadInput), output + error);
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), error);
        Assert.That(error, Does.StartWith($"error: --backend: Backend '{backend}' is not available").And.Contain("GPU backends are off"));
        Assert.That(output, Does.Not.Contain("== overhead"));
    }

    [TestCase("cudnn"), TestCase("ptx"), Category("Gpu"), NonParallelizable]
    public void GpuBackendPrintsTheThreeSummaryLines(string backend)
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        NativeFakes.NativeFakeLibraries.SkipUnderFakes("speed probe (overhead, bandwidth, plan start): minutes against the fakes and its goals need the H200");

        var (exit, output, error) = CliHarness.Invoke("probe", "--backend", backend, "--shapes", "resnet50", "--limit", "8", "--calls", "2000");

        Assert.That(exit, Is.EqualTo(ExitCodes.Ok), output + error);
        AssertThreeSummaryLines(output, "resnet50[:8]", 8, 2000);
        Assert.That(output, Does.Contain("im2col_f32's column of image 0 equals Im2Col.Forward's bit for bit"));
        Assert.That(output, Does.Not.Contain("MISMATCH"));
        // The bare call is the planned algorithm's own: the legacy call, or cudnnBackendExecute when the exhaustive
        // search picked a graph-API engine config (it did on the native fakes; the H200's pick is its own).
        if (backend == "cudnn") Assert.That(output, Does.Contain("bare is cudnnConvolutionForward (").Or.Contain("bare is cudnnBackendExecute ("));
    }
}
