using System.Globalization;
using System.Text.RegularExpressions;
using GpuConv.Cli.Commands;
using GpuConv.Conv;
using GpuConv.Cuda.Discovery;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cli;

/// <summary>
/// `gpuconv bench --vs BACKEND`: a GpuConv backend as the peer, the per-kind summary (3x3, 1x1,
/// depthwise, other), and shape sets joined by '+'. cpu vs cpu stands in for ptx vs cudnn here (the
/// same code path: own inputs, own plan, interleaved timing, outputs compared); timing ratios are never
/// asserted, only the structure. Console-capturing, so not parallel.
/// </summary>
[NonParallelizable]
public class BenchVersusTests
{
    const string Header = "name,n,c,h,w,k,r,s,stride_h,stride_w,pad_h,pad_w,dil_h,dil_w,groups";
    // Old CSV columns, in their old order: scripts (torch_compare.py) read name and median_ms by header.
    const string OldCsvColumns = "name,class,backend,algorithm,median_ms,gflops,plan_ms,plan_source";

    static (int Exit, string Out, string Err) Cli(params string[] args) => CliHarness.InvokeCapturingConsole(args);

    /// <summary>Two small sets sharing the row name "c3": one shape of every kind, six in all.</summary>
    static (string A, string B) TwoSmallSets(CliHarness h)
    {
        string a = h.Path("neta.csv"), b = h.Path("netb.csv");
        File.WriteAllText(a, Header + "\n" +
            "c3,1,8,10,10,8,3,3,1,1,1,1,1,1,1\n" +     // 3x3
            "pw,1,8,10,10,16,1,1,1,1,0,0,1,1,1\n" +    // 1x1
            "dw,1,8,10,10,8,3,3,2,2,1,1,1,1,8\n" +     // depthwise (stride 2)
            "c5,1,4,9,9,6,5,5,1,1,2,2,1,1,1\n");       // other (5x5)
        File.WriteAllText(b, Header + "\n" +
            "c3,1,6,8,8,4,3,3,2,2,1,1,1,1,2\n" +       // 3x3, grouped (not depthwise)
            "proj,1,12,6,6,8,1,1,1,1,0,0,1,1,1\n");    // 1x1
        return (a, b);
    }

    static readonly Dictionary<string, string> ExpectedKinds = new()
    {
        ["neta/c3"] = "3x3", ["pw"] = "1x1", ["dw"] = "depthwise", ["c5"] = "other", ["netb/c3"] = "3x3", ["proj"] = "1x1",
    };

    static string[] Fast(CliHarness h) => ["--warmup", "1", "--repeat", "3", "--threads", "1", "--plan-cache", h.Path("plans.json")];

    [Test]
    public void CpuVersusCpuTablePrintsKindsAndTheByKindLine()
    {
        using var h = new CliHarness();
        var (a, b) = TwoSmallSets(h);
        var (exit, output, error) = Cli(["bench", "--backend", "cpu", "--vs", "cpu", "--shapes", $"{a}+{b}", .. Fast(h)]);
        Assert.That(exit, Is.EqualTo(0), output + error);
        Assert.That(output, Does.Contain("peer backend cpu"));
        foreach (var name in ExpectedKinds.Keys) Assert.That(output, Does.Contain(name));
        Assert.That(output, Does.Contain("cpu ms").And.Contain("cpu algorithm"), "the peer's columns are named after it");
        var lines = output.Split('\n', StringSplitOptions.TrimEntries);
        Assert.That(lines.Count(l => l.StartsWith("total ", StringComparison.Ordinal)), Is.EqualTo(1), "gpu-check.sh greps the 'total ' line");
        var byKind = lines.Where(l => l.StartsWith("geomean cpu/cpu by kind: ", StringComparison.Ordinal)).ToArray();
        Assert.That(byKind, Has.Length.EqualTo(1), output);
        const string R = @"\d+\.\d\dx";
        Assert.That(byKind[0], Does.Match(
            $@"^geomean cpu/cpu by kind: 3x3 {R} \(2 shapes\); 1x1 {R} \(2 shapes\); depthwise {R} \(1 shape\); other {R} \(1 shape\); all {R} \(6 shapes\)$"));
    }

    [Test]
    public void CpuVersusCpuCsvKeepsOldColumnsAppendsKindAndTheOutputsAgree()
    {
        using var h = new CliHarness();
        var (a, b) = TwoSmallSets(h);
        var (exit, output, error) = Cli(["bench", "--backend", "cpu", "--vs", "CPU", "--shapes", $"{a}+{b}", "--format", "csv", .. Fast(h)]);
        Assert.That(exit, Is.EqualTo(0), output + error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.That(lines[0], Does.StartWith(OldCsvColumns + ",peer,peer_ms,peer_gflops,ratio,rel_err,"), "old columns first, in their old order");
        var header = lines[0].Split(',');
        Assert.That(header[^2..], Is.EqualTo(new[] { "kind", "peer_algorithm" }), "new columns appended");
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.That(rows, Has.Length.EqualTo(6));
        int Col(string n) => Array.IndexOf(header, n);
        // torch_compare.py's reading: name and median_ms by header index.
        var medians = rows.ToDictionary(r => r[Col("name")], r => double.Parse(r[Col("median_ms")], CultureInfo.InvariantCulture));
        Assert.That(medians.Keys, Is.EquivalentTo(ExpectedKinds.Keys));
        Assert.That(medians.Values, Is.All.GreaterThan(0));
        foreach (var r in rows)
        {
            string name = r[Col("name")];
            Assert.That(r[Col("kind")], Is.EqualTo(ExpectedKinds[name]), name);
            Assert.That(r[Col("peer")], Is.EqualTo("cpu"), name);
            Assert.That(r[Col("peer_algorithm")], Is.Not.Empty.And.Not.EqualTo("-"), name);
            // The same backend on the same inputs: the outputs agree to fp32 rounding (max rel error, normwise).
            Assert.That(double.Parse(r[Col("rel_err")], CultureInfo.InvariantCulture), Is.LessThan(1e-6), name);
            Assert.That(double.Parse(r[Col("ratio")], CultureInfo.InvariantCulture), Is.GreaterThan(0), name);
        }
        Assert.That(error, Does.Contain("geomean cpu/cpu by kind: "), "csv keeps stdout clean; the summary goes to stderr");
    }

    [Test]
    public void EveryTableRunInOneProcessWritesToTheConsoleOfItsOwnCall()
    {
        // Spectre's static console keeps the first Console.Out it saw: a second table in the same process
        // went to the first call's writer, and this capture (as a script's pipe) got nothing.
        using var h = new CliHarness();
        string csv = h.Path("one.csv");
        File.WriteAllText(csv, Header + "\nc3,1,8,10,10,8,3,3,1,1,1,1,1,1,1\n");
        for (int run = 0; run < 2; run++)
        {
            var (exit, output, error) = Cli(["bench", "--backend", "cpu", "--vs", "cpu", "--shapes", csv, .. Fast(h)]);
            Assert.That(exit, Is.EqualTo(0), output + error);
            Assert.That(output, Does.Contain("geomean cpu/cpu by kind: 3x3 ").And.Contain("total "), $"run {run + 1}: {output}");
        }
    }

    [Test]
    public void AlgorithmAppliesToTheMainSideOnly()
    {
        using var h = new CliHarness();
        string csv = h.Path("one.csv");
        File.WriteAllText(csv, Header + "\nc3,1,8,10,10,8,3,3,1,1,1,1,1,1,1\n");
        Dictionary<string, string> Row(params string[] extra)
        {
            var (exit, output, error) = Cli(["bench", "--backend", "cpu", "--vs", "cpu", "--shapes", csv, "--format", "csv", .. Fast(h), .. extra]);
            Assert.That(exit, Is.EqualTo(0), output + error);
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return lines[0].Split(',').Zip(lines[1].Split(',')).ToDictionary(p => p.First, p => p.Second);
        }
        string planned = Row()["algorithm"];
        // Another algorithm the cpu backend has for a 3x3 (it has both of these).
        string forced = planned == "im2col-gemm" ? "shifted-gemm" : "im2col-gemm";
        var row = Row("--algorithm", forced);
        Assert.That(row["algorithm"], Is.EqualTo(forced));
        Assert.That(row["peer_algorithm"], Is.EqualTo(planned), "the peer runs its planner's choice");
        Assert.That(double.Parse(row["rel_err"], CultureInfo.InvariantCulture), Is.LessThan(1e-5), "two algorithms, one answer");
    }

    [Test]
    public void BothNetworksInOneCommandWithLimit()
    {
        using var h = new CliHarness();
        var (exit, output, error) = Cli(["bench", "--backend", "cpu", "--vs", "cpu", "--shapes", "resnet50+mobilenet_v2", "--limit", "2",
            "--format", "csv", "--warmup", "0", "--repeat", "1", "--threads", "1", "--plan-cache", h.Path("plans.json")]);
        Assert.That(exit, Is.EqualTo(0), output + error);
        var rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Skip(1).ToArray();
        Assert.That(rows.Select(r => r.Split(',')[0]), Is.EqualTo(new[] { "conv1", "layer1.0.conv1" }));
        Assert.That(error, Does.Match(@"geomean cpu/cpu by kind: 1x1 \d+\.\d\dx \(1 shape\); other \d+\.\d\dx \(1 shape\); all \d+\.\d\dx \(2 shapes\)"),
            "only the kinds present");
    }

    [Test]
    public void UnknownPeerIsRefusedNamingVsAndTheKnownNames()
    {
        var (exit, output, error) = Cli("bench", "--backend", "cpu", "--shapes", "resnet50", "--limit", "1", "--vs", "nosuch");
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error, Does.Contain("--vs").And.Contain("'nosuch'"));
        foreach (var known in new[] { "onnxruntime", "cudnn", "ptx", "cpu", "reference" })
            Assert.That(error, Does.Contain(known));
        Assert.That(output, Does.Not.Contain("total "), "refused before anything was timed");
    }

    [Test]
    public void UnavailablePeerIsBadInputWithTheReason()
    {
        var status = CudaDiscovery.Probe();
        if (status.CudnnAvailable) Assert.Ignore("cudnn is available on this machine, so it cannot be the unavailable peer");
        using var h = new CliHarness();
        var (exit, _, error) = Cli("bench", "--backend", "cpu", "--shapes", "resnet50", "--limit", "1", "--vs", "cudnn", "--plan-cache", h.Path("plans.json"));
        Assert.That(exit, Is.EqualTo(2), error);
        Assert.That(error, Does.Contain("--vs").And.Contain("'cudnn' is not available").And.Contain("available: cpu"));
        if (!status.IsAvailable) Assert.That(error, Does.Contain("GPU backends are off"));
    }

    [TestCase("resnet50+")]
    [TestCase("+mobilenet_v2")]
    [TestCase("resnet50+nosuch")]
    [TestCase("resnet50+resnet50")]
    [TestCase("resnet50+RESNET50.csv")]
    public void BadSetListIsRefusedNamingShapes(string shapes)
    {
        var e = Assert.Throws<ArgumentException>(() => BenchShapes.Load(shapes, 1))!;
        Assert.That(e.Message, Does.Contain("--shapes"));
        var (exit, _, error) = Cli("bench", "--backend", "cpu", "--shapes", shapes, "--limit", "1");
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error, Does.Contain("--shapes"));
    }

    [Test]
    public void JoinedSetsKeepEveryRowAndPrefixOnlySharedNames()
    {
        var both = BenchShapes.Load("resnet50+mobilenet_v2", 2);
        var resnet = BenchShapes.Load("resnet50", 1);
        var mobilenet = BenchShapes.Load("mobilenet_v2", 1);
        Assert.That(both.Select(s => s.Name), Is.EqualTo(resnet.Concat(mobilenet).Select(s => s.Name)), "no shared names: none prefixed, order kept");
        Assert.That(both.Select(s => s.Problem.N), Is.All.EqualTo(2), "--batch applies to every set");
        Assert.That(both.Select(s => s.Kind).Distinct(), Is.EquivalentTo(new[] { "3x3", "1x1", "depthwise", "other" }));

        using var h = new CliHarness();
        var (a, b) = TwoSmallSets(h);
        var shapes = BenchShapes.Load($"{a}+{b}", 1);
        Assert.That(shapes.Select(s => s.Name), Is.EqualTo(new[] { "neta/c3", "pw", "dw", "c5", "netb/c3", "proj" }));
        Assert.That(shapes.ToDictionary(s => s.Name, s => s.Kind), Is.EquivalentTo(ExpectedKinds));
    }

    [Test]
    public void AFileWhoseNameHasAPlusIsOneSet()
    {
        using var h = new CliHarness();
        string path = h.Path("a+b.csv");
        File.WriteAllText(path, Header + "\nx,1,4,6,6,4,1,1,1,1,0,0,1,1,1\n");
        Assert.That(BenchShapes.Load(path, 1).Select(s => s.Name), Is.EqualTo(new[] { "x" }));
    }

    static ConvProblem Problem(int c, int k, int[] kernel, int groups = 1, int[]? stride = null)
    {
        int[] spatial = [.. kernel.Select(_ => 9)];
        var spec = new ConvSpec(kernel, stride: stride, groups: groups);
        return ConvProblem.Create(spec, new TensorShape([1, c, .. spatial]), new TensorShape([k, c / groups, .. kernel]));
    }

    static IEnumerable<TestCaseData> KindCases()
    {
        yield return new TestCaseData(Problem(8, 8, [3, 3], groups: 8), "depthwise").SetName("Kind depthwise 3x3");
        yield return new TestCaseData(Problem(8, 16, [3, 3], groups: 8), "depthwise").SetName("Kind depthwise with channel multiplier 2");
        yield return new TestCaseData(Problem(8, 8, [5, 5], groups: 8, stride: [2, 2]), "depthwise").SetName("Kind depthwise 5x5 stride 2");
        yield return new TestCaseData(Problem(8, 8, [1, 1], groups: 8), "depthwise").SetName("Kind depthwise 1x1 is depthwise, not 1x1");
        yield return new TestCaseData(Problem(8, 16, [1, 1]), "1x1").SetName("Kind pointwise");
        yield return new TestCaseData(Problem(8, 16, [1, 1], stride: [2, 2]), "1x1").SetName("Kind pointwise stride 2");
        yield return new TestCaseData(Problem(8, 16, [1, 1, 1]), "3-d").SetName("Kind pointwise 3-d is 3-d, not 1x1");
        yield return new TestCaseData(Problem(8, 16, [1, 1], groups: 2), "1x1").SetName("Kind grouped pointwise");
        yield return new TestCaseData(Problem(8, 16, [3, 3]), "3x3").SetName("Kind 3x3");
        yield return new TestCaseData(Problem(8, 16, [3, 3], stride: [2, 2]), "3x3").SetName("Kind 3x3 stride 2");
        yield return new TestCaseData(Problem(8, 16, [3, 3], groups: 4), "3x3").SetName("Kind grouped 3x3 (groups below C)");
        yield return new TestCaseData(Problem(1, 4, [3, 3]), "3x3").SetName("Kind 3x3 with C 1 and groups 1");
        yield return new TestCaseData(Problem(3, 16, [7, 7], stride: [2, 2]), "other").SetName("Kind 7x7 stem");
        yield return new TestCaseData(Problem(8, 16, [5, 5]), "other").SetName("Kind 5x5");
        yield return new TestCaseData(Problem(8, 16, [3, 1]), "other").SetName("Kind 3x1");
        yield return new TestCaseData(Problem(8, 16, [3]), "1-d").SetName("Kind 1-d 3");
        yield return new TestCaseData(Problem(8, 8, [3], groups: 8), "1-d").SetName("Kind 1-d depthwise is 1-d");
        yield return new TestCaseData(Problem(8, 16, [3, 3, 3]), "3-d").SetName("Kind 3-d 3x3x3");
        yield return new TestCaseData(Problem(8, 16, [3, 3]).WithOp(ConvOp.BackwardData), "transposed").SetName("Kind transposed 3x3");
        yield return new TestCaseData(Problem(8, 16, [1, 1]).WithOp(ConvOp.BackwardData), "transposed").SetName("Kind transposed 1x1 is transposed, not 1x1");
        yield return new TestCaseData(Problem(8, 16, [3]).WithOp(ConvOp.BackwardData), "transposed").SetName("Kind transposed 1-d");
    }

    [TestCaseSource(nameof(KindCases))]
    public void ClassifiesKind(ConvProblem problem, string kind)
    {
        Assert.That(BenchKinds.Of(problem), Is.EqualTo(kind));
        Assert.That(new BenchShape("s", problem).Kind, Is.EqualTo(kind));
    }

    [Test]
    public void ByKindLineListsPresentKindsInOrderWithGeometricMeans()
    {
        static BenchResult R(ConvProblem p, double ours, double peer) =>
            new(new BenchShape("s", p), "ptx", "a", ours, 1, 0, GpuConv.Planning.PlanSource.Heuristic, peer, 1, 0, "cudnn", "b");
        var results = new[]
        {
            R(Problem(8, 8, [3, 3], groups: 8), 1, 2),   // depthwise 2.0
            R(Problem(8, 16, [1, 1]), 2, 1),             // 1x1 0.5
            R(Problem(8, 16, [1, 1]), 1, 2),             // 1x1 2.0 -> geomean 1.0
            R(Problem(8, 16, [3, 3]), 4, 1),             // 3x3 0.25
        };
        // all: (2 * 0.5 * 2 * 0.25)^(1/4) = 0.5^(1/4) = 0.8409
        Assert.That(BenchReport.ByKindLine(results),
            Is.EqualTo("geomean ptx/cudnn by kind: 3x3 0.25x (1 shape); 1x1 1.00x (2 shapes); depthwise 2.00x (1 shape); all 0.84x (4 shapes)"));
        Assert.Throws<ArgumentException>(() => BenchReport.ByKindLine([results[0] with { PeerMs = null }]));
    }

    // ---------------------------------------------------------------- GPU: the run the goals are judged on

    static void RequireGpuBackends()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        if (!status.CudnnAvailable) Assert.Ignore($"skipped: cuDNN not loadable: {status.CudnnReason}");
        if (!status.CublasAvailable) Assert.Ignore($"skipped: cuBLAS not loadable (the ptx backend needs it): {status.CublasReason}");
    }

    [Test, Category("Gpu")]
    public void PtxVersusCudnnAgreesOnEveryKind()
    {
        RequireGpuBackends();
        using var h = new CliHarness();
        var (a, b) = TwoSmallSets(h);
        var (exit, output, error) = Cli(["bench", "--backend", "ptx", "--vs", "cudnn", "--shapes", $"{a}+{b}", "--format", "csv",
            "--warmup", "2", "--repeat", "5", "--plan-cache", h.Path("plans.json")]);
        Assert.That(exit, Is.EqualTo(0), output + error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var header = lines[0].Split(',');
        int Col(string n) => Array.IndexOf(header, n);
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.That(rows.Select(r => r[Col("name")]), Is.EquivalentTo(ExpectedKinds.Keys));
        foreach (var r in rows)
        {
            Assert.That(r[Col("backend")], Is.EqualTo("ptx"));
            Assert.That(r[Col("peer")], Is.EqualTo("cudnn"));
            Assert.That(r[Col("kind")], Is.EqualTo(ExpectedKinds[r[Col("name")]]));
            Assert.That(double.Parse(r[Col("rel_err")], CultureInfo.InvariantCulture), Is.LessThan(1e-4), r[Col("name")]);
        }
        Assert.That(error, Does.Contain("geomean ptx/cudnn by kind: 3x3 "));
        TestContext.Out.WriteLine(error);
    }

    [Test, Category("Gpu")]
    public void GpuPeerOfACpuBackendComparesAcrossMemories()
    {
        RequireGpuBackends();
        using var h = new CliHarness();
        var (exit, output, error) = Cli(["bench", "--backend", "cpu", "--vs", "cudnn", "--shapes", "resnet50+mobilenet_v2", "--limit", "3",
            "--warmup", "1", "--repeat", "3", "--plan-cache", h.Path("plans.json")]);
        Assert.That(exit, Is.EqualTo(0), output + error);
        Assert.That(output, Does.Contain("peer backend cudnn").And.Contain("geomean cpu/cudnn by kind: "));
    }
}
