using GpuConv.Tensors;

namespace GpuConv.Tests.Cli;

/// <summary>The other commands end to end, and the error contract: bad input is one line and exit code 2.</summary>
public class CliCommandTests
{
    [Test]
    public void DemoOnTwoLayersPassesAndPrintsTheTable()
    {
        var (exit, output, error) = CliHarness.Invoke("demo", "--limit", "2");
        Assert.That(exit, Is.EqualTo(0), output + error);
        Assert.That(output, Does.Contain("conv1").And.Contain("layer1.0.conv1").And.Not.Contain("layer1.0.conv2"));
        Assert.That(output, Does.Contain("demo: resnet50, 2 layers, batch 1").And.Contain("all layers match the float64 reference"));
    }

    [Test]
    public void DemoRunsAShapeFileAtTheBatchAsked()
    {
        using var h = new CliHarness();
        string csv = h.Path("two.csv");
        File.WriteAllText(csv, "name,n,c,h,w,k,r,s,stride_h,stride_w,pad_h,pad_w,dil_h,dil_w,groups\n" +
            "small,1,4,9,9,6,3,3,2,2,1,1,1,1,2\nbig,1,32,28,28,32,3,3,1,1,1,1,1,1,1\n");
        var (exit, output, error) = CliHarness.Invoke("demo", "--shapes", csv, "--batch", "2");
        Assert.That(exit, Is.EqualTo(0), output + error);
        Assert.That(output, Does.Contain("n2 4x9x9->6 k3x3 s2x2 p1x1 g2").And.Contain("full").And.Contain("64 samples"));
    }

    [Test]
    public void VerifyPassesTheBuiltInSetOnEveryBackend()
    {
        var (exit, output, error) = CliHarness.Invoke("verify");
        Assert.That(exit, Is.EqualTo(0), output + error);
        int backends;
        using (var all = GpuConv.Cli.Execution.CliBackends.Open(null)) backends = all.All.Count;
        Assert.That(backends, Is.GreaterThanOrEqualTo(2), "cpu and reference at least");
        Assert.That(output, Does.Contain($"verify: {48 * backends} passed, 0 failed"));
        Assert.That(output, Does.Contain("BackwardFilter").And.Contain("3d transposed s2").And.Contain("2d depthwise"));
    }

    [Test]
    public void VerifyAddsAShapeFileWithTheBatchCapped()
    {
        using var h = new CliHarness();
        string csv = h.Path("one.csv");
        File.WriteAllText(csv, "name,n,c,h,w,k,r,s,stride_h,stride_w,pad_h,pad_w,dil_h,dil_w,groups\nrow,16,3,6,6,4,3,3,1,1,1,1,1,1,1\n");
        var (exit, output, error) = CliHarness.Invoke("verify", "--shapes", csv, "--shapes-only", "--max-batch", "3", "--backend", "reference");
        Assert.That(exit, Is.EqualTo(0), output + error);
        Assert.That(output, Does.Contain("n3 3x6x6->4").And.Contain("verify: 3 passed, 0 failed"));
    }

    [Test]
    public void DevicesReportsTheCpuAndWhyThereIsNoGpu()
    {
        var (exit, output, _) = CliHarness.Invoke("devices");
        Assert.That(exit, Is.EqualTo(0));
        Assert.That(output, Does.Contain($"CPU: {Environment.ProcessorCount} logical cores").And.Contain("CPU SIMD:").And.Contain("GPU: "));
    }

    /// <summary>Input files for the bad-input cases: a 2-d problem x [1,4,5,5], w [2,4,3,3].</summary>
    static (CliHarness H, string[] Base) Files()
    {
        var h = new CliHarness();
        string x = h.Save("x.npy", HostTensor.Random(new TensorShape(1, 4, 5, 5), 1));
        string w = h.Save("w.npy", HostTensor.Random(new TensorShape(2, 4, 3, 3), 2));
        return (h, ["run", "--x", x, "--w", w, "--out", h.Path("y.npy")]);
    }

    [TestCase("--stride 0", "--stride: every value must be >= 1, got 0")]
    [TestCase("--stride 1,2,3", "--stride: expected 1 or 2 values")]
    [TestCase("--stride two", "--stride: 'two' (item 1 of 'two') is not an integer")]
    [TestCase("--pads 1,2,3", "--pads: expected 1 or 4 values")]
    [TestCase("--pads 1 --pad 1", "--pads and --pad are alternatives")]
    [TestCase("--dilation -1", "--dilation: every value must be >= 1")]
    [TestCase("--groups 3", "input channels 4 must be divisible by groups 3")]
    [TestCase("--groups 0", "--groups: must be >= 1")]
    [TestCase("--groups x", "--groups")]
    [TestCase("--output-padding 1", "--output-padding applies only to a transposed convolution")]
    [TestCase("--backend nope", "--backend: 'nope' is not available")]
    [TestCase("--stride 9 --pad 0 --dilation 3", "output size in spatial dimension 0 would be 0 (< 1)")]
    [TestCase("--pad same --stride 2", "--pad same: needs stride 1 in every dimension")]
    [TestCase("--pad same --pads 1", "--pads and --pad are alternatives")]
    [TestCase("--pad valid --transposed", "--pad valid: a transposed convolution takes padding as numbers")]
    [TestCase("--pad sme", "--pad: 'sme' (item 1 of 'sme') is not an integer")]
    [TestCase("--bogus 1", "Unrecognized command or argument '--bogus'")]
    public void BadOptionsExitTwoWithOneLineNamingTheField(string flags, string message)
    {
        var (h, args) = Files();
        using var _ = h;
        var (exit, output, error) = CliHarness.Invoke([.. args, .. flags.Split(' ')]);
        Assert.That(exit, Is.EqualTo(2), output + error);
        Assert.That(error, Does.StartWith("error: ").And.Contain(message));
        Assert.That(error, Does.Not.Contain("   at "), "no stack trace");
        Assert.That(File.Exists(h.Path("y.npy")), Is.False, "nothing written on bad input");
    }

    [Test]
    public void BadFilesExitTwoNamingTheOption()
    {
        var (h, args) = Files();
        using var _ = h;
        File.WriteAllText(h.Path("junk.npy"), "not numpy");
        h.Save("b3.npy", new HostTensor(new TensorShape(3), [1, 2, 3]));
        h.Save("x2d.npy", new HostTensor(new TensorShape(4, 5)));
        string[][] cases =
        [
            ["run", "--x", h.Path("missing.npy"), "--w", args[4], "--out", h.Path("y.npy")],
            ["run", "--x", h.Path("junk.npy"), "--w", args[4], "--out", h.Path("y.npy")],
            ["run", "--x", h.Path("x2d.npy"), "--w", args[4], "--out", h.Path("y.npy")],
            [.. args, "--b", h.Path("b3.npy")],
            ["run", "--x", args[2], "--w", args[4], "--out", h.Path("no-such-folder/y.npy")],
            ["run", "--x", args[2], "--w", args[4]],
        ];
        string[] messages =
        [
            "--x: file '", "--x: ", "--x: expected 3, 4 or 5 dimensions", "--b: has 3 values (shape [3]) but the output has 2 channels",
            "--out: cannot write", "Option '--out' is required",
        ];
        for (int i = 0; i < cases.Length; i++)
        {
            var (exit, output, error) = CliHarness.Invoke(cases[i]);
            Assert.That(exit, Is.EqualTo(2), $"case {i}: {output}{error}");
            Assert.That(error, Does.StartWith("error: ").And.Contain(messages[i]), $"case {i}");
            Assert.That(error, Does.Not.Contain("   at "), "no stack trace");
        }
        Assert.That(CliHarness.Invoke(cases[1]).Err, Does.Contain("not a .npy file"));
    }

    [Test]
    public void NonParseErrorsAreExactlyOneLine()
    {
        var (h, args) = Files();
        using var _ = h;
        var (_, _, error) = CliHarness.Invoke([.. args, "--stride", "0"]);
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public void VerifyAndDemoRejectBadShapeSourcesWithExitTwo()
    {
        var (exit, _, error) = CliHarness.Invoke("verify", "--shapes", "no-such-set");
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error, Does.Contain("--shapes: 'no-such-set' is neither a built-in shape set"));
        (exit, _, error) = CliHarness.Invoke("demo", "--limit", "0");
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error, Does.Contain("--limit: must be >= 1"));
    }

    [TestCase("0")]
    [TestCase("-5")]
    public void VerifyRefusesABadMaxBatchEvenWithoutShapes(string cap)
    {
        // Without --shapes the cap was never read, so a bad value ran the whole built-in set and exited 0.
        var (exit, output, error) = CliHarness.Invoke("verify", "--max-batch", cap, "--backend", "reference");
        Assert.That(exit, Is.EqualTo(2), output + error);
        Assert.That(error, Does.Contain($"--max-batch: must be >= 1, got {cap}"));
        Assert.That(output, Does.Not.Contain("verify:"), "refused before any case ran");
    }
}
