using System.Diagnostics;
using GpuConv.Backends;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Networks.Onnx;

/// <summary>What <c>--vs onnxruntime</c> measured: both sides' medians (the network only), ORT's first run, and how far apart the logits are.</summary>
public sealed record PeerComparison(string Peer, int Threads, double GpuConvMs, double PeerMs, double PeerFirstMs, double MaxRelativeError)
{
    /// <summary>Peer time / GpuConv time: &gt; 1 means GpuConv is faster (the CLI's bench ratio, the same way round).</summary>
    public double Ratio => PeerMs / GpuConvMs;

    /// <summary>Two fp32 runs of the same folded network, each ~1e-6 from float64: the same bound as the float64 check, with room.</summary>
    public bool Agrees => MaxRelativeError <= NetworkResult.Tolerance;
}

/// <summary>
/// The whole network in ONNX Runtime against GpuConv's CPU path, the same folded weights and the same input. Both sides
/// time the network only, each in its own block after warm-up, the median of the runs: GpuConv's
/// <see cref="DeviceNetwork.Run"/> + <see cref="ConvEngine.Synchronize"/> with the input uploaded before the block and
/// the logits left in engine memory (on the CPU path "upload" and "download" are host copies, left out so neither side
/// times a copy); ONNX Runtime's RunWithBinding with the input and the logits bound to arrays (no copy). GpuConv runs
/// first, before the ORT session exists: ORT's workers spin after each run and would take a core from GpuConv's timing
/// (the CLI's bench orders its layer peer the same way).
/// </summary>
public static class OnnxRuntimeComparison
{
    public const string PeerName = "onnxruntime";

    public static PeerComparison Run(NetworkOptions o, INetworkModel model, ConvEngine engine, DeviceNetwork net, HostTensor input)
    {
        string key = o.Key;
        // The engine's CPU threads as resolved (every core when --threads is left out): ORT gets the same count.
        int threads = engine.Backends.OfType<CpuBackend>().FirstOrDefault()?.MaxDegreeOfParallelism ?? o.Threads ?? Environment.ProcessorCount;

        engine.Upload(input.Data, net.Input);
        var gpuconvTimes = Time(() => { net.Run(); engine.Synchronize(); }, o.Runs, warmup: 1);
        var ours = engine.Download(net.Logits).Data;
        double gpuconvMs = Median(gpuconvTimes);
        o.Out.WriteLine(FormattableString.Invariant(
            $"{key}[gpuconv, network only]: batch {o.Batch} median {gpuconvMs:0.000} ms, {o.Runs} runs (Run + Synchronize; input uploaded before, logits left in engine memory; {threads} CPU threads, {engine.Device})"));

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
        var logits = new float[ours.Length];
        using var ort = new OnnxRuntimeNetwork(onnx, input.Data, [.. input.Shape.Dims.Select(d => (long)d)], logits, threads);
        double sessionS = clock.Elapsed.TotalSeconds;
        onnx = null;
        o.Out.WriteLine($"ONNX Runtime {OnnxRuntimeNetwork.Version}, CPU provider: model {written}; session (ORT_ENABLE_ALL, {threads} intra-op threads, spinning) {sessionS:0.0} s");
        double first = ort.TimeRun();
        var peerTimes = Time(() => ort.Run(), o.Runs, warmup: 1);
        double peerMs = Median(peerTimes);
        o.Out.WriteLine(FormattableString.Invariant(
            $"{key}[{PeerName}]: batch {o.Batch} median {peerMs:0.000} ms, first {first:0.0} ms, {o.Runs} runs (RunWithBinding; input and logits bound to arrays, no copy; {threads} intra-op threads)"));

        double error = ErrorMetrics.Compare(logits, [.. ours.Select(v => (double)v)]).MaxRelative;
        var result = new PeerComparison(PeerName, threads, gpuconvMs, peerMs, first, error);
        o.Out.WriteLine(FormattableString.Invariant(
            $"{key}: {PeerName} / gpuconv = {result.Ratio:0.00} (> 1: GpuConv faster), both the network only; logits max rel error {error:E2} between the two (tolerance {NetworkResult.Tolerance:E0}) {(result.Agrees ? "PASS" : "FAIL")}"));
        return result;
    }

    /// <summary>Warm-up runs, then <paramref name="runs"/> timed ones (ms each). The garbage of the set-up (the model's
    /// bytes: ~100 MB for ResNet-50) is collected first, so no collection runs inside the block.</summary>
    static double[] Time(Action run, int runs, int warmup)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        for (int i = 0; i < warmup; i++) run();
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
    static double Median(double[] times) => times.Order().ElementAt(times.Length / 2);
}
