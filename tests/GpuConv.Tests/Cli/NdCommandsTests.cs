namespace GpuConv.Tests.Cli;

/// <summary>
/// The other commands that read shape sets (plan, verify, demo, probe's plan-start) on N-d and transposed
/// rows: each runs a transposed row's own pass (the underlying convolution's backward data), never the
/// underlying forward by mistake. Console-capturing, so not parallel.
/// </summary>
[NonParallelizable]
public class NdCommandsTests
{
    const string NdHeader = "name,n,c,spatial,k,kernel,stride,pad_begin,pad_end,dilation,groups,transposed,output_padding";

    static string Csv(CliHarness h)
    {
        string path = h.Path("nd.csv");
        File.WriteAllText(path, NdHeader + "\nup,1,8,5x6,4,3,2,1,1,1,2,1,1\naudio,1,4,50,8,5,2,0,0,1,1,0,0\n");
        return path;
    }

    [Test]
    public void PlanOpNamesTheLayersPass()
    {
        using var h = new CliHarness();
        string csv = Csv(h);
        var (exit, output, error) = CliHarness.InvokeCapturingConsole("plan", "--shapes", csv, "--backend", "cpu", "--plan-cache", h.Path("plans.json"));
        Assert.That(exit, Is.EqualTo(0), output + error);
        // The transposed layer's forward is backward data of its underlying convolution (X 4x10x12, Y 8x5x6).
        Assert.That(output, Does.Contain("== up\nBackwardData x[1, 4, 10, 12] w[8, 2, 3, 3] y[1, 8, 5, 6]"));
        Assert.That(output, Does.Contain("== audio\nForward x[1, 4, 50]"));
        (exit, output, error) = CliHarness.InvokeCapturingConsole("plan", "--shapes", csv, "--backend", "cpu", "--op", "BackwardData", "--plan-cache", h.Path("plans.json"));
        Assert.That(exit, Is.EqualTo(0), output + error);
        Assert.That(output, Does.Contain("== up\nForward x[1, 4, 10, 12]"), "the transposed layer's input gradient is the underlying forward");
        Assert.That(output, Does.Contain("== audio\nBackwardData x[1, 4, 50]"));
    }

    [Test]
    public void VerifyRunsATransposedRowsOwnPassFirstAndEveryOpAgainstTheReference()
    {
        using var h = new CliHarness();
        var (exit, output, error) = CliHarness.InvokeCapturingConsole("verify", "--shapes", Csv(h));
        Assert.That(exit, Is.EqualTo(0), output + error);
        var upOps = output.Split('\n').Where(l => l.Contains("│ up ", StringComparison.Ordinal)).Select(l => l.Split('│')[2].Trim()).Distinct().ToArray();
        Assert.That(upOps, Is.EqualTo(new[] { "BackwardData", "Forward", "BackwardFilter" }));
        Assert.That(output, Does.Contain(" 0 failed"));
    }

    [Test]
    public void DemoRunsTransposedAndOneDimensionalRowsAndChecksThem()
    {
        using var h = new CliHarness();
        var (exit, output, error) = CliHarness.InvokeCapturingConsole("demo", "--shapes", Csv(h));
        Assert.That(exit, Is.EqualTo(0), output + error);
        // demo plans on whatever device the engine finds: cpu here, cudnn on a GPU host (gpu-check.sh runs this test there too).
        var up = output.Split('\n').Single(l => l.Contains("│ up ", StringComparison.Ordinal));
        Assert.That(up, Does.Match(@"│ (cpu/(gemm-col2im|gemm-1x1)|cudnn/(ALGO_\d|FFT|FFT_TILING|WINOGRAD|WINOGRAD_NONFUSED|GRAPH_\S+)|ptx/gemm-col2im) "),
            "the transposed row ran a backward-data algorithm");
        Assert.That(output, Does.Contain("all layers match the float64 reference"));
    }

    [Test]
    public void ProbePlanStartOfATransposedSetRunsWhatItPlanned()
    {
        var (exit, output, error) = CliHarness.Invoke("probe", "--backend", "cpu", "--shapes", "dcgan_generator", "--calls", "20");
        Assert.That(exit, Is.EqualTo(0), output + error);
        // Every first run finds its plan in the cache: the run is the planned problem (backward data), not another.
        Assert.That(output, Does.Contain("5 of 5 plans from the cache"));
    }
}
