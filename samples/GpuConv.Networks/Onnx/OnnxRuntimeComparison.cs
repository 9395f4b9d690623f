using System.Diagnostics;
using GpuConv.Backends;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Networks.Onnx;

/// <summary>
/// What <c>--vs onnxruntime</c> measured: each side's median over all its timed runs (the network only), the peer's first
/// run, the ratio of the medians and each round's own ratio, and how far apart the logits are.
/// </summary>
public sealed record PeerComparison(string Peer, int Threads, double GpuConvMs, double PeerMs, double PeerFirstMs, double MaxRelativeError,
    IReadOnlyList<double> RoundRatios)
{
    /// <summary>With <c>--profile</c>: the peer's own per-node times (<see cref="OnnxRuntimeProfile"/>); null otherwise.</summary>
    public IReadOnlyList<ProfileStep>? PeerProfile { get; init; }

    /// <summary>Peer median / GpuConv median: &gt; 1 means GpuConv is faster (the CLI's bench ratio, the same way round).</summary>
    public double Ratio => PeerMs / GpuConvMs;

    /// <summary>Two fp32 runs of the same folded network, each ~1e-6 from float64: the same bound as the float64 check, with room.</summary>
    public bool Agrees => MaxRelativeError <= NetworkResult.Tolerance;
}

/// <summary>
/// The whole network in ONNX Runtime against GpuConv's CPU path, the same folded weights and the same input. Both sides
/// time the network only: GpuConv's <see cref="DeviceNetwork.Run"/> + <see cref="ConvEngine.Synchronize"/> with the
/// input uploaded before and the logits left in engine memory (on the CPU path "upload" and "download" are host copies,
/// left out so that neither side times a copy); ONNX Runtime's RunWithBinding with the input and the logits bound to
/// arrays (no copy). First each side runs untimed for <see cref="NetworkOptions.WarmupSeconds"/> (the JIT's optimized code in
/// place). Then each side runs in its own block — one warm-up run, then <see cref="NetworkOptions.Runs"/> timed —
/// never interleaved run by run: ORT's workers spin after each run and would take a core from GpuConv's timing (the
/// CLI's bench keeps its layer peer apart the same way), and a pause between blocks lets either side's spinning
/// workers go idle. The blocks alternate for <see cref="NetworkOptions.Rounds"/> rounds (GpuConv, then ORT), so on a
/// shared machine a busy spell falls on both sides; the medians are over all rounds' runs.
/// </summary>
public static class OnnxRuntimeComparison
{
    public const string PeerName = "onnxruntime";

    /// <summary>Between blocks: longer than either side's worker spin after a run (well under a millisecond to a few).</summary>
    static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(100);

    public static PeerComparison Run(NetworkOptions o, INetworkModel model, ConvEngine engine, DeviceNetwork net, HostTensor input)
    {
        string key = o.Key;
        // The engine's CPU threads as resolved (every core when --threads is left out): ORT gets the same count.
        int threads = engine.Backends.OfType<CpuBackend>().FirstOrDefault()?.MaxDegreeOfParallelism ?? o.Threads ?? Environment.ProcessorCount;

        var clock = Stopwatch.StartNew();
        string written = "given";
        byte[]? onnx = o.OnnxModel;
        if (onnx is null)
        {
            var graph = model.ToOnnx(input.Shape);
            onnx = graph.ToModel();
            written = $"written ({string.Join(", ", graph.Operators.Select(p => $"{p.Value} {p.Key}"))}; {onnx.Length / 1e6:0.0} MB) in {clock.Elapsed.TotalSeconds:0.0} s";
        }
        clock.Restart();
        var logits = new float[net.Logits.Shape.ElementCountInt];
        using var ort = new OnnxRuntimeNetwork(onnx, input.Data, [.. input.Shape.Dims.Select(d => (long)d)], logits, threads);
        double sessionS = clock.Elapsed.TotalSeconds;
        if (!o.Profile) onnx = null;   // kept for the profiling session
        o.Out.WriteLine($"ONNX Runtime {OnnxRuntimeNetwork.Version}, CPU provider: model {written}; session (ORT_ENABLE_ALL, {threads} intra-op threads, spinning) {sessionS:0.0} s");
        double first = ort.TimeRun();
        // The set-up's garbage (the model's bytes: ~100 MB for ResNet-50) collected now, not inside a block.
        GC.Collect();
        GC.WaitForPendingFinalizers();

        engine.Upload(input.Data, net.Input);
        // Untimed runs first, until the JIT has replaced GpuConv's loops with optimized code (see WarmupSeconds); ORT too,
        // for the same start.
        int warmOurs = WarmUp(() => { net.Run(); engine.Synchronize(); }, o.WarmUp);
        int warmTheirs = WarmUp(ort.Run, o.WarmUp);
        o.Out.WriteLine(FormattableString.Invariant($"{key}: warm-up {o.WarmUp:0.#} s each side untimed ({warmOurs} GpuConv runs, {warmTheirs} ONNX Runtime runs)"));
        List<double> ours = [], theirs = [];
        var roundRatios = new List<double>();
        for (int round = 0; round < o.Rounds; round++)
        {
            Thread.Sleep(Pause);
            var a = Block(() => { net.Run(); engine.Synchronize(); }, o.Runs);
            Thread.Sleep(Pause);
            var b = Block(ort.Run, o.Runs);
            roundRatios.Add(Median(b) / Median(a));
            ours.AddRange(a);
            theirs.AddRange(b);
        }
        double gpuconvMs = Median(ours), peerMs = Median(theirs);
        int timed = o.Runs * o.Rounds;
        string blocks = o.Rounds == 1 ? $"{o.Runs} runs" : $"{timed} runs in {o.Rounds} blocks of {o.Runs}";
        o.Out.WriteLine(FormattableString.Invariant(
            $"{key}[gpuconv, network only]: batch {o.Batch} median {gpuconvMs:0.000} ms, {blocks} (Run + Synchronize; input uploaded before, logits left in engine memory; {threads} CPU threads, {engine.Device})"));
        o.Out.WriteLine(FormattableString.Invariant(
            $"{key}[{PeerName}]: batch {o.Batch} median {peerMs:0.000} ms, first {first:0.0} ms, {blocks} (RunWithBinding; input and logits bound to arrays, no copy; {threads} intra-op threads)"));

        var gpuconvLogits = engine.Download(net.Logits).Data;
        double error = ErrorMetrics.Compare(logits, [.. gpuconvLogits.Select(v => (double)v)]).MaxRelative;
        var result = new PeerComparison(PeerName, threads, gpuconvMs, peerMs, first, error, roundRatios);
        string perRound = o.Rounds == 1 ? "" : FormattableString.Invariant($" (per round {string.Join(" ", roundRatios.Select(r => r.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)))})");
        o.Out.WriteLine(FormattableString.Invariant(
            $"{key}: {PeerName} / gpuconv = {result.Ratio:0.00}{perRound} (> 1: GpuConv faster), both the network only; logits max rel error {error:E2} between the two (tolerance {NetworkResult.Tolerance:E0}) {(result.Agrees ? "PASS" : "FAIL")}"));
        if (o.Profile)
        {
            var steps = OnnxRuntimeProfile.Measure(onnx!, input.Data, [.. input.Shape.Dims.Select(d => (long)d)], logits, threads, warmup: 2, o.Runs);
            NetworkProfile.Print(o.Out, key, PeerName, steps, o.Runs, "ORT's profiler, per node of its optimized graph (a few us each its own)");
            result = result with { PeerProfile = steps };
        }
        return result;
    }

    /// <summary>Runs <paramref name="run"/> untimed for at least <paramref name="seconds"/> (and once at least); returns how often.</summary>
    internal static int WarmUp(Action run, double seconds)
    {
        long start = Stopwatch.GetTimestamp();
        int count = 0;
        do { run(); count++; } while (Stopwatch.GetElapsedTime(start).TotalSeconds < seconds);
        return count;
    }

    /// <summary>One warm-up run, then <paramref name="runs"/> timed ones (ms each).</summary>
    static double[] Block(Action run, int runs)
    {
        run();
        var times = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long start = Stopwatch.GetTimestamp();
            run();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        return times;
    }

    /// <summary>The median as the sample's own line takes it: the middle one of the sorted times (the upper one of an even count).</summary>
    static double Median(IEnumerable<double> times)
    {
        var sorted = times.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}
