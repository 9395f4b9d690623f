using System.Diagnostics;
using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cli;

/// <summary>
/// Issue 14 through the CLI: the exact commands that crashed, exited 3, lost a file or stalled, now
/// exit 0 with a correct result or exit 2 naming the option. bench and plan write to the console, so
/// the console is captured and the fixture does not run in parallel.
/// </summary>
[NonParallelizable]
public class ReliabilityCliTests
{
    const string Header = "name,n,c,h,w,k,r,s,stride_h,stride_w,pad_h,pad_w,dil_h,dil_w,groups";

    static (int Exit, string Out, string Err) Cli(params string[] args) => CliHarness.InvokeCapturingConsole(args);

    static string[] RunArgs(CliHarness h, params string[] flags) =>
        ["run", "--x", h.Save("x.npy", HostTensor.Random(new TensorShape(1, 3, 8, 8), 1)), "--w", h.Save("w.npy", HostTensor.Random(new TensorShape(4, 3, 3, 3), 2)),
         "--out", h.Path("y.npy"), "--plan-cache", h.Path("plans.json"), .. flags];

    // Item 1 and 7: exit 134/3 before, garbage with exit 0 for the transposed one.
    [TestCase("--stride", "2147483647")]
    [TestCase("--stride", "1800000000")]
    public void HugeStrideRunsAndMatchesTheReference(string option, string value)
    {
        using var h = new CliHarness();
        var (exit, _, err) = Cli(RunArgs(h, option, value));
        Assert.That(exit, Is.EqualTo(0), err);
        var y = NpyFile.Read(h.Path("y.npy"));
        Assert.That(y.Shape, Is.EqualTo(new TensorShape(1, 4, 1, 1)));
        var p = ConvProblem.Create(new ConvSpec([3, 3], stride: [int.Parse(value, System.Globalization.CultureInfo.InvariantCulture)]), new TensorShape(1, 3, 8, 8), new TensorShape(4, 3, 3, 3));
        var reference = ReferenceConv.Forward(p, NpyFile.Read(h.Path("x.npy")).Data, NpyFile.Read(h.Path("w.npy")).Data);
        Assert.That(ErrorMetrics.Compare(y.Data, reference).MaxRelative, Is.LessThan(1e-6));
    }

    [TestCase(new[] { "--dilation", "2147483644", "--stride", "8" }, "dilation")]
    [TestCase(new[] { "--dilation", "2147483647" }, "dilation")]
    [TestCase(new[] { "--pad", "30000" }, "60006")]
    [TestCase(new[] { "--pad", "1073741823", "--stride", "1073741823" }, "too large")]
    public void ImpossibleGeometryExitsTwoNamingTheField(string[] flags, string fragment)
    {
        using var h = new CliHarness();
        var (exit, _, err) = Cli(RunArgs(h, flags));
        Assert.That(exit, Is.EqualTo(2), err);
        Assert.That(err, Does.StartWith("error: ").And.Contain(fragment).And.Not.Contain("unexpected"));
        Assert.That(File.Exists(h.Path("y.npy")), Is.False);
    }

    [Test]
    public void TransposedWithOverflowingDilationIsRefused()
    {
        using var h = new CliHarness();
        string[] args = ["run", "--x", h.Save("x.npy", HostTensor.Random(new TensorShape(1, 3, 8, 8), 1)), "--w", h.Save("w.npy", HostTensor.Random(new TensorShape(3, 4, 3, 3), 2)),
            "--out", h.Path("y.npy"), "--transposed", "--dilation", "2147483644", "--stride", "8", "--plan-cache", h.Path("plans.json")];
        var (exit, _, err) = Cli(args);
        Assert.That(exit, Is.EqualTo(2), err);
        Assert.That(err, Does.Contain("dilation"));
    }

    [Test]
    public void TransposedOutputPaddingBelowDilationRunsAsInPyTorch()
    {
        // Item 9: exit 2 "transposed geometry is inconsistent" before; torch returns [1,3,7,7].
        using var h = new CliHarness();
        var x = HostTensor.Random(new TensorShape(1, 2, 4, 4), 1);
        var w = HostTensor.Random(new TensorShape(2, 3, 2, 2), 2);
        var (exit, _, err) = Cli("run", "--x", h.Save("x.npy", x), "--w", h.Save("w.npy", w), "--out", h.Path("y.npy"),
            "--transposed", "--dilation", "2", "--output-padding", "1", "--plan-cache", h.Path("plans.json"));
        Assert.That(exit, Is.EqualTo(0), err);
        var y = NpyFile.Read(h.Path("y.npy"));
        Assert.That(y.Shape, Is.EqualTo(new TensorShape(1, 3, 7, 7)));
        var p = ConvProblem.Create(new ConvSpec([2, 2], dilation: [2], transposed: true, outputPadding: [1]), x.Shape, w.Shape);
        Assert.That(ErrorMetrics.Compare(y.Data, ReferenceConv.BackwardData(p, x.Data, w.Data)).MaxRelative, Is.LessThan(1e-6));
    }

    // Item 1 in shape files: the same values aborted bench, verify and demo.
    [TestCase("bench")]
    [TestCase("verify")]
    [TestCase("demo")]
    [TestCase("plan")]
    public void ImpossibleRowInAShapeFileExitsTwo(string command)
    {
        using var h = new CliHarness();
        string csv = h.Path("bad.csv");
        File.WriteAllText(csv, Header + "\nhuge,1,3,8,8,4,3,3,8,8,0,0,2147483644,2147483644,1\n");
        string[] args = command == "verify" ? ["verify", "--shapes", csv, "--shapes-only"] : [command, "--shapes", csv, "--plan-cache", h.Path("plans.json")];
        var (exit, _, err) = Cli(args);
        Assert.That(exit, Is.EqualTo(2), err);
        Assert.That(err, Does.StartWith("error: ").And.Contain("bad.csv line 2 (huge)").And.Contain("dilation"));
    }

    // Item 7: "unexpected" exit 3 before; the big row grew to 22.7 GB before it was killed.
    [Test]
    public void BenchBatchBeyondIntExitsTwoNamingBatch()
    {
        var (exit, _, err) = Cli("bench", "--shapes", "resnet50", "--limit", "1", "--batch", "2147483647");
        Assert.That(exit, Is.EqualTo(2), err);
        Assert.That(err, Does.Contain("--batch").And.Contain("2147483647"));
    }

    [Test]
    public void BenchBatchProductIsCheckedNotWrapped()
    {
        // n = 65536 times --batch 65537 wrapped to batch 65536 and was benchmarked silently.
        using var h = new CliHarness();
        string csv = h.Path("n.csv");
        File.WriteAllText(csv, Header + "\na,65536,1,8,8,1,3,3,1,1,1,1,1,1,1\n");
        var (exit, _, err) = Cli("bench", "--shapes", csv, "--batch", "65537", "--plan-cache", h.Path("plans.json"));
        Assert.That(exit, Is.EqualTo(2), err);
        Assert.That(err, Does.Contain("--batch").And.Contain("4295032832"));
    }

    [Test]
    public void AProblemThatCannotFitIsRefusedUpFrontWithItsEstimate()
    {
        using var h = new CliHarness();
        string csv = h.Path("big.csv");
        // 128 x 16000 x 16000 floats: 131 GB per tensor, more than any test machine holds.
        File.WriteAllText(csv, Header + "\nbig,1,8,16000,16000,8,3,3,1,1,1,1,1,1,1\n");
        var clock = Stopwatch.StartNew();
        var (exit, _, err) = Cli("bench", "--shapes", csv, "--vs", "onnxruntime", "--plan-cache", h.Path("plans.json"));
        Assert.That(exit, Is.EqualTo(2), err);
        Assert.That(err, Does.Contain("big").And.Contain("GiB").And.Contain("available"));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)), "refused before allocating");
    }

    // Item 8: one reader, one rule set, one error format for plan, bench, verify and demo.
    static IEnumerable<TestCaseData> BadCsvs()
    {
        yield return new TestCaseData(Header + ",extra\na,1,3,8,8,4,3,3,1,1,1,1,1,1,1,9\n", "header must be").SetName("ExtraColumn");
        yield return new TestCaseData(Header + "\na,1,3,8,8,4,3,3,1,1,1,1,1,1,1\na,1,3,8,8,4,3,3,1,1,1,1,1,1,1\n", "already used on line 2").SetName("DuplicateName");
        yield return new TestCaseData(Header + "\n,1,3,8,8,4,3,3,1,1,1,1,1,1,1\n", "field 'name' is empty").SetName("EmptyName");
        yield return new TestCaseData(Header + "\n", "header but no shape rows").SetName("HeaderOnly");
        yield return new TestCaseData(Header + "\na,1,3,8,8,4,3,x,1,1,1,1,1,1,1\n", "field 's' = 'x' is not an integer").SetName("NotAnInteger");
    }

    [TestCaseSource(nameof(BadCsvs))]
    public void EveryCommandRefusesTheSameBadCsvTheSameWay(string text, string fragment)
    {
        using var h = new CliHarness();
        string csv = h.Path("s.csv");
        File.WriteAllText(csv, text);
        var messages = new List<string>();
        foreach (var args in new[]
                 {
                     new[] { "plan", "--shapes", csv, "--plan-cache", h.Path("plans.json") },
                     ["bench", "--shapes", csv, "--plan-cache", h.Path("plans.json")],
                     ["verify", "--shapes", csv, "--shapes-only"],
                     ["demo", "--shapes", csv, "--plan-cache", h.Path("plans.json")],
                 })
        {
            var (exit, _, err) = Cli(args);
            Assert.That(exit, Is.EqualTo(2), $"{args[0]}: {err}");
            Assert.That(err, Does.StartWith("error: ").And.Contain(fragment), args[0]);
            messages.Add(err.Trim());
        }
        Assert.That(messages.Distinct().Count(), Is.EqualTo(1), "one message:\n" + string.Join("\n", messages));
    }

    [Test]
    public void UpperCaseHeaderIsAcceptedByEveryCommand()
    {
        using var h = new CliHarness();
        string csv = h.Path("u.csv");
        File.WriteAllText(csv, Header.ToUpperInvariant() + "\npw,1,4,5,5,4,1,1,1,1,0,0,1,1,1\n");
        Assert.That(Cli("plan", "--shapes", csv, "--plan-cache", h.Path("plans.json")).Exit, Is.EqualTo(0));
        Assert.That(Cli("bench", "--shapes", csv, "--plan-cache", h.Path("plans.json"), "--warmup", "0", "--repeat", "1").Exit, Is.EqualTo(0));
        Assert.That(Cli("verify", "--shapes", csv, "--shapes-only", "--backend", "cpu").Exit, Is.EqualTo(0));
        Assert.That(Cli("demo", "--shapes", csv, "--plan-cache", h.Path("plans.json")).Exit, Is.EqualTo(0));
    }

    // Item 10.
    [Test]
    public void UnknownBenchAlgorithmIsRefusedListingTheKnownOnes()
    {
        var (exit, _, err) = Cli("bench", "--shapes", "resnet50", "--limit", "1", "--algorithm", "nosuch");
        Assert.That(exit, Is.EqualTo(2), err);
        Assert.That(err, Does.Contain("--algorithm").And.Contain("nosuch").And.Contain("im2col-gemm"));
    }

    [Test]
    public void AFolderGivenAsXSaysItIsAFolder()
    {
        using var h = new CliHarness();
        var (exit, _, err) = Cli("run", "--x", h.Folder, "--w", h.Save("w.npy", HostTensor.Random(new TensorShape(4, 3, 3, 3), 2)), "--out", h.Path("y.npy"));
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(err, Does.Contain("--x").And.Contain("is a folder"));
    }

    // Item 3.
    [TestCase("/proc/y.npy")]
    [TestCase("")]
    [TestCase("/nonexistent-folder/y.npy")]
    public void UnwritableOutIsRefusedBeforeComputingNamingOut(string outPath)
    {
        using var h = new CliHarness();
        var args = RunArgs(h);
        args[Array.IndexOf(args, "--out") + 1] = outPath;
        var (exit, output, err) = Cli(args);
        Assert.That(exit, Is.EqualTo(2), err);
        Assert.That(err, Does.StartWith("error: --out"));
        Assert.That(output, Does.Not.Contain("backend:"), "nothing was computed");
    }

    [Test]
    public void OutFolderIsRefused()
    {
        using var h = new CliHarness();
        var args = RunArgs(h);
        args[Array.IndexOf(args, "--out") + 1] = h.Folder;
        var (exit, _, err) = Cli(args);
        Assert.That(exit, Is.EqualTo(2), err);
        Assert.That(err, Does.Contain("--out").And.Contain("is a folder"));
    }

    [Test]
    public void OutEqualToXSurvivesAFailedWrite()
    {
        // A full disk: a 256 KiB tmpfs holding x.npy, and an output (pad 100: 4 x 206 x 206 floats, 680 KB) that cannot fit.
        using var h = new CliHarness();
        using var small = TmpfsFolder.Small(256);
        var x = HostTensor.Random(new TensorShape(1, 3, 8, 8), 1);
        string xPath = small.File("x.npy");
        NpyFile.Write(xPath, x);
        byte[] before = File.ReadAllBytes(xPath);
        var (exit, _, err) = Cli("run", "--x", xPath, "--w", h.Save("w.npy", HostTensor.Random(new TensorShape(4, 3, 3, 3), 2)), "--out", xPath,
            "--pad", "100", "--plan-cache", h.Path("plans.json"));
        Assert.That(exit, Is.Not.EqualTo(0), err);
        Assert.That(File.ReadAllBytes(xPath), Is.EqualTo(before), "the input is left whole");
        Assert.That(Directory.GetFiles(small.Path), Is.EqualTo(new[] { xPath }), "no temporary file left behind");
    }

    // The habit: every command with a plan cache in a read-only folder, and in a folder that disappears.
    static IEnumerable<string[]> CacheCommands(string cache, string csv, string[] run)
    {
        yield return [.. run, "--plan-cache", cache];
        yield return ["bench", "--shapes", csv, "--warmup", "0", "--repeat", "1", "--plan-cache", cache];
        yield return ["plan", "--shapes", csv, "--policy", "exhaustive", "--plan-cache", cache];
        yield return ["demo", "--shapes", csv, "--plan-cache", cache];
        yield return ["verify", "--shapes", csv, "--shapes-only", "--backend", "cpu"]; // verify's cache comes from $GPUCONV_PLAN_CACHE
    }

    [Test]
    public void EveryCommandWithAReadOnlyPlanCacheFinishesFastAndWarnsOnce()
    {
        using var ro = TmpfsFolder.ReadOnly();
        using var h = new CliHarness();
        string csv = h.Path("s.csv");
        File.WriteAllText(csv, Header + "\na,1,4,6,6,4,3,3,1,1,1,1,1,1,1\nb,1,4,6,6,8,1,1,1,1,0,0,1,1,1\nc,1,4,7,7,4,3,3,2,2,1,1,1,1,1\n");
        string cache = ro.File("plans.json");
        var saved = Environment.GetEnvironmentVariable("GPUCONV_PLAN_CACHE");
        Environment.SetEnvironmentVariable("GPUCONV_PLAN_CACHE", cache);
        try
        {
            foreach (var args in CacheCommands(cache, csv, RunArgs(h)[..^2]))
            {
                var (exit, output, err) = Cli(args);
                Assert.That(exit, Is.EqualTo(0), $"{args[0]}: {output}{err}");
                // Waiting on the read-only cache would end in the lock timeout's warning; a wall-clock bound
                // here failed on a loaded 2-core machine (the commands themselves take seconds there).
                Assert.That(err, Does.Not.Contain("lock file within"), $"{args[0]} waited on the read-only cache");
                var warnings = err.Split('\n').Where(l => l.Contains("plans.json") && l.Contains("could not be written")).ToList();
                // bench (heuristic policy) and verify (every backend, no planner) remember nothing, so write nothing.
                Assert.That(warnings, Has.Count.EqualTo(args[0] is "bench" or "verify" ? 0 : 1), $"{args[0]} warns once:\n{err}");
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable("GPUCONV_PLAN_CACHE", saved);
        }
    }

    [Test]
    public void EveryCommandWithAPlanCacheFolderThatDisappearsMidRunSucceeds()
    {
        using var h = new CliHarness();
        string csv = h.Path("s.csv");
        File.WriteAllText(csv, Header + "\na,1,4,6,6,4,3,3,1,1,1,1,1,1,1\nb,1,4,6,6,8,1,1,1,1,0,0,1,1,1\nc,1,4,7,7,4,3,3,2,2,1,1,1,1,1\n");
        string folder = h.Path("cache");
        string cache = Path.Combine(folder, "plans.json");
        var saved = Environment.GetEnvironmentVariable("GPUCONV_PLAN_CACHE");
        Environment.SetEnvironmentVariable("GPUCONV_PLAN_CACHE", cache);
        using var stop = new CancellationTokenSource();
        // Deletes the folder over and over while the commands run.
        var remover = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                try { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); } catch (IOException) { }
                Thread.Sleep(1);
            }
        });
        try
        {
            foreach (var args in CacheCommands(cache, csv, RunArgs(h)[..^2]))
            {
                var (exit, output, err) = Cli(args);
                Assert.That(exit, Is.EqualTo(0), $"{args[0]}: {output}{err}");
                Assert.That(err, Does.Not.Contain("unexpected"));
            }
        }
        finally
        {
            stop.Cancel();
            remover.Wait();
            Environment.SetEnvironmentVariable("GPUCONV_PLAN_CACHE", saved);
        }
    }
}
