using System.Text.Json;
using GpuConv.Cli;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cli;

/// <summary>
/// `gpuconv run --manifest cases.jsonl`: many convolutions in one process. Each good case must equal
/// the float64 reference of the spec PyTorch would be given (written here, not derived from the CLI);
/// a bad case prints its own error line and does not stop the others; the exit status is 2 when any
/// case was bad input. Every run uses a temporary plan cache.
/// </summary>
public class RunManifestTests
{
    /// <summary>A manifest case: the JSON object's fields beyond the paths, and the spec they mean.</summary>
    sealed record Case(string Name, int[] X, int[] W, bool Bias, Dictionary<string, object> Fields, ConvSpec Spec);

    static readonly Case[] GoodCases =
    [
        new("2-d stride asymmetric pads bias", [2, 3, 9, 8], [4, 3, 3, 2], true,
            new() { ["stride"] = new[] { 2, 1 }, ["pads"] = new[] { 1, 0, 0, 1 }, ["dilation"] = new[] { 1, 1 }, ["groups"] = 1, ["transposed"] = false, ["output_padding"] = new[] { 0, 0 } },
            new ConvSpec([3, 2], stride: [2, 1], padBegin: [1, 0], padEnd: [0, 1])),
        new("depthwise, scalars for lists", [1, 4, 7, 7], [8, 1, 3, 3], false,
            new() { ["stride"] = 2, ["pads"] = 1, ["groups"] = 4 },
            new ConvSpec([3, 3], stride: [2], padBegin: [1], groups: 4)),
        new("1-d transposed output_padding groups dilation", [2, 4, 6], [4, 3, 3], true,
            new() { ["stride"] = new[] { 3 }, ["pads"] = new[] { 1, 2 }, ["dilation"] = new[] { 2 }, ["groups"] = 2, ["transposed"] = true, ["output_padding"] = new[] { 2 } },
            new ConvSpec([3], stride: [3], dilation: [2], padBegin: [1], padEnd: [2], groups: 2, transposed: true, outputPadding: [2])),
        new("3-d per-dimension geometry", [1, 2, 5, 6, 5], [3, 2, 2, 3, 2], true,
            new() { ["stride"] = new[] { 1, 2, 1 }, ["pads"] = new[] { 1, 0, 1, 0, 1, 0 }, ["dilation"] = new[] { 1, 1, 2 } },
            new ConvSpec([2, 3, 2], stride: [1, 2, 1], dilation: [1, 1, 2], padBegin: [1, 0, 1], padEnd: [0, 1, 0])),
    ];

    sealed class Manifest : IDisposable
    {
        public CliHarness Files { get; } = new();
        public List<string> Lines { get; } = [];
        public List<(string Out, TensorShape Shape, double[] Reference)> Expected { get; } = [];

        /// <summary>Adds a good case: random inputs saved as .npy, and its float64 reference output.</summary>
        public void Add(Case c)
        {
            int i = Lines.Count;
            var x = HostTensor.Random(new TensorShape(c.X), seed: 10 + i);
            var w = HostTensor.Random(new TensorShape(c.W), seed: 20 + i);
            var problem = ConvProblem.Create(c.Spec, x.Shape, w.Shape);
            var b = c.Bias ? HostTensor.Random(new TensorShape(problem.BiasLength), seed: 30 + i) : null;
            var fields = new Dictionary<string, object?>
            {
                ["x"] = Files.Save($"x{i}.npy", x), ["w"] = Files.Save($"w{i}.npy", w),
                ["b"] = b is null ? null : Files.Save($"b{i}.npy", b), ["out"] = Files.Path($"y{i}.npy"),
            };
            foreach (var (k, v) in c.Fields) fields[k] = v;
            Lines.Add(JsonSerializer.Serialize(fields));
            var reference = c.Spec.Transposed
                ? ReferenceConv.BackwardData(problem, x.Data, w.Data, b is null ? default : b.Data)
                : ReferenceConv.Forward(problem, x.Data, w.Data, b is null ? default : b.Data);
            Expected.Add((Files.Path($"y{i}.npy"), problem.OutputShape, [.. reference]));
        }

        public (int Exit, string[] Out, string Err) Run(params string[] extra)
        {
            string path = Files.Path("cases.jsonl");
            File.WriteAllLines(path, Lines);
            var (exit, output, error) = CliHarness.Invoke(["run", "--manifest", path, "--backend", "cpu", "--plan-cache", Files.Path("plans.json"), .. extra]);
            return (exit, output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), error);
        }

        public void Dispose() => Files.Dispose();
    }

    static void AssertMatchesReference((string Out, TensorShape Shape, double[] Reference) expected)
    {
        var y = NpyFile.Read(expected.Out);
        Assert.That(y.Shape, Is.EqualTo(expected.Shape), expected.Out);
        Assert.That(ErrorMetrics.Compare(y.Data, expected.Reference).MaxRelative, Is.LessThan(1e-5), expected.Out);
    }

    [Test]
    public void GoodManifestRunsEveryCaseAgainstTheReference()
    {
        using var m = new Manifest();
        foreach (var c in GoodCases) m.Add(c);
        m.Lines.Insert(2, "   ");   // blank lines are skipped, not cases

        var (exit, lines, error) = m.Run("--policy", "heuristic");

        Assert.That(exit, Is.EqualTo(0), string.Join("\n", lines) + error);
        Assert.That(lines, Has.Length.EqualTo(GoodCases.Length + 1), "one line per case, then the summary");
        for (int i = 0; i < GoodCases.Length; i++)
        {
            Assert.That(lines[i], Does.StartWith($"case {i}: cpu/").And.Contain(" ms -> ").And.Contain(m.Expected[i].Shape.ToString()), GoodCases[i].Name);
            AssertMatchesReference(m.Expected[i]);
        }
        Assert.That(lines[^1], Is.EqualTo($"manifest: {GoodCases.Length} cases, {GoodCases.Length} ran, 0 bad input, 0 failed unexpectedly"));
    }

    [Test]
    public void BadManifestReportsEveryCaseByLineAndKey()
    {
        using var m = new Manifest();
        m.Add(GoodCases[0]);
        string good = m.Lines[0];
        var obj = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(good)!;
        string With(string key, object? value)
        {
            var copy = obj.ToDictionary(kv => kv.Key, kv => (object?)kv.Value);
            copy[key] = value;
            return JsonSerializer.Serialize(copy);
        }
        string Without(string key) => JsonSerializer.Serialize(obj.Where(kv => kv.Key != key).ToDictionary());
        (string Line, string Message)[] bad =
        [
            ("{not json", "line 1: "),
            ("[1, 2]", "expected a JSON object"),
            (With("strides", 2), "unknown key 'strides'"),
            (Without("x"), "x: missing"),
            (With("x", Path.Combine(m.Files.Folder, "nope.npy")), "x: file '"),
            (With("stride", new[] { 0, 1 }), "stride: every value must be >= 1"),
            (With("pads", new[] { 1, 2, 3 }), "pads: expected 1 or 4 values"),
            (With("groups", "2"), "groups: expected an integer"),
            (With("output_padding", new[] { 1, 0 }), "--output-padding applies only to a transposed convolution"),
            (With("b", m.Files.Save("b7.npy", new HostTensor(new TensorShape(7)))), "b: has 7 values"),
            (With("out", Path.Combine(m.Files.Folder, "no-such-folder", "y.npy")), "out: cannot write"),
        ];
        m.Lines.Clear();
        m.Lines.AddRange(bad.Select(b => b.Line));

        var (exit, lines, error) = m.Run();

        Assert.That(exit, Is.EqualTo(2), string.Join("\n", lines) + error);
        Assert.That(lines, Has.Length.EqualTo(bad.Length + 1));
        for (int i = 0; i < bad.Length; i++)
        {
            Assert.That(lines[i], Does.StartWith($"case {i}: error: line {i + 1}: ").And.Contain(bad[i].Message), $"case {i}: {bad[i].Line}");
            Assert.That(lines[i], Does.Not.Contain("   at "));
        }
        Assert.That(lines[^1], Is.EqualTo($"manifest: {bad.Length} cases, 0 ran, {bad.Length} bad input, 0 failed unexpectedly"));
        Assert.That(Directory.GetFiles(m.Files.Folder, "y*.npy"), Is.Empty, "no bad case wrote an output");
    }

    [Test]
    public void ACaseWritingAnEarlierCasesOutputIsBadInput_AndTheEarlierResultIsKept()
    {
        // The later case replaced the earlier case's result without a word (a copied line, out not changed).
        using var m = new Manifest();
        m.Add(GoodCases[0]);
        m.Add(GoodCases[1]);
        var second = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(m.Lines[1])!.ToDictionary(kv => kv.Key, kv => (object?)kv.Value);
        second["out"] = m.Expected[0].Out;
        m.Lines[1] = JsonSerializer.Serialize(second);

        var (exit, lines, error) = m.Run();

        Assert.That(exit, Is.EqualTo(2), string.Join("\n", lines) + error);
        Assert.That(lines[0], Does.StartWith("case 0: cpu/"));
        Assert.That(lines[1], Does.StartWith("case 1: error: line 2: out: ").And.Contain("already written by case 0 (line 1)"));
        AssertMatchesReference(m.Expected[0]);
    }

    [Test]
    public void AChainMayWriteOverAnOutputItRead()
    {
        // x -> t.npy, then t.npy -> t.npy (in place, as --out may name the input): both run.
        using var m = new Manifest();
        m.Files.Save("x.npy", HostTensor.Random(new TensorShape(1, 2, 6, 6), seed: 1));
        m.Files.Save("w.npy", HostTensor.Random(new TensorShape(2, 2, 3, 3), seed: 2));
        string t = m.Files.Path("t.npy");
        m.Lines.Add(JsonSerializer.Serialize(new { x = m.Files.Path("x.npy"), w = m.Files.Path("w.npy"), pads = 1, @out = t }));
        m.Lines.Add(JsonSerializer.Serialize(new { x = t, w = m.Files.Path("w.npy"), pads = 1, @out = t }));

        var (exit, lines, error) = m.Run();

        Assert.That(exit, Is.EqualTo(0), string.Join("\n", lines) + error);
        Assert.That(lines[1], Does.StartWith("case 1: cpu/"));
    }

    [Test]
    public void MixedManifestRunsTheGoodCasesAndExitsTwo()
    {
        using var m = new Manifest();
        m.Add(GoodCases[0]);
        m.Lines.Add("{\"x\": \"missing.npy\"}");
        m.Add(GoodCases[2]);
        m.Lines.Add("{\"x\": 1}");
        m.Add(GoodCases[3]);

        var (exit, lines, error) = m.Run();

        Assert.That(exit, Is.EqualTo(2), string.Join("\n", lines) + error);
        Assert.That(lines[0], Does.StartWith("case 0: cpu/"));
        Assert.That(lines[1], Does.StartWith("case 1: error: line 2: w: missing"));
        Assert.That(lines[2], Does.StartWith("case 2: cpu/"));
        Assert.That(lines[3], Does.StartWith("case 3: error: line 4: x: expected a path string"));
        Assert.That(lines[4], Does.StartWith("case 4: cpu/"));
        Assert.That(lines[5], Is.EqualTo("manifest: 5 cases, 3 ran, 2 bad input, 0 failed unexpectedly"));
        foreach (var expected in m.Expected) AssertMatchesReference(expected);
    }

    [Test]
    public void ManifestLevelErrorsExitTwoBeforeAnyCase()
    {
        using var h = new CliHarness();
        File.WriteAllText(h.Path("empty.jsonl"), "\n  \n");
        File.WriteAllText(h.Path("one.jsonl"), "{}\n");
        (string[] Args, string Message)[] cases =
        [
            (["run", "--manifest", h.Path("absent.jsonl")], "--manifest: file '"),
            (["run", "--manifest", h.Folder], "is a folder, not a manifest file"),   // was "file '…' does not exist"
            (["run", "--manifest", h.Path("empty.jsonl")], "has no cases"),
            (["run", "--manifest", h.Path("one.jsonl"), "--x", "x.npy"], "--x: not allowed with --manifest"),
            (["run", "--manifest", h.Path("one.jsonl"), "--groups", "1"], "--groups: not allowed with --manifest"),
            (["run", "--manifest", h.Path("one.jsonl"), "--backend", "no-such-backend"], "--backend: "),
            (["run", "--manifest", h.Path("one.jsonl"), "--policy", "fastest"], "fastest"),
        ];
        foreach (var (args, message) in cases)
        {
            var (exit, output, error) = CliHarness.Invoke([.. args, "--plan-cache", h.Path("plans.json")]);
            Assert.That(exit, Is.EqualTo(2), string.Join(' ', args));
            Assert.That(error, Does.StartWith("error: ").And.Contain(message), string.Join(' ', args));
            Assert.That(output, Does.Not.Contain("case 0"), "no case ran");
        }
    }

    [Test]
    public void RunHelpListsManifestAndPolicy()
    {
        // torch_compare.py switches to one manifest process when `gpuconv run --help` lists --manifest.
        var (exit, output, _) = CliHarness.Invoke("run", "--help");
        Assert.That(exit, Is.EqualTo(0));
        Assert.That(output, Does.Contain("--manifest").And.Contain("--policy"));
    }

    [Test]
    public void ParseTreatsZeroOutputPaddingOfAPlainConvolutionAsAbsent()
    {
        var r = RunManifest.Parse("""{"x": "a.npy", "w": "b.npy", "b": null, "out": "y.npy", "stride": [2, 1], "pads": 1, "output_padding": [0, 0]}""");
        Assert.That((r.XPath, r.WPath, r.BiasPath, r.OutPath, r.Stride, r.Pads, r.OutputPadding, r.Groups, r.Transposed),
            Is.EqualTo(("a.npy", "b.npy", (string?)null, "y.npy", "2,1", "1", (string?)null, 1, false)));
        Assert.That(RunManifest.InKeyTerms("--output-padding: bad"), Is.EqualTo("output_padding: bad"));
        Assert.That(RunManifest.InKeyTerms("--pad: x"), Is.EqualTo("--pad: x"), "not a manifest key: left as is");
    }
}
