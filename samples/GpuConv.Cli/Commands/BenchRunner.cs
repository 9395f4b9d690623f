using GpuConv.Backends;
using GpuConv.Cli.Execution;
using GpuConv.Cli.Peers;
using GpuConv.Conv;
using GpuConv.Planning;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Cli.Commands;

/// <summary>What the bench measured for one shape (peer fields null without --vs).</summary>
public sealed record BenchResult(
    BenchShape Shape, string Backend, string Algorithm, double MedianMs, double Gflops, double PlanMs, PlanSource PlanSource,
    double? PeerMs = null, double? PeerGflops = null, double? RelativeError = null)
{
    /// <summary>GpuConv throughput / peer throughput (&gt; 1: GpuConv is faster).</summary>
    public double? Ratio => PeerMs is { } p ? p / MedianMs : null;
}

/// <summary>
/// Times one shape on a backend (and on ONNX Runtime with the same inputs and thread count). The algorithm
/// is the engine planner's choice under the command's policy (heuristic, exhaustive or cached), and the
/// time that choice took is reported (a cold exhaustive search against a warm plan-cache hit):
/// warm-up runs, then repeated runs interleaved with the peer's so both see the same machine
/// noise, and the median of each. Checks the two outputs agree.
/// </summary>
public sealed class BenchRunner(CliBackends backends, int threads, bool withPeer, int warmup, int repeat, bool constantWeights = true, string? algorithmName = null)
{
    readonly IConvBackend backend = backends.All.Single();

    /// <summary>
    /// Refuses an --algorithm the backend offers for none of the shapes, listing the names it does offer
    /// (it used to be ignored silently, timing the plan's choice instead).
    /// </summary>
    public static void CheckAlgorithmName(CliBackends backends, IReadOnlyList<BenchShape> shapes, string name)
    {
        var backend = backends.All.Single();
        var names = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var shape in shapes)
            if (backend.WhyUnsupported(shape.Problem) is null)
                foreach (var a in backend.GetAlgorithms(shape.Problem, ConvPrecision.Strict)) names.Add(a.Name);
        if (!names.Contains(name))
            throw new ArgumentException($"--algorithm: '{name}' is not an algorithm of backend {backend.Name} for these shapes; known: {string.Join(", ", names)}.", "--algorithm");
    }

    public BenchResult Run(BenchShape shape, int seed)
    {
        var p = shape.Problem;
        var mem = backend.Memory;
        var x = HostTensor.Random(p.XShape, seed);
        var w = HostTensor.Random(p.WShape, seed + 1);
        var bias = HostTensor.Random(new TensorShape(p.K), seed + 2);
        // Constant weights, as ONNX Runtime's are (initializers, prepacked when its session is created).
        var tensors = new ConvTensors(ToBackend(x), ToBackend(w), mem.Allocate(p.YShape), ToBackend(bias)) { ConstantWeights = constantWeights };
        long planStart = System.Diagnostics.Stopwatch.GetTimestamp();
        var plan = backends.Plan(p);
        double planMs = System.Diagnostics.Stopwatch.GetElapsedTime(planStart).TotalMilliseconds;
        var algorithm = plan.Algorithm;
        if (algorithmName is not null)
            algorithm = backend.GetAlgorithms(p, ConvPrecision.Strict).FirstOrDefault(a => string.Equals(a.Name, algorithmName, StringComparison.OrdinalIgnoreCase)) ?? algorithm;

        OnnxRuntimeConv? peer = null;
        float[]? peerY = null;
        try
        {
            // GpuConv first, before the ORT session exists: ORT's worker threads spin after session
            // creation and after each run, and would take a core from GpuConv's timing.
            var ours = Time(() => backend.TimeRun(p, algorithm, tensors));
            List<double> theirs = [];
            if (withPeer)
            {
                peerY = new float[p.YShape.ElementCountInt];
                peer = new OnnxRuntimeConv(p, x.Data, w.Data, bias.Data, peerY, threads);
                theirs = Time(peer.TimeRun);
            }
            double ms = Median(ours);
            double gflops = p.Flops / ms / 1e6;
            if (peer is null)
                return new BenchResult(shape, backend.Name, algorithm.Name, ms, gflops, planMs, plan.Source);
            var y = new float[p.YShape.ElementCountInt];
            mem.CopyToHost(tensors.Y, y);
            var error = ErrorMetrics.Compare(y, Array.ConvertAll(peerY!, v => (double)v));
            double peerMs = Median(theirs);
            return new BenchResult(shape, backend.Name, algorithm.Name, ms, gflops, planMs, plan.Source, peerMs, p.Flops / peerMs / 1e6, error.MaxRelative);
        }
        finally
        {
            peer?.Dispose();
            (tensors.X as IDisposable)?.Dispose();
            (tensors.W as IDisposable)?.Dispose();
            (tensors.Y as IDisposable)?.Dispose();
            (tensors.Bias as IDisposable)?.Dispose();
        }

        Tensor ToBackend(HostTensor t)
        {
            if (mem.Kind == MemoryKind.Host) return t;
            var d = mem.Allocate(t.Shape);
            mem.CopyFromHost(t.Data, d);
            return d;
        }
    }

    List<double> Time(Func<double> run)
    {
        for (int i = 0; i < warmup; i++) run();
        var times = new List<double>(repeat);
        for (int i = 0; i < repeat; i++) times.Add(run());
        return times;
    }

    static double Median(List<double> values)
    {
        values.Sort();
        int n = values.Count;
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }
}
