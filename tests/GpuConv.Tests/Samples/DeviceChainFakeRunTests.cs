using System.Diagnostics;
using System.Text.RegularExpressions;
using GpuConv.Tests.NativeFakes;

namespace GpuConv.Tests.Samples;

/// <summary>
/// samples/GpuConv.DeviceChain's executable in a CHILD process against the native fakes (tests/NativeFakes), as a
/// standalone application meets them: no launch hook, so the cudnn backend (--backend cudnn). With GPUCONV_TRACE=1
/// the child's stderr has one line per native call between the sample's "[devicechain] begin/end batch" markers, so
/// the test counts what a steady-state batch does: exactly one host-to-device copy (the input), one device-to-host
/// copy (the output) and one host wait (the download's), no device allocation and no other copy or wait. The
/// results are judged inside the child against the CPU backend and the float64 reference (≤ 1e-4) and its exit
/// status says so. Where the fakes cannot be built the tests fail when GPUCONV_REQUIRE_NATIVE_FAKES=1 (CI) and are
/// skipped with the build's reason otherwise.
/// </summary>
[TestFixture, NonParallelizable]
public sealed class DeviceChainFakeRunTests
{
    string _fakes = null!;
    string _work = null!;

    [OneTimeSetUp]
    public void BuildFakes()
    {
        _fakes = NativeFakeChild.BuildOrSkip("native-fakes");   // the folder NativeFakeRunTests builds: built once, reused
        _work = Directory.CreateTempSubdirectory("devicechain-fakes-").FullName;
    }

    [OneTimeTearDown]
    public void RemoveWork()
    {
        if (_work is not null && Directory.Exists(_work)) Directory.Delete(_work, recursive: true);
    }

    [Test, Order(1)]
    public void SteadyStateBatch_CopiesInOnceOutOnce_WaitsOnce_AndMatchesTheReference()
    {
        var (code, stdout, stderr, report) = RunSample("first", ["--backend", "cudnn", "--batches", "3", "--plan-cache", Path.Join(_work, "plans.json")]);
        TestContext.Out.WriteLine(stdout);
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Contain("tensors in GPU memory"));
        Assert.That(stdout, Does.Contain("devicechain: PASS"));
        Assert.That(Regex.Matches(stdout, @"^  [^:]+: cudnn/", RegexOptions.Multiline).Count, Is.EqualTo(6), "every layer planned on cudnn");
        Assert.That(stdout, Does.Match(@"training step .* dW \d"), "the training step ran on the device");
        AssertCleanReport(report);

        // Batch 0.0 is the first of its buffers; 0.1 and 0.2 are the steady state an application loops in.
        foreach (var batch in new[] { "0.1", "0.2" })
        {
            var calls = CallsBetweenMarkers(stderr, batch);
            TestContext.Out.WriteLine($"batch {batch}: " + string.Join(", ", calls.GroupBy(c => c).Select(g => $"{g.Key} ×{g.Count()}")));
            Assert.That(calls.Count(c => c.StartsWith("cuMemcpyHtoD", StringComparison.Ordinal)), Is.EqualTo(1), $"batch {batch}: the input upload only");
            Assert.That(calls.Count(c => c.StartsWith("cuMemcpyDtoH", StringComparison.Ordinal)), Is.EqualTo(1), $"batch {batch}: the output download only");
            Assert.That(calls.Count(c => c.StartsWith("cuMemcpyDtoD", StringComparison.Ordinal)), Is.Zero, $"batch {batch}: no device copy");
            Assert.That(calls.Count(c => c == "cuStreamSynchronize"), Is.EqualTo(1), $"batch {batch}: one host wait, the download's");
            Assert.That(calls.Count(c => c is "cuCtxSynchronize" or "cuEventSynchronize"), Is.Zero, $"batch {batch}: no other wait");
            Assert.That(calls.Count(c => c.StartsWith("cuMemAlloc", StringComparison.Ordinal)), Is.Zero, $"batch {batch}: buffers reused, no allocation");
            Assert.That(calls.Count(c => c.StartsWith("cudnnConvolution", StringComparison.Ordinal)), Is.EqualTo(6), $"batch {batch}: the six layers ran");
        }
    }

    [Test, Order(2)]
    public void SecondRun_TwoThreads_PlansFromTheCacheTheFirstRunSaved()
    {
        string cache = Path.Join(_work, "plans.json");
        if (!File.Exists(cache)) RunSample("seed", ["--backend", "cudnn", "--batches", "1", "--no-train", "--no-reference", "--plan-cache", cache]);
        var (code, stdout, stderr, report) = RunSample("second", ["--backend", "cudnn", "--threads", "2", "--batches", "2", "--no-train", "--plan-cache", cache]);
        TestContext.Out.WriteLine(stdout);
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Contain("devicechain: PASS"));
        Assert.That(Regex.Matches(stdout, @"^  [^:]+: cudnn/\S+ \(Cache,", RegexOptions.Multiline).Count, Is.EqualTo(6), stdout);
        Assert.That(stdout, Does.Contain("4 batches of [4, 3, 32, 32] on 2 thread(s)"));
        AssertCleanReport(report);
    }

    [Test, Order(3)]
    public void EnginePerThread_EachThreadOnItsOwnStream_MatchesTheReference()
    {
        var (code, stdout, stderr, report) = RunSample("per-thread", ["--backend", "cudnn", "--threads", "2", "--batches", "2", "--engine-per-thread", "--no-train"]);
        TestContext.Out.WriteLine(stdout);
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Contain("on 2 thread(s), an engine each").And.Contain("devicechain: PASS"));
        // The shared engine's warm-up and each thread's engine: three streams carry copies.
        var streams = Regex.Matches(stderr, @"cuMemcpy\w+\(.*stream=(0x[0-9a-f]+)").Select(m => m.Groups[1].Value).Distinct().Count();
        Assert.That(streams, Is.EqualTo(3), "one stream per engine");
        AssertCleanReport(report);
    }

    /// <summary>The native call names the trace logged between "begin batch B" and "end batch B".</summary>
    static List<string> CallsBetweenMarkers(string stderr, string batch)
    {
        var lines = stderr.Split('\n');
        int begin = Array.FindIndex(lines, l => l.Trim() == $"[devicechain] begin batch {batch}");
        int end = Array.FindIndex(lines, l => l.Trim() == $"[devicechain] end batch {batch}");
        Assert.That(begin, Is.GreaterThanOrEqualTo(0).And.LessThan(end), $"markers of batch {batch} in stderr");
        return lines[(begin + 1)..end]
            .Select(l => Regex.Match(l, @"^\[gpuconv-trace\] (?!note )([A-Za-z_0-9]+)"))
            .Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
    }

    static void AssertCleanReport(string report)
    {
        Assert.That(File.Exists(report), Is.True, "the fake driver writes its report at exit");
        string text = File.ReadAllText(report);
        TestContext.Out.WriteLine("fake driver at exit: " + text.Trim());
        Assert.That(text, Does.Contain("live_allocations=0 "), "every device allocation was freed");
        Assert.That(text, Does.Contain("races=0"), "no stream race: the waits the chain left out were not needed");
    }

    (int Code, string Stdout, string Stderr, string Report) RunSample(string tag, string[] args)
    {
        string report = Path.Join(_work, $"report-{tag}.txt");
        var env = NativeFakeChild.Environment(_fakes, report);
        env["GPUCONV_TRACE"] = "1";
        var (code, stdout, stderr) = NativeFakeChild.Run(Path.Join(NativeFakeChild.TestOutput, "GpuConv.DeviceChain"), args, TimeSpan.FromMinutes(5), env);
        return (code, stdout, stderr, report);
    }

}
