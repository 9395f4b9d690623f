using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Padding;

/// <summary>
/// The float64 reference (ReferenceConv with a padding mode, ReferencePad) against PyTorch itself: torch_padding_peer.py
/// runs F.pad then F.conv{1,2,3}d (and F.pad alone) in float64 with autograd on the same random data, for every mode
/// (zeros as the control) × rank 1–3 with strides, dilations, groups and asymmetric pads, all three ops. Both sides are
/// float64 with different summation orders: 1e-12 relative. Runs when python3 with torch is there (/usr/bin/python3 first,
/// Debian's python3-torch); otherwise ignored, saying which is missing.
/// </summary>
[NonParallelizable]
public class PaddingModeTorchPeerTests
{
    const double Tolerance = 1e-12;
    const int CasesPerModeAndRank = 4;

    sealed record Result(double[] y, int[] yShape, double[] dx, double[]? dw);
    sealed record Output(string torch, Result[] results);

    [Test]
    public void ReferenceConvolutionMatchesTorchForEveryModeRankAndOp()
    {
        var problems = new List<ConvProblem>();
        var cases = new List<Dictionary<string, object>>();
        var data = new List<(HostTensor X, HostTensor W, HostTensor Dy)>();
        int seed = 1;
        foreach (var mode in Enum.GetValues<PaddingMode>())
            for (int rank = 1; rank <= 3; rank++)
                for (int i = 0; i < CasesPerModeAndRank; i++)
                {
                    var p = RandomPaddedProblems.Create(seed++, mode, rank);
                    var x = HostTensor.Random(p.XShape, seed++);
                    var w = HostTensor.Random(p.WShape, seed++);
                    var dy = HostTensor.Random(p.YShape, seed++);
                    problems.Add(p);
                    data.Add((x, w, dy));
                    cases.Add(new()
                    {
                        ["kind"] = "conv", ["mode"] = PaddingModeName(mode),
                        ["xShape"] = p.XShape.Dims.ToArray(), ["wShape"] = p.WShape.Dims.ToArray(),
                        ["stride"] = p.Spec.Stride.ToArray(), ["dilation"] = p.Spec.Dilation.ToArray(),
                        ["padBegin"] = p.Spec.PadBegin.ToArray(), ["padEnd"] = p.Spec.PadEnd.ToArray(), ["groups"] = p.Spec.Groups,
                        ["x"] = Exact(x), ["w"] = Exact(w), ["dy"] = Exact(dy),
                    });
                }
        var output = RunTorch(cases);
        Assert.That(output.torch, Does.StartWith("1.13"), "the peer is torch 1.13, as the project's other torch cases");
        for (int i = 0; i < problems.Count; i++)
        {
            var p = problems[i];
            var (x, w, dy) = data[i];
            var r = output.results[i];
            Assert.That(r.yShape, Is.EqualTo(p.YShape.Dims.ToArray()), $"{p}: output shape");
            Compare(ReferenceConv.Forward(p, x.Data, w.Data), r.y, $"{p} forward");
            Compare(ReferenceConv.BackwardData(p.WithOp(ConvOp.BackwardData), dy.Data, w.Data), r.dx, $"{p} backward-data");
            Compare(ReferenceConv.BackwardFilter(p.WithOp(ConvOp.BackwardFilter), x.Data, dy.Data), r.dw!, $"{p} backward-filter");
        }
    }

    [Test]
    public void ReferencePadMatchesTorchForEveryModeAndRank()
    {
        var specs = new List<(PadSpec Spec, TensorShape Input, HostTensor X, HostTensor Dy)>();
        var cases = new List<Dictionary<string, object>>();
        int seed = 1;
        foreach (var mode in Enum.GetValues<PadMode>())
            for (int rank = 1; rank <= 3; rank++)
                for (int i = 0; i < CasesPerModeAndRank; i++)
                {
                    var (spec, input) = RandomPaddedProblems.CreatePad(seed++, mode, rank);
                    var x = HostTensor.Random(input, seed++);
                    var dy = HostTensor.Random(spec.OutputShape(input), seed++);
                    specs.Add((spec, input, x, dy));
                    cases.Add(new()
                    {
                        ["kind"] = "pad", ["mode"] = mode.ToString().ToLowerInvariant(), ["value"] = (double)spec.Value,
                        ["xShape"] = input.Dims.ToArray(), ["padBegin"] = spec.PadBegin.ToArray(), ["padEnd"] = spec.PadEnd.ToArray(),
                        ["x"] = Exact(x), ["dy"] = Exact(dy),
                    });
                }
        var output = RunTorch(cases);
        for (int i = 0; i < specs.Count; i++)
        {
            var (spec, input, x, dy) = specs[i];
            var r = output.results[i];
            Assert.That(r.yShape, Is.EqualTo(spec.OutputShape(input).Dims.ToArray()), $"{spec} on {input}: output shape");
            Compare(ReferencePad.Forward(spec, input, x.Data), r.y, $"{spec} on {input} forward");
            Compare(ReferencePad.Backward(spec, input, dy.Data), r.dx, $"{spec} on {input} backward");
        }
    }

    /// <summary>The values as float64: JSON's shortest float32 text would read back in Python as a different double.</summary>
    static double[] Exact(HostTensor t) => [.. t.Data.Select(v => (double)v)];

    static string PaddingModeName(PaddingMode mode) => mode.ToString().ToLowerInvariant();

    static void Compare(double[] actual, double[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        double scale = expected.Max(Math.Abs), worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
        Assert.That(scale, Is.GreaterThan(0), $"{what}: torch's result is all zeros");
        Assert.That(worst / scale, Is.LessThan(Tolerance), $"{what}: max |diff| {worst:E3}, max |torch| {scale:G4}");
    }

    /// <summary>Runs the peer script on <paramref name="cases"/>; ignores the test when no python3 with torch is there.</summary>
    static Output RunTorch(List<Dictionary<string, object>> cases)
    {
        var root = SharedData.RepositoryRoot();
        if (root is null) Assert.Ignore("no repository around the test assembly: tests/GpuConv.Tests/Padding/torch_padding_peer.py is not here");
        var script = Path.Combine(root!, "tests", "GpuConv.Tests", "Padding", "torch_padding_peer.py");
        var folder = Directory.CreateTempSubdirectory("gpuconv-padding-peer-").FullName;
        try
        {
            string input = Path.Combine(folder, "cases.json"), result = Path.Combine(folder, "results.json");
            File.WriteAllText(input, JsonSerializer.Serialize(cases));
            string? why = null;
            foreach (var python in new[] { "/usr/bin/python3", "python3" })
            {
                var start = new ProcessStartInfo(python, [script, input, result])
                {
                    RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
                };
                Process process;
                try { process = Process.Start(start)!; }
                catch (Win32Exception e) { why = $"{python} cannot be started: {e.Message}"; continue; }
                using (process)
                {
                    var stderr = process.StandardError.ReadToEndAsync();
                    string stdout = process.StandardOutput.ReadToEnd();
                    Assert.That(process.WaitForExit(300_000), Is.True, "torch_padding_peer.py did not end in 5 minutes");
                    if (process.ExitCode == 3) { why = $"{python}: {stderr.Result.Trim()}"; continue; }
                    Assert.That(process.ExitCode, Is.EqualTo(0), $"{python} torch_padding_peer.py failed: {stdout}{stderr.Result}");
                    return JsonSerializer.Deserialize<Output>(File.ReadAllText(result))!;
                }
            }
            Assert.Ignore($"no python3 with torch here, so PyTorch cannot judge the reference ({why}; Debian: apt-get install python3-torch)");
            return null!;
        }
        finally { Directory.Delete(folder, recursive: true); }
    }
}
