using System.Globalization;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// The measurements behind CpuBackend.ShiftedDirectFirst for shallow stems (docs/benchmarks.md, 2026-12-05
/// "Conv-TasNet's decoder and the 1-d stems"): Conv-TasNet's 1 → 512 k16 s8 encoder, wav2vec 2.0's 1 → 512 k10 s5
/// first layer, and the ResNet-50 / MobileNetV2 2-d stems, each run by shifted-direct, im2col-gemm, channel-tiled
/// and shifted-gemm on 2 threads, constant weights, alternated run by run for 2 warm-up and <see cref="Rounds"/>
/// rounds. Medians (ms), and medians of the per-round ratios to shifted-direct (&lt; 1: faster than it).
/// Explicit: it needs a quiet machine.
/// Run: dotnet test -c Release --project tests/GpuConv.Tests -- --filter "FullyQualifiedName~ShallowStemTimings" --output detailed
/// </summary>
[Explicit("a benchmark: about a minute, needs a quiet machine")]
public class ShallowStemTimings
{
    const int Rounds = 31;

    static IEnumerable<(string Name, ConvProblem Problem)> Layers()
    {
        yield return ("Conv-TasNet encoder 1->512 k16 s8 32000", ConvProblem.Create(new ConvSpec([16], [8]), new TensorShape(1, 1, 32000), new TensorShape(512, 1, 16)));
        yield return ("wav2vec 2.0 conv 0 1->512 k10 s5 16000", ConvProblem.Create(new ConvSpec([10], [5]), new TensorShape(1, 1, 16000), new TensorShape(512, 1, 10)));
        yield return ("ResNet-50 stem 3->64 7x7 s2 224", ConvProblem.Create(new ConvSpec([7, 7], [2], padBegin: [3]), new TensorShape(1, 3, 224, 224), new TensorShape(64, 3, 7, 7)));
        yield return ("MobileNetV2 stem 3->32 3x3 s2 224", ConvProblem.Create(new ConvSpec([3, 3], [2], padBegin: [1]), new TensorShape(1, 3, 224, 224), new TensorShape(32, 3, 3, 3)));
    }

    [Test]
    public void Table()
    {
        using var two = new CpuBackend(2);
        var inv = CultureInfo.InvariantCulture;
        string[] names = [CpuBackend.ShiftedDirect, CpuBackend.Im2ColGemm, CpuBackend.ChannelTiled, CpuBackend.ShiftedGemm];
        TestContext.Out.WriteLine("| layer | first | " + string.Join(" | ", names) + " | " + string.Join(" | ", names.Skip(1).Select(n => n + " / sd")) + " |");
        TestContext.Out.WriteLine("|---|---|" + string.Concat(Enumerable.Repeat("---:|", 2 * names.Length - 1)));
        foreach (var (name, p) in Layers())
        {
            var list = two.GetAlgorithms(p, ConvPrecision.Strict);
            ConvAlgorithm Get(string n) => list.Single(a => a.Name == n);
            var runs = names.Select(Get).ToArray();
            var x = HostTensor.Random(p.XShape, 1);
            var w = HostTensor.Random(p.WShape, 2);
            var y = new HostTensor(p.YShape);
            var tensors = new ConvTensors(x, w, y) { ConstantWeights = true };
            var times = runs.Select(_ => new List<double>()).ToArray();
            for (int r = 0; r < Rounds + 2; r++)
                for (int i = 0; i < runs.Length; i++)
                {
                    double ms = two.TimeRun(p, runs[i], tensors);
                    if (r >= 2) times[i].Add(ms);
                }
            static double Median(IEnumerable<double> v) { var l = v.Order().ToList(); return l[l.Count / 2]; }
            var m = times.Select(Median).ToArray();
            var ratios = Enumerable.Range(1, runs.Length - 1).Select(i => Median(times[i].Zip(times[0], (a, b) => a / b)));
            TestContext.Out.WriteLine(string.Format(inv, "| {0} | {1} | ", name, list[0].Name) + string.Join(" | ", m.Select(v => v.ToString("0.000", inv)))
                + " | " + string.Join(" | ", ratios.Select(v => v.ToString("0.00", inv))) + " |");
        }
    }
}
