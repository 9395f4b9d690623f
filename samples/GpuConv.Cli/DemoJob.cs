using GpuConv.Backends;
using GpuConv.Cli.Execution;
using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Cli;

/// <summary>
/// One layer of the demo: where it ran, how long its first (cold) call took, the median of its warm timed
/// runs, and how close it came to the reference. <see cref="Milliseconds"/> is the warm time.
/// </summary>
public sealed record DemoLayer(string Name, ConvProblem Problem, string Backend, string Algorithm, double Milliseconds, ErrorReport Error, string Method)
{
    /// <summary>The first run of the layer (library warm-up, JIT, weight packing included); NaN when not measured.</summary>
    public double ColdMilliseconds { get; init; } = double.NaN;

    /// <summary>How many warm runs <see cref="Milliseconds"/> is the median of.</summary>
    public int TimedRuns { get; init; } = 1;

    public bool Passed => OutputCheck.Passes(Error);
    public double GflopsPerSecond => Milliseconds > 0 ? Problem.Flops / (Milliseconds * 1e6) : double.NaN;
}

/// <summary>
/// <c>gpuconv demo</c>: the ResNet-50 convolution layers forward on the best available backend, each
/// output validated against the float64 reference (in full for small layers, else at sampled elements).
/// Per layer: plan, one cold run (its time kept apart, so start-up cost stays visible), then warm runs
/// timed on the same tensors, reported as their median.
/// </summary>
public static class DemoJob
{
    public const string ShapeSetName = "resnet50";
    public const int SamplesPerLayer = 64;
    public const int DefaultRuns = 5;

    /// <summary>Warm runs stop early (after at least <see cref="MinRuns"/>) once their times add up to this.</summary>
    public const double LayerBudgetMs = 400;
    const int MinRuns = 3;

    /// <summary>
    /// The option checks, eager: <see cref="Run"/> is an iterator, so its own checks ran only at the first
    /// layer, after the backends (a GPU context) were opened and the device line printed.
    /// </summary>
    public static void CheckOptions(int batch, int? limit, int runs)
    {
        if (batch < 1)
            throw new ArgumentException($"--batch: must be >= 1, got {batch}.", "--batch");
        if (limit is < 1)
            throw new ArgumentException($"--limit: must be >= 1, got {limit}.", "--limit");
        if (runs < 1)
            throw new ArgumentException($"--runs: must be >= 1, got {runs}.", "--runs");
    }

    public static IEnumerable<DemoLayer> Run(CliBackends backends, ShapeSet shapes, int batch, int? limit, int runs = DefaultRuns)
    {
        CheckOptions(batch, limit, runs);
        var rows = shapes.Rows.Take(limit ?? int.MaxValue).ToList();
        for (int i = 0; i < rows.Count; i++)
        {
            var p = rows[i].Problem.WithBatch(batch);
            int seed = 7919 * (i + 1);
            // A transposed row's pass is backward data: its input is Y, its output X.
            bool transposed = rows[i].Transposed;
            var input = HostTensor.Random(transposed ? p.YShape : p.XShape, seed);
            HostTensor? x = transposed ? null : input, y = transposed ? input : null;
            var w = HostTensor.Random(p.WShape, seed + 1);
            var bias = HostTensor.Random(new TensorShape(p.BiasLength), seed + 2);
            var (backend, algorithm) = backends.Choose(p);
            var cold = ConvRunner.Run(backend, p, x, w, y, bias, algorithm);
            var (error, method) = OutputCheck.Auto(p, x, w, y, bias, cold.Output, SamplesPerLayer, seed + 3);
            var (warm, count) = WarmMedian(backend, p, cold.Algorithm, x, w, y, bias, runs);
            yield return new DemoLayer(rows[i].Name, p, cold.Backend, cold.Algorithm.Key, warm, error, method)
            {
                ColdMilliseconds = cold.Milliseconds,
                TimedRuns = count,
            };
        }
    }

    /// <summary>
    /// The median of up to <paramref name="runs"/> timed runs of <paramref name="algorithm"/> on tensors placed
    /// once in the backend's memory (the cold run before it was the warm-up).
    /// </summary>
    static (double Median, int Count) WarmMedian(IConvBackend backend, ConvProblem p, ConvAlgorithm algorithm, HostTensor? x, HostTensor w, HostTensor? y, HostTensor bias, int runs)
    {
        var memory = backend.Memory;
        var placed = new List<Tensor>();
        try
        {
            Tensor Place(TensorShape shape, HostTensor? host)
            {
                var t = memory.Allocate(shape);
                placed.Add(t);
                if (host is not null) memory.CopyFromHost(host.Data, t);
                return t;
            }
            var tensors = new ConvTensors(Place(p.XShape, x), Place(p.WShape, w), Place(p.YShape, y), Place(bias.Shape, bias)) { ConstantWeights = true };
            var times = new List<double>();
            while (times.Count < runs && (times.Count < MinRuns || times.Sum() < LayerBudgetMs))
                times.Add(backend.TimeRun(p, algorithm, tensors));
            times.Sort();
            int n = times.Count;
            return (n % 2 == 1 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2, n);
        }
        finally
        {
            foreach (var t in placed) ((IDisposable)t).Dispose();
        }
    }
}
