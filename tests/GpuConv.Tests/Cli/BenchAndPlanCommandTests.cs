namespace GpuConv.Tests.Cli;

/// <summary>
/// `gpuconv bench` and `gpuconv plan` end to end (in process). bench and plan write to the console, so
/// these tests swap Console.Out/Error and do not run in parallel with others that might.
/// </summary>
[NonParallelizable]
public class BenchAndPlanCommandTests
{
    static (int Exit, string Out, string Err) InvokeCapturingConsole(params string[] args) => CliHarness.InvokeCapturingConsole(args);

    // Category OnnxRuntime: needs ORT's native library, which the GPU-check pack leaves out (gpu-check.sh filters it).
    [Test, Category("OnnxRuntime")]
    public void BenchCsvAgainstOnnxRuntimeHasOneAgreeingRowPerShape()
    {
        using var h = new CliHarness();
        var (exit, output, error) = InvokeCapturingConsole("bench", "--backend", "cpu", "--shapes", "resnet50", "--limit", "2",
            "--vs", "onnxruntime", "--format", "csv", "--warmup", "0", "--repeat", "1", "--threads", "1", "--plan-cache", h.Path("plans.json"));
        Assert.That(exit, Is.EqualTo(0), output + error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var header = lines[0].Split(',');
        Assert.That(header, Is.SupersetOf(new[] { "name", "backend", "algorithm", "median_ms", "gflops", "plan_ms", "peer_ms", "ratio", "rel_err" }));
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.That(rows.Select(r => r[0]), Is.EqualTo(new[] { "conv1", "layer1.0.conv1" }));
        int relErr = Array.IndexOf(header, "rel_err"), ratio = Array.IndexOf(header, "ratio"), backend = Array.IndexOf(header, "backend");
        foreach (var r in rows)
        {
            Assert.That(r[backend], Is.EqualTo("cpu"));
            Assert.That(double.Parse(r[relErr], System.Globalization.CultureInfo.InvariantCulture), Is.LessThan(1e-4), "GpuConv and ONNX Runtime agree");
            Assert.That(double.Parse(r[ratio], System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThan(0));
        }
    }

    [Test]
    public void BenchWithCachedPolicyHitsThePlansAnExhaustiveRunStored()
    {
        using var h = new CliHarness();
        string[] common = ["bench", "--backend", "cpu", "--shapes", "resnet50", "--limit", "2", "--format", "csv", "--warmup", "0", "--repeat", "1",
            "--threads", "1", "--plan-cache", h.Path("plans.json")];
        var cold = InvokeCapturingConsole([.. common, "--policy", "exhaustive"]);
        Assert.That(cold.Exit, Is.EqualTo(0), cold.Out + cold.Err);
        Assert.That(cold.Out, Does.Contain(",exhaustive"));
        var warm = InvokeCapturingConsole([.. common, "--policy", "cached"]);
        Assert.That(warm.Exit, Is.EqualTo(0), warm.Out + warm.Err);
        Assert.That(warm.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Trim().Split(',')[7]), Is.All.EqualTo("cache"));
    }

    [Test]
    public void BenchRejectsAnUnavailableBackendWithTheReason()
    {
        var (exit, _, error) = InvokeCapturingConsole("bench", "--backend", "nope", "--shapes", "resnet50", "--limit", "1");
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error, Does.Contain("'nope' is not available").And.Contain("cpu"));
    }

    [Test]
    public void PlanExplainsEveryCandidateForEachRow()
    {
        using var h = new CliHarness();
        string csv = h.Path("two.csv");
        File.WriteAllText(csv, "name,n,c,h,w,k,r,s,stride_h,stride_w,pad_h,pad_w,dil_h,dil_w,groups\n" +
            "pw,1,8,6,6,4,1,1,1,1,0,0,1,1,1\ndw,1,8,6,6,8,3,3,1,1,1,1,1,1,8\n");
        var (exit, output, error) = InvokeCapturingConsole("plan", "--shapes", csv, "--plan-cache", h.Path("plans.json"));
        Assert.That(exit, Is.EqualTo(0), output + error);
        Assert.That(output, Does.Contain("pw").And.Contain("dw"));
        Assert.That(output, Does.Contain("gemm-1x1").And.Contain("direct-depthwise").And.Contain("naive-f64"));
        Assert.That(output.ToLowerInvariant(), Does.Contain("chosen"));
    }
    /// <summary>plan's --policy takes and shows the lower-case words run and bench take (it showed &lt;Cached|Exhaustive|Heuristic&gt;).</summary>
    [Test]
    public void PlanPolicyIsLowerCaseAsInRunAndBench()
    {
        var (exit, output, error) = InvokeCapturingConsole("plan", "--help");
        Assert.That(exit, Is.EqualTo(0), output + error);
        Assert.That(output, Does.Contain("--policy <cached|exhaustive|heuristic>").And.Contain("[default: heuristic]"));
        Assert.That(output, Does.Not.Contain("Heuristic"));

        using var h = new CliHarness();
        string csv = h.Path("one.csv");
        File.WriteAllText(csv, "name,n,c,h,w,k,r,s,stride_h,stride_w,pad_h,pad_w,dil_h,dil_w,groups\npw,1,8,6,6,4,1,1,1,1,0,0,1,1,1\n");
        (exit, output, error) = InvokeCapturingConsole("plan", "--shapes", csv, "--backend", "cpu", "--policy", "exhaustive", "--plan-cache", h.Path("plans.json"));
        Assert.That(exit, Is.EqualTo(0), output + error);
        Assert.That(output, Does.Contain("policy exhaustive"));
    }
}
