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
    double? PeerMs = null, double? PeerGflops = null, double? RelativeError = null, string? Peer = null, string? PeerAlgorithm = null)
{
    /// <summary>Our throughput / the peer's (&gt; 1: the --backend side is faster).</summary>
    public double? Ratio => PeerMs is { } p ? p / MedianMs : null;
}

/// <summary>
/// What bench compares against (--vs): ONNX Runtime (no backend), or a GpuConv backend of the same engine
/// with its own plan function (same policy and plan cache as the main side).
/// </summary>
public sealed record BenchPeer(string Name, IConvBackend? Backend = null, Func<ConvProblem, Plan>? Plan = null)
{
    /// <summary>The --vs name of ONNX Runtime's CPU provider (the peer that is not a GpuConv backend).</summary>
    public const string OnnxRuntimeName = "onnxruntime";
    /// <summary>ONNX Runtime as the peer: no backend and no plan function.</summary>
    public static BenchPeer OnnxRuntime { get; } = new(OnnxRuntimeName);
}

/// <summary>
/// Times one shape on a backend (and on the peer with the same inputs). The algorithm is the engine
/// planner's choice under the command's policy (heuristic, exhaustive or cached), and the time that
/// choice took is reported (a cold exhaustive search against a warm plan-cache hit); warm-up runs, then
/// repeated runs, and the median of each side. A backend peer gets its own copies of the inputs in its
/// own memory and its own plan; its runs alternate with ours run by run (the order swapped every run) so
/// both see the same clocks and machine noise. ONNX Runtime runs after ours instead (its worker threads
/// spin after each run and would take a core from our timing). Checks the two outputs agree.
/// </summary>
public sealed class BenchRunner(CliBackends backends, int threads, BenchPeer? peer, int warmup, int repeat, bool constantWeights = true, string? algorithmName = null)
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
        var p = shape.Problem.WithConstantWeights(constantWeights);
        if (p.Op == ConvOp.BackwardFilter)
            throw new ArgumentException($"--shapes: row '{shape.Name}' is a backward-filter problem; bench times a layer's forward pass.", "--shapes");
        // A layer's input and output: X and Y of a convolution, Y and X of a transposed one (backward data).
        bool transposed = p.Op == ConvOp.BackwardData;
        var (inShape, outShape) = transposed ? (p.YShape, p.XShape) : (p.XShape, p.YShape);
        var input = HostTensor.Random(inShape, seed);
        var w = HostTensor.Random(p.WShape, seed + 1);
        var bias = HostTensor.Random(new TensorShape(p.BiasLength), seed + 2);
        var owned = new List<Tensor>();
        try
        {
            var mem = backend.Memory;
            // Constant weights by default, as ONNX Runtime's are (initializers, prepacked when its session is created).
            ConvTensors Place(IMemorySpace m, bool copy)
            {
                var i = ToMemory(m, input, owned, copy);
                var o = Own(m.Allocate(outShape), owned);
                return new ConvTensors(transposed ? o : i, ToMemory(m, w, owned, copy), transposed ? i : o, ToMemory(m, bias, owned, copy))
                    { ConstantWeights = constantWeights };
            }
            var tensors = Place(mem, copy: false);
            long planStart = System.Diagnostics.Stopwatch.GetTimestamp();
            var plan = backends.Plan(p);
            double planMs = System.Diagnostics.Stopwatch.GetElapsedTime(planStart).TotalMilliseconds;
            var algorithm = plan.Algorithm;
            if (algorithmName is not null)
                algorithm = backend.GetAlgorithms(p, ConvPrecision.Strict).FirstOrDefault(a => string.Equals(a.Name, algorithmName, StringComparison.OrdinalIgnoreCase)) ?? algorithm;
            double Ours() => backend.TimeRun(p, algorithm, tensors);

            List<double> ours, theirs;
            double[] peerOut;
            string? peerAlgorithm = null;
            if (peer is null)
            {
                ours = Time(Ours);
                double alone = Median(ours);
                return new BenchResult(shape, backend.Name, algorithm.Name, alone, p.Flops / alone / 1e6, planMs, plan.Source);
            }
            if (peer.Backend is null)
            {
                // Ours first, before the ORT session exists: ORT's worker threads spin after session
                // creation and after each run, and would take a core from our timing.
                ours = Time(Ours);
                var out32 = new float[outShape.ElementCountInt];
                using var ort = new OnnxRuntimeConv(p, input.Data, w.Data, bias.Data, out32, threads);
                theirs = Time(ort.TimeRun);
                peerOut = Array.ConvertAll(out32, v => (double)v);
            }
            else
            {
                var peerBackend = peer.Backend;
                var pm = peerBackend.Memory;
                var peerPlan = peer.Plan!(p);
                peerAlgorithm = peerPlan.Algorithm.Name;
                var peerTensors = Place(pm, copy: true);
                (ours, theirs) = TimeInterleaved(Ours, () => peerBackend.TimeRun(p, peerPlan.Algorithm, peerTensors));
                var out32 = new float[outShape.ElementCountInt];
                pm.CopyToHost(transposed ? peerTensors.X : peerTensors.Y, out32);
                peerOut = Array.ConvertAll(out32, v => (double)v);
            }
            double ms = Median(ours), peerMs = Median(theirs);
            var output = new float[outShape.ElementCountInt];
            mem.CopyToHost(transposed ? tensors.X : tensors.Y, output);
            var error = ErrorMetrics.Compare(output, peerOut);
            return new BenchResult(shape, backend.Name, algorithm.Name, ms, p.Flops / ms / 1e6, planMs, plan.Source,
                peerMs, p.Flops / peerMs / 1e6, error.MaxRelative, peer.Name, peerAlgorithm);
        }
        finally
        {
            foreach (var t in owned) (t as IDisposable)?.Dispose();
        }
    }

    /// <summary>
    /// <paramref name="t"/> in <paramref name="memory"/>: host memory uses the host tensor itself unless
    /// <paramref name="copy"/> (a backend peer gets inputs of its own, so no side shares prepared weights).
    /// </summary>
    static Tensor ToMemory(IMemorySpace memory, HostTensor t, List<Tensor> owned, bool copy)
    {
        if (memory.Kind == MemoryKind.Host && !copy) return t;
        var d = Own(memory.Allocate(t.Shape), owned);
        memory.CopyFromHost(t.Data, d);
        return d;
    }

    static Tensor Own(Tensor t, List<Tensor> owned)
    {
        owned.Add(t);
        return t;
    }

    /// <summary>Warm-up runs of both, then timed runs alternating between the two, the order swapped every run.</summary>
    (List<double> A, List<double> B) TimeInterleaved(Func<double> a, Func<double> b)
    {
        for (int i = 0; i < warmup; i++) { a(); b(); }
        List<double> ta = new(repeat), tb = new(repeat);
        for (int i = 0; i < repeat; i++)
        {
            if (i % 2 == 0) { ta.Add(a()); tb.Add(b()); }
            else { tb.Add(b()); ta.Add(a()); }
        }
        return (ta, tb);
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
