using GpuConv.Backends;
using GpuConv.Cli.Peers;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Tensors;

namespace GpuConv.Cli.Commands;

/// <summary>What the bench measured for one shape (peer fields null without --vs).</summary>
public sealed record BenchResult(
    BenchShape Shape, string Backend, string Algorithm, double MedianMs, double Gflops,
    double? PeerMs = null, double? PeerGflops = null, double? RelativeError = null)
{
    /// <summary>GpuConv throughput / peer throughput (&gt; 1: GpuConv is faster).</summary>
    public double? Ratio => PeerMs is { } p ? p / MedianMs : null;
}

/// <summary>How the bench picks a backend's algorithm: its own first choice, or the fastest measured.</summary>
public enum BenchPolicy { Heuristic, Exhaustive }

/// <summary>
/// Times one shape on a backend (and on ONNX Runtime with the same inputs and thread count):
/// warm-up runs, then repeated runs interleaved with the peer's so both see the same machine
/// noise, and the median of each. Checks the two outputs agree.
/// </summary>
public sealed class BenchRunner(IConvBackend backend, int threads, BenchPolicy policy, bool withPeer, int warmup, int repeat)
{
    public BenchResult Run(BenchShape shape, int seed)
    {
        var p = shape.Problem;
        var mem = backend.Memory;
        var x = HostTensor.Random(p.XShape, seed);
        var w = HostTensor.Random(p.WShape, seed + 1);
        var bias = HostTensor.Random(new TensorShape(p.K), seed + 2);
        var tensors = new ConvTensors(ToBackend(x), ToBackend(w), mem.Allocate(p.YShape), ToBackend(bias));
        var algorithm = Choose(p, tensors);

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
                return new BenchResult(shape, backend.Name, algorithm.Name, ms, gflops);
            var y = new float[p.YShape.ElementCountInt];
            mem.CopyToHost(tensors.Y, y);
            var error = ErrorMetrics.Compare(y, Array.ConvertAll(peerY!, v => (double)v));
            double peerMs = Median(theirs);
            return new BenchResult(shape, backend.Name, algorithm.Name, ms, gflops, peerMs, p.Flops / peerMs / 1e6, error.MaxRelative);
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

    ConvAlgorithm Choose(ConvProblem p, ConvTensors tensors)
    {
        if (backend.WhyUnsupported(p) is { } why)
            throw new InvalidOperationException($"backend {backend.Name} cannot run {p}: {why}");
        var candidates = backend.GetAlgorithms(p, ConvPrecision.Strict);
        if (policy == BenchPolicy.Heuristic || candidates.Count == 1) return candidates[0];
        ConvAlgorithm? best = null;
        double bestMs = double.PositiveInfinity;
        foreach (var a in candidates)
        {
            try
            {
                backend.Run(p, a, tensors);
                var times = Enumerable.Range(0, 3).Select(_ => backend.TimeRun(p, a, tensors)).ToList();
                double ms = Median(times);
                if (ms < bestMs) (best, bestMs) = (a, ms);
            }
            catch (WorkspaceAllocationException)
            {
                // The next candidate may fit.
            }
        }
        return best ?? throw new InvalidOperationException($"no candidate of {backend.Name} could run {p}.");
    }

    static double Median(List<double> values)
    {
        values.Sort();
        int n = values.Count;
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }
}
