using System.Globalization;
using GpuConv.Cli.Commands;

namespace GpuConv.Tests.Cli;

/// <summary>
/// `gpuconv bench --vs onnxruntime` end to end on 1-d, 3-d and transposed rows (the N-d CSV form): each
/// kind summarized apart, ConvTranspose run by ORT against GpuConv's backward data, the outputs agreeing.
/// Timing ratios are never asserted. Console-capturing, so not parallel.
/// </summary>
[NonParallelizable]
public class BenchNdTests
{
    const string NdHeader = "name,n,c,spatial,k,kernel,stride,pad_begin,pad_end,dilation,groups,transposed,output_padding";

    static (int Exit, string Out, string Err) Cli(params string[] args) => CliHarness.InvokeCapturingConsole(args);

    static string[] Fast(CliHarness h) => ["--warmup", "1", "--repeat", "2", "--threads", "1", "--plan-cache", h.Path("plans.json")];

    static string SmallSet(CliHarness h)
    {
        string path = h.Path("nd.csv");
        File.WriteAllText(path, NdHeader + "\n" +
            "audio,1,4,200,8,10,5,0,0,1,1,0,0\n" +                    // 1-d
            "video,1,3,4x12x12,8,3x7x7,1x2x2,1x3x3,1x3x3,1,1,0,0\n" + // 3-d stem
            "up,1,8,5x6,4,3,2,1,1,1,2,1,1\n" +                        // ConvTranspose 3x3 s2 p1 op1, groups 2
            "gan,1,16,4x4,8,4,2,1,1,1,1,1,0\n" +                      // ConvTranspose 4x4 s2 p1
            "up3d,1,4,2x3x3,2,2,2,0,0,1,1,1,0\n");                    // ConvTranspose 3-d 2x2x2 s2
        return path;
    }

    [Test, Category("OnnxRuntime")]
    public void CsvAgainstOnnxRuntimeGivesEachRowItsKindAndAgreeingOutputs()
    {
        using var h = new CliHarness();
        var (exit, output, error) = Cli(["bench", "--backend", "cpu", "--vs", "onnxruntime", "--shapes", SmallSet(h), "--format", "csv", .. Fast(h)]);
        Assert.That(exit, Is.EqualTo(0), output + error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var header = lines[0].Split(',');
        int name = Array.IndexOf(header, "name"), kind = Array.IndexOf(header, "kind"), relErr = Array.IndexOf(header, "rel_err"),
            algorithm = Array.IndexOf(header, "algorithm"), peer = Array.IndexOf(header, "peer");
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToDictionary(r => r[name]);
        Assert.That(rows.Keys, Is.EqualTo(new[] { "audio", "video", "up", "gan", "up3d" }));
        Assert.That(rows.Values.Select(r => r[kind]), Is.EqualTo(new[] { "1-d", "3-d", "transposed", "transposed", "transposed" }));
        foreach (var (n, r) in rows)
        {
            Assert.That(r[peer], Is.EqualTo("onnxruntime"), n);
            Assert.That(double.Parse(r[relErr], CultureInfo.InvariantCulture), Is.LessThan(1e-4), $"{n}: GpuConv and ONNX Runtime agree");
        }
        // The transposed rows ran GpuConv's backward-data algorithms, not a forward one.
        Assert.That(new[] { "up", "gan", "up3d" }.Select(n => rows[n][algorithm]), Has.None.EqualTo("im2col-gemm"));
        Assert.That(error, Does.Contain("geomean cpu/onnxruntime by kind: 1-d ").And.Contain("; 3-d ").And.Contain("; transposed ").And.Contain("(3 shapes); all "));
    }

    [Test, Category("OnnxRuntime")]
    public void TableOfBuiltInSetsSummarizesTheNewKindsApartFromTheTwoDimensionalOnes()
    {
        using var h = new CliHarness();
        var (exit, output, error) = Cli(["bench", "--backend", "cpu", "--vs", "onnxruntime", "--shapes", "resnet18+dcgan_generator", "--limit", "1", .. Fast(h)]);
        Assert.That(exit, Is.EqualTo(0), output + error);
        Assert.That(output, Does.Contain("geomean cpu/onnxruntime by kind: other ").And.Contain("all "));
        (exit, output, error) = Cli(["bench", "--backend", "cpu", "--vs", "onnxruntime", "--shapes", "dcgan_generator+r3d_18", "--limit", "2", .. Fast(h)]);
        Assert.That(exit, Is.EqualTo(0), output + error);
        var byKind = output.Split('\n', StringSplitOptions.TrimEntries).Single(l => l.StartsWith("geomean cpu/onnxruntime by kind: ", StringComparison.Ordinal));
        Assert.That(byKind, Does.Match(@"^geomean cpu/onnxruntime by kind: transposed \d+\.\d\dx \(2 shapes\); all \d+\.\d\dx \(2 shapes\)$"));
        Assert.That(output, Does.Contain("main.0").And.Contain("main.3"));
    }

    [Test, Category("OnnxRuntime")]
    public void ThreeDimensionalRowOfTheBuiltInSetRunsAgainstOnnxRuntime()
    {
        using var h = new CliHarness();
        // r3d_18's last block at batch 1 (512 channels, 2x7x7): small enough for a test, a real 3x3x3 layer.
        string path = h.Path("r3d_tail.csv");
        File.WriteAllText(path, NdHeader + "\nlayer4.1.conv2.0,1,512,2x7x7,512,3,1,1,1,1,1,0,0\n");
        var (exit, output, error) = Cli(["bench", "--backend", "cpu", "--vs", "onnxruntime", "--shapes", path, "--format", "csv", .. Fast(h)]);
        Assert.That(exit, Is.EqualTo(0), output + error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var header = lines[0].Split(',');
        var row = lines[1].Split(',');
        Assert.That(row[Array.IndexOf(header, "kind")], Is.EqualTo("3-d"));
        Assert.That(double.Parse(row[Array.IndexOf(header, "rel_err")], CultureInfo.InvariantCulture), Is.LessThan(1e-4));
    }

    [Test]
    public void ATransposedRowAgainstACpuPeerComparesTheTransposedOutputs()
    {
        using var h = new CliHarness();
        var (exit, output, error) = Cli(["bench", "--backend", "cpu", "--vs", "reference", "--shapes", SmallSet(h), "--format", "csv", .. Fast(h)]);
        Assert.That(exit, Is.EqualTo(0), output + error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var header = lines[0].Split(',');
        int relErr = Array.IndexOf(header, "rel_err"), peerAlgorithm = Array.IndexOf(header, "peer_algorithm");
        foreach (var row in lines.Skip(1).Select(l => l.Split(',')))
        {
            Assert.That(double.Parse(row[relErr], CultureInfo.InvariantCulture), Is.LessThan(1e-4), row[0]);
            Assert.That(row[peerAlgorithm], Is.Not.EqualTo("-"), row[0]);
        }
    }

    [Test]
    public void BenchShapeOfATransposedRowIsTransposed()
    {
        var shapes = BenchShapes.Load("erfnet_decoder", 2);
        Assert.That(shapes.Select(s => s.Transposed), Is.All.True);
        Assert.That(shapes.Select(s => s.Kind), Is.All.EqualTo(BenchKinds.Transposed));
        Assert.That(shapes.Select(s => s.Class), Is.All.EqualTo(BenchKinds.Transposed));
        Assert.That(shapes[0].Problem.N, Is.EqualTo(2));
    }
}
