using System.Diagnostics;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;
using static System.FormattableString;

namespace GpuConv.Cli.Commands;

/// <summary>
/// probe's overhead section: what the engine adds per call over the call beneath it, on a convolution so
/// small that the host side is all there is. Tensors live in the engine's memory (device-resident calls,
/// no copies) and the plan is made before timing. Three ways of making the same convolution, each timed by
/// the wall clock over N back-to-back calls between two stream synchronisations, best of
/// <see cref="Rounds"/> rounds: the engine's Forward on tensors; the backend's own call with the planned
/// algorithm (Enqueue for stream-ordered GPU backends, Run for cpu); and the bare call — cudnnConvolutionForward
/// through the binding with descriptors and workspace made once for cudnn, the backend's call again for ptx
/// and cpu (there is nothing lower to call). Engine over bare is the difference of the per-call times.
/// Also reports the bytes the engine allocates per call on this thread (a warm call should allocate little).
/// </summary>
internal static class ProbeOverhead
{
    /// <summary>x [1,8,8,8], w [8,8,3,3], padding 1: a few microseconds of arithmetic.</summary>
    public static readonly ConvSpec Spec = new([3, 3], padBegin: [1]);
    public static readonly TensorShape XShape = new(1, 8, 8, 8);
    public static readonly TensorShape WShape = new(8, 8, 3, 3);

    /// <summary>Timed rounds per way; the fastest counts (the least disturbed by other work on the machine).</summary>
    public const int Rounds = 5;

    /// <summary>Runs the section; false when a result disagreed with the reference.</summary>
    public static bool Run(ConvEngine engine, ProbeSettings settings, CliIO io)
    {
        var problem = ConvProblem.Create(Spec, XShape, WShape);
        var hostX = HostTensor.Random(XShape, seed: 1);
        var hostW = HostTensor.Random(WShape, seed: 2);
        double[] reference = ReferenceConv.Forward(problem, hostX.Data, hostW.Data);
        var plan = engine.GetPlan(problem);
        var backend = engine.Backends.First(b => b.Name == plan.Backend);
        string on = $"x {Dims(XShape)} w {Dims(WShape)} pad 1 with {plan.Algorithm.Key}";
        io.Out.WriteLine($"== overhead: {on}; plan {plan.Source} ({plan.Why}); {settings.Calls} back-to-back calls per round, best of {Rounds} rounds");

        var owned = new List<Tensor>();
        try
        {
            Tensor Own(Tensor t) { owned.Add(t); return t; }
            var x = Own(engine.Upload(hostX));
            var w = Own(engine.Upload(hostW));
            var y = Own(engine.Allocate(problem.YShape));
            var tensors = new ConvTensors(x, w, y);

            Action engineCall = () => engine.Forward(Spec, x, w, output: y);
            Action backendCall = backend is IStreamOrderedBackend ordered
                ? () => ordered.Enqueue(problem, plan.Algorithm, tensors)
                : () => backend.Run(problem, plan.Algorithm, tensors);
            using var bare = ProbeBareCall.For(engine, backend, problem, plan.Algorithm, tensors, backendCall);
            Action sync = engine.Synchronize;

            // Warm: JIT, the backend's prepared state, the pool's blocks.
            int warm = Math.Clamp(settings.Calls, 10, 500);
            foreach (var call in new[] { engineCall, backendCall, bare.Call })
                Repeat(call, sync, warm);

            bool ok = Check(io, engine, y, reference, "engine");
            long engineBytes = AllocatedPerCall(engineCall, sync, Math.Min(settings.Calls, 1000));
            long backendBytes = AllocatedPerCall(backendCall, sync, Math.Min(settings.Calls, 1000));

            double engineUs = double.MaxValue, backendUs = double.MaxValue, bareUs = double.MaxValue;
            for (int r = 0; r < Rounds; r++)
            {
                engineUs = Math.Min(engineUs, Repeat(engineCall, sync, settings.Calls));
                backendUs = Math.Min(backendUs, Repeat(backendCall, sync, settings.Calls));
                bareUs = Math.Min(bareUs, Repeat(bare.Call, sync, settings.Calls));
            }
            engine.Upload(new float[problem.YShape.ElementCountInt], y);
            bare.Call();
            ok &= Check(io, engine, y, reference, "bare call");

            io.Out.WriteLine(Invariant($"allocated per warm call on the calling thread: engine {engineBytes} B, backend {backendBytes} B"));
            io.Out.WriteLine(Invariant($"backend: {(backend is IStreamOrderedBackend ? $"{backend.Name} Enqueue" : $"{backend.Name} Run")}; bare: {bare.Description}"));
            io.Out.WriteLine(Invariant(
                $"overhead: engine {engineUs:F2} us/call, backend {backendUs:F2} us/call, bare {bareUs:F2} us/call; engine over bare {engineUs - bareUs:F2} us (goal < 5 us) on {on}, {settings.Calls} calls; bare is {bare.Description}"));
            return ok;
        }
        finally
        {
            engine.Synchronize();
            foreach (IDisposable t in owned) t.Dispose();
        }
    }

    /// <summary>Microseconds per call: <paramref name="calls"/> calls back to back between two synchronisations.</summary>
    static double Repeat(Action call, Action sync, int calls)
    {
        sync();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < calls; i++) call();
        sync();
        return Stopwatch.GetElapsedTime(start).TotalMicroseconds / calls;
    }

    /// <summary>Bytes allocated on this thread per call (deterministic for a warm call, unlike its time).</summary>
    static long AllocatedPerCall(Action call, Action sync, int calls)
    {
        sync();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < calls; i++) call();
        long after = GC.GetAllocatedBytesForCurrentThread();
        sync();
        return (after - before) / calls;
    }

    /// <summary>Downloads <paramref name="y"/> and compares it with the float64 reference; prints the error.</summary>
    static bool Check(CliIO io, ConvEngine engine, Tensor y, double[] reference, string what)
    {
        var result = engine.Download(y);
        var error = ErrorMetrics.Compare(result.Data, reference);
        bool ok = error.MaxRelative <= ProbeJob.Tolerance;
        io.Out.WriteLine(Invariant($"{what} result against the float64 reference: max rel {error.MaxRelative:E2} ({(ok ? "ok" : "MISMATCH")}, tolerance {ProbeJob.Tolerance:E0})"));
        return ok;
    }

    static string Dims(TensorShape s) => "[" + string.Join(",", s.Dims) + "]";
}
