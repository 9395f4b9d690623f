using System.Diagnostics;
using System.Text.RegularExpressions;

namespace GpuConv.Tests.NativeFakes;

/// <summary>
/// The GPU code end to end on a machine without a GPU: the real bindings, discovery, context, pool, cuDNN and
/// ptx backends against the native fakes of tests/NativeFakes (C libraries that behave like libcuda.so.1,
/// libcudnn.so.9 and libcublas.so.13 and are strict about their arguments), always in a CHILD process — this
/// process keeps seeing no GPU. The fakes are built once (tests/NativeFakes/build.sh: cc, or tcc fetched from
/// Debian). Where they cannot be built the tests fail when GPUCONV_REQUIRE_NATIVE_FAKES=1 (CI) and are skipped
/// with the build's reason otherwise.
/// </summary>
[TestFixture, NonParallelizable]
public sealed class NativeFakeRunTests
{
    static readonly string TestOutput = NativeFakeChild.TestOutput;
    string _fakes = null!;

    [OneTimeSetUp]
    public void BuildFakes() => _fakes = NativeFakeChild.BuildOrSkip("native-fakes");

    [Test]
    public void SelfTestRefusesEveryMistakeItExistsToCatch()
    {
        var (code, stdout, stderr) = Run(Path.Join(_fakes, "selftest"), [], TimeSpan.FromMinutes(1));
        TestContext.Out.WriteLine(stdout);
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        var m = Regex.Match(stdout, @"selftest: (\d+) checks, 0 failed");
        Assert.That(m.Success, Is.True, stdout);
        Assert.That(int.Parse(m.Groups[1].Value), Is.GreaterThanOrEqualTo(38));
        Assert.That(stderr, Does.Contain("RACE (read after write)"), "the ordering check logs the races it refuses");
    }

    /// <summary>
    /// The [Category("Gpu")] tests, unchanged, in a child process against the fakes: every cuDNN algorithm for
    /// every op, the PTX kernels through cuLaunchKernel (run by the interpreter), device round trips, pool leaks,
    /// concurrency, device-resident chains. Speed tests skip themselves with their reason. Also asserts the fake's
    /// exit report: no device allocation still live, no stream race.
    /// </summary>
    [Test]
    public void GpuCategoryPassesAgainstTheFakes()
    {
        string report = Path.Join(_fakes, $"report-{Environment.ProcessId}.txt");
        File.Delete(report);
        var (code, stdout, stderr) = RunAgainstFakes(TestHost(), ["--filter", "TestCategory=Gpu"], report, TimeSpan.FromMinutes(20));
        string output = stdout + stderr;
        int Count(string label) => Regex.Match(output, $@"^\s*{label}:\s*(\d+)", RegexOptions.Multiline) is { Success: true } m ? int.Parse(m.Groups[1].Value) : -1;
        int total = Count("total"), failed = Count("failed"), passed = Count("succeeded"), skipped = Count("skipped");
        TestContext.Out.WriteLine($"Gpu category against the native fakes: {total} tests, {passed} passed, {failed} failed, {skipped} skipped");
        foreach (Match skip in Regex.Matches(output, @"^skipped .*$", RegexOptions.Multiline)) TestContext.Out.WriteLine(skip.Value);
        Assert.That(failed, Is.EqualTo(0), output);
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(passed, Is.GreaterThanOrEqualTo(70), output);
        Assert.That(skipped, Is.LessThanOrEqualTo(4), output);
        AssertCleanReport(report);
    }

    /// <summary>
    /// Plan B of asymmetric padding end to end: with GPUCONV_FAKE_TRANSFORM_ALIGNMENT=16 the fake cuDNN refuses
    /// cudnnTransformTensor on the 4-byte-aligned interior pointers (BAD_PARAM_MISALIGNED_POINTER, as a real cuDNN
    /// might), so every padded copy goes through kernels/strided_copy.ptx; the cuDNN Gpu tests (every algorithm,
    /// asymmetric padding for every op) must still pass. The fake's report shows the refusals and the launches
    /// (the cudnn tests launch no other kernel).
    /// </summary>
    [Test]
    public void CudnnPaddingPlanBRunsWhenTheTransformRefusesTheInteriorPointer()
    {
        string report = Path.Join(_fakes, $"report-planb-{Environment.ProcessId}.txt");
        File.Delete(report);
        var run = RunAgainstFakes(TestHost(), ["--filter", "TestCategory=Gpu&FullyQualifiedName~CudnnBackendGpuTests"], report, TimeSpan.FromMinutes(10),
            extra: new() { ["GPUCONV_FAKE_TRANSFORM_ALIGNMENT"] = "16" });
        string output = run.Stdout + run.Stderr;
        Assert.That(run.Code, Is.EqualTo(0), output);
        Assert.That(output, Does.Match(@"failed:\s*0\b"), output);
        AssertCleanReport(report);
        string text = File.ReadAllText(report);
        long Field(string name) => long.Parse(Regex.Match(text, $@"\b{name}=(\d+)").Groups[1].Value);
        Assert.That(Field("launches"), Is.GreaterThan(0), "plan B launched strided_copy_f32");
        Assert.That(Field("refusals"), Is.EqualTo(Field("launches")), "one refused transform, one plan-B launch per padded copy");
    }

    /// <summary>`gpuconv verify --backend cudnn` in a child against the fakes: every built-in problem (1-d/2-d/3-d, groups, depthwise, stride, dilation, asymmetric pads, transposed; three ops) within strict fp32 of the reference.</summary>
    [Test]
    public void CliVerifiesTheCudnnBackendAgainstTheReference()
    {
        string report = Path.Join(_fakes, $"report-cli-{Environment.ProcessId}.txt");
        File.Delete(report);
        var (code, stdout, stderr) = RunAgainstFakes(Path.Join(TestOutput, "GpuConv.Cli"), ["verify", "--backend", "cudnn"], report, TimeSpan.FromMinutes(10));
        TestContext.Out.WriteLine(LastLine(stdout));
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        var m = Regex.Match(stdout, @"verify: (\d+) passed, 0 failed, (\d+) skipped");
        Assert.That(m.Success, Is.True, stdout + stderr);
        Assert.That(int.Parse(m.Groups[1].Value), Is.GreaterThan(20), "cases run on cudnn");
        AssertCleanReport(report);
    }

    /// <summary>
    /// `gpuconv run --manifest` on the cudnn backend in a child against the fakes — 1-d, 2-d with stride,
    /// asymmetric pads and bias, 3-d, depthwise with dilation, transposed with output padding — planned
    /// exhaustively into a plan cache, then again from that cache; both against the reference backend's
    /// outputs of the same manifest (max |error| / max |reference| &lt; 1e-4: the transform algorithms' bound).
    /// </summary>
    [Test]
    public void CliManifestOnCudnnMatchesTheReferenceExhaustiveAndFromThePlanCache()
    {
        string dir = Path.Join(_fakes, $"manifest-{Environment.ProcessId}");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        var rng = new Random(5);
        void Save(string name, params int[] dims) =>
            GpuConv.Tensors.NpyFile.Write(Path.Join(dir, name), GpuConv.Tensors.HostTensor.Random(new GpuConv.Tensors.TensorShape(dims), rng.Next()));
        Save("x1.npy", 2, 3, 17); Save("w1.npy", 4, 3, 5);
        Save("x2.npy", 2, 4, 11, 9); Save("w2.npy", 6, 4, 3, 3); Save("b2.npy", 6);
        Save("x3.npy", 1, 2, 6, 7, 5); Save("w3.npy", 3, 2, 3, 2, 3);
        Save("x4.npy", 2, 8, 10, 10); Save("w4.npy", 8, 1, 3, 3);
        Save("x5.npy", 1, 6, 5, 7); Save("w5.npy", 6, 2, 3, 3);
        string[] cases =
        [
            """{"x": "x1.npy", "w": "w1.npy", "b": null, "stride": 2, "pads": [1, 2], "dilation": 1, "groups": 1, "transposed": false, "output_padding": 0, "out": "OUT1.npy"}""",
            """{"x": "x2.npy", "w": "w2.npy", "b": "b2.npy", "stride": [2, 1], "pads": [0, 2, 2, 1], "dilation": 1, "groups": 1, "transposed": false, "output_padding": 0, "out": "OUT2.npy"}""",
            """{"x": "x3.npy", "w": "w3.npy", "b": null, "stride": 1, "pads": 1, "dilation": 1, "groups": 1, "transposed": false, "output_padding": 0, "out": "OUT3.npy"}""",
            """{"x": "x4.npy", "w": "w4.npy", "b": null, "stride": 1, "pads": 2, "dilation": 2, "groups": 8, "transposed": false, "output_padding": 0, "out": "OUT4.npy"}""",
            """{"x": "x5.npy", "w": "w5.npy", "b": null, "stride": 2, "pads": 1, "dilation": 1, "groups": 3, "transposed": true, "output_padding": [1, 0], "out": "OUT5.npy"}""",
        ];
        string Manifest(string tag)
        {
            string path = Path.Join(dir, $"{tag}.jsonl");
            File.WriteAllLines(path, cases.Select(c => c.Replace("OUT", tag + "-", StringComparison.Ordinal)));
            return path;
        }
        string cache = Path.Join(dir, "plans.json");
        var runs = new[] { ("ref", "reference", "heuristic"), ("cold", "cudnn", "exhaustive"), ("warm", "cudnn", "cached") };
        foreach (var (tag, backend, policy) in runs)
        {
            string report = Path.Join(dir, $"report-{tag}.txt");
            var (code, stdout, stderr) = RunAgainstFakes(Path.Join(TestOutput, "GpuConv.Cli"),
                ["run", "--manifest", Manifest(tag), "--backend", backend, "--policy", policy, "--plan-cache", cache], report, TimeSpan.FromMinutes(10), dir);
            TestContext.Out.WriteLine($"[{tag}] " + stdout.Trim());
            Assert.That(code, Is.EqualTo(0), stdout + stderr);
            Assert.That(stdout, Does.Contain($"manifest: {cases.Length} cases, {cases.Length} ran, 0 bad input, 0 failed unexpectedly"), stdout + stderr);
            if (backend == "cudnn") Assert.That(Regex.Matches(stdout, @"case \d+: cudnn/").Count, Is.EqualTo(cases.Length), stdout);
            AssertCleanReport(report);
        }
        Assert.That(File.Exists(cache), Is.True, "the exhaustive run saved its plans");
        for (int i = 1; i <= cases.Length; i++)
        {
            var reference = GpuConv.Tensors.NpyFile.Read(Path.Join(dir, $"ref-{i}.npy"));
            foreach (var tag in new[] { "cold", "warm" })
            {
                var got = GpuConv.Tensors.NpyFile.Read(Path.Join(dir, $"{tag}-{i}.npy"));
                Assert.That(got.Shape, Is.EqualTo(reference.Shape), $"case {i} {tag}");
                double maxRef = reference.Data.Max(v => Math.Abs((double)v));
                double maxErr = reference.Data.Zip(got.Data, (a, b) => Math.Abs((double)a - b)).Max();
                Assert.That(maxErr / maxRef, Is.LessThan(1e-4), $"case {i} {tag}: max |error| {maxErr} against max |ref| {maxRef}");
            }
        }
    }

    static void AssertCleanReport(string report)
    {
        Assert.That(File.Exists(report), Is.True, "the fake driver writes its report at exit");
        string text = File.ReadAllText(report);
        TestContext.Out.WriteLine("fake driver at exit: " + text.Trim());
        Assert.That(text, Does.Contain("live_allocations=0 "), "every device allocation was freed or released with its context");
        Assert.That(text, Does.Contain("races=0"), "no stream race (see the RACE lines on stderr)");
        Assert.That(text, Does.Contain("wrong_context=0"), "no call that needed the primary context ran without it current (GPUCONV_FAKE_VERBOSE=1 names them)");
        // Written by the fake's backend (graph) API when the run created any backend descriptor.
        if (text.Contains("cudnn_backend_live=", StringComparison.Ordinal))
            Assert.That(text, Does.Not.Match(@"cudnn_backend_live=[1-9]"), "every cuDNN backend descriptor was destroyed");
    }

    (int Code, string Stdout, string Stderr) RunAgainstFakes(string program, string[] args, string report, TimeSpan limit, string? workingDirectory = null,
        Dictionary<string, string>? extra = null)
    {
        var env = NativeFakeChild.Environment(_fakes, report);
        // The fake JIT assembles PTX with NVIDIA's ptxas (BadPtxFailsWithTheJitLog needs it).
        if (NativeFakeChild.Ptxas() is { } ptxas) env["GPUCONV_PTXAS"] = ptxas;
        foreach (var (k, v) in extra ?? []) env[k] = v;
        return NativeFakeChild.Run(program, args, limit, env, workingDirectory);
    }

    static string TestHost() => NativeFakeChild.TestHost();
    static string LastLine(string text) => NativeFakeChild.LastLine(text);
    static (int Code, string Stdout, string Stderr) Run(string program, string[] args, TimeSpan limit) => NativeFakeChild.Run(program, args, limit);
}
