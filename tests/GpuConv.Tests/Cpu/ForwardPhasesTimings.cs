using System.Globalization;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// The timing table of docs/benchmarks.md ("forward-phases"): transposed-convolution layers (and
/// ResNet-50's 3x3 layers as backward-data) run by forward-phases with constant and per-call weights,
/// by gemm-col2im, and the matching forward (its first candidate) with constant and per-call weights.
/// Same process, 2 threads, the five runs alternated round by round, 2 warm-up rounds, then the median
/// of <see cref="Rounds"/>; the ratios are medians of the per-round ratios (the two runs of a ratio are
/// neighbours in time, so a machine that changes speed between rounds moves both). Explicit: it takes
/// about half a minute and its numbers need a quiet machine. It
/// checks that forward-phases and gemm-col2im agree on each layer (max relative error &lt; 1e-5).
/// Run: dotnet test -c Release --project tests/GpuConv.Tests -- --filter "FullyQualifiedName~ForwardPhasesTimings" --output detailed
/// </summary>
[Explicit("a benchmark: about a minute, needs a quiet machine")]
public class ForwardPhasesTimings
{
    const int Rounds = 21;

    static IEnumerable<(string Name, ConvProblem Problem)> Layers()
    {
        ConvProblem T(ConvSpec spec, TensorShape input, TensorShape filter) => ConvProblem.Create(spec, input, filter);
        ConvProblem B(ConvSpec spec, TensorShape x, TensorShape w) => ConvProblem.Create(spec, x, w, ConvOp.BackwardData);
        var t4 = new ConvSpec([4, 4], [2], padBegin: [1], transposed: true);
        yield return ("DCGAN 4x4 s2 p1 1024->512 4->8", T(t4, new(1, 1024, 4, 4), new(1024, 512, 4, 4)));
        yield return ("DCGAN 4x4 s2 p1 512->256 8->16", T(t4, new(1, 512, 8, 8), new(512, 256, 4, 4)));
        yield return ("DCGAN 4x4 s2 p1 256->128 16->32", T(t4, new(1, 256, 16, 16), new(256, 128, 4, 4)));
        yield return ("DCGAN 4x4 s2 p1 128->64 32->64", T(t4, new(1, 128, 32, 32), new(128, 64, 4, 4)));
        yield return ("DCGAN 4x4 s2 p1 64->3 64->128", T(t4, new(1, 64, 64, 64), new(64, 3, 4, 4)));
        var t2 = new ConvSpec([2, 2], [2], transposed: true);
        yield return ("UNet 2x2 s2 1024->512 28->56", T(t2, new(1, 1024, 28, 28), new(1024, 512, 2, 2)));
        yield return ("UNet 2x2 s2 512->256 56->112", T(t2, new(1, 512, 56, 56), new(512, 256, 2, 2)));
        yield return ("UNet 2x2 s2 256->128 112->224", T(t2, new(1, 256, 112, 112), new(256, 128, 2, 2)));
        yield return ("FCN 3x3 s2 p1 op1 256->128 28->56", T(new ConvSpec([3, 3], [2], padBegin: [1], transposed: true, outputPadding: [1]), new(1, 256, 28, 28), new(256, 128, 3, 3)));
        var s3 = new ConvSpec([3, 3], padBegin: [1]);
        yield return ("ResNet-50 3x3 64 56x56 (bwd-data)", B(s3, new(1, 64, 56, 56), new(64, 64, 3, 3)));
        yield return ("ResNet-50 3x3 128 28x28 (bwd-data)", B(s3, new(1, 128, 28, 28), new(128, 128, 3, 3)));
        yield return ("ResNet-50 3x3 256 14x14 (bwd-data)", B(s3, new(1, 256, 14, 14), new(256, 256, 3, 3)));
        yield return ("ResNet-50 3x3 512 7x7 (bwd-data)", B(s3, new(1, 512, 7, 7), new(512, 512, 3, 3)));
        yield return ("ResNet-50 3x3 s2 128 56->28 (bwd-data)", B(new ConvSpec([3, 3], [2], padBegin: [1]), new(1, 128, 56, 56), new(128, 128, 3, 3)));
        yield return ("3-d 3x3x3 64 8x56x56 (bwd-data)", B(new ConvSpec([3, 3, 3], padBegin: [1]), new(1, 64, 8, 56, 56), new(64, 64, 3, 3, 3)));
        yield return ("MobileNetV2 dw 3x3 144 56x56 (bwd-data)", B(new ConvSpec([3, 3], padBegin: [1], groups: 144), new(1, 144, 56, 56), new(144, 1, 3, 3)));
        yield return ("MobileNetV2 dw 3x3 s2 144 56->28 (bwd-data)", B(new ConvSpec([3, 3], [2], padBegin: [1], groups: 144), new(1, 144, 56, 56), new(144, 1, 3, 3)));
    }

    [Test]
    public void Table()
    {
        using var cpu = new CpuBackend(2);
        var inv = CultureInfo.InvariantCulture;
        TestContext.Out.WriteLine("| layer | first | fp const | fp per call | gemm-col2im | fwd const | fwd per call | forward's algorithm | fp / fwd (const) | col2im / fp (const) | fp / fwd (per call) | col2im / fp (per call) |");
        TestContext.Out.WriteLine("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|");
        foreach (var (name, p) in Layers())
        {
            var fwd = p.WithOp(ConvOp.Forward);
            var algorithms = cpu.GetAlgorithms(p, ConvPrecision.Strict);
            var phases = algorithms.Single(a => a.Name == CpuBackend.ForwardPhases);
            var col2im = algorithms.Single(a => a.Name == CpuBackend.GemmCol2Im);
            var forward = cpu.GetAlgorithms(fwd, ConvPrecision.Strict)[0];
            var dx = HostTensor.Random(p.XShape, 1);
            var w = HostTensor.Random(p.WShape, 2);
            var dy = HostTensor.Random(p.YShape, 3);
            var constant = new ConvTensors(dx, w, dy) { ConstantWeights = true };
            var perCall = new ConvTensors(dx, w, dy);
            cpu.Run(p, col2im, perCall);
            var reference = (float[])dx.Data.Clone();
            cpu.Run(p, phases, constant);
            Assert.That(ErrorMetrics.Compare(dx.Data, Array.ConvertAll(reference, v => (double)v)).MaxRelative, Is.LessThan(1e-5), name);
            var runs = new (ConvProblem P, ConvAlgorithm A, ConvTensors T)[]
                { (p, phases, constant), (p, phases, perCall), (p, col2im, perCall), (fwd, forward, constant), (fwd, forward, perCall) };
            var times = runs.Select(_ => new List<double>()).ToArray();
            for (int r = 0; r < Rounds + 2; r++)
                for (int i = 0; i < runs.Length; i++)
                {
                    double ms = cpu.TimeRun(runs[i].P, runs[i].A, runs[i].T);
                    if (r >= 2) times[i].Add(ms);
                }
            static double Median(IEnumerable<double> v) { var l = v.Order().ToList(); return l[l.Count / 2]; }
            var m = times.Select(Median).ToArray();
            double overForward = Median(times[0].Zip(times[3], (a, b) => a / b)), col2imOver = Median(times[2].Zip(times[0], (a, b) => a / b));
            double perCallOverForward = Median(times[1].Zip(times[4], (a, b) => a / b)), col2imOverPerCall = Median(times[2].Zip(times[1], (a, b) => a / b));
            TestContext.Out.WriteLine(string.Format(inv, "| {0} | {1} | {2:0.000} | {3:0.000} | {4:0.000} | {5:0.000} | {6:0.000} | {7} | {8:0.00} | {9:0.00} | {10:0.00} | {11:0.00} |",
                name, algorithms[0].Name, m[0], m[1], m[2], m[3], m[4], forward.Name, overForward, col2imOver, perCallOverForward, col2imOverPerCall));
        }
    }
}
