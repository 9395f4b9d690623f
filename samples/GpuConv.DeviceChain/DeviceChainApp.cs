using System.Diagnostics;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.DeviceChain;

/// <summary>What a run found: where it ran, the plans, and every check's error against its tolerance.</summary>
public sealed record ChainResult(
    string Memory,
    string? GpuUnavailableReason,
    IReadOnlyList<string> Plans,
    int PlansInCacheAtStart,
    double WorstVsCpu,
    double? WorstVsReference,
    TrainingStep.Result? Training,
    double BatchesPerSecond)
{
    /// <summary>fp32 chains of six layers against the CPU backend and the float64 reference: max |error| / max |reference|.</summary>
    public const double Tolerance = 1e-4;

    public bool Passed =>
        WorstVsCpu <= Tolerance
        && (WorstVsReference is not { } r || r <= Tolerance)
        && (Training is not { } t || (t.WeightGradient.MaxRelative <= Tolerance && t.BiasGradient.MaxRelative <= Tolerance && t.InputGradient.MaxRelative <= Tolerance));
}

/// <summary>
/// The sample's core: open an engine (GPU if usable, else the CPU with the reason), upload the weights once, run
/// batches through the network with every activation on the device, download each result once, and check the
/// results against the same network on the CPU backend (every batch) and the float64 reference (the first batch).
/// </summary>
public static class DeviceChainApp
{
    public static ChainResult Run(ChainOptions o)
    {
        o.Validate();
        var layers = TinyNet.Create();
        var inputShape = new TensorShape(o.Batch, TinyNet.InputChannels, o.Height, o.Width);
        var engineOptions = new ConvEngineOptions
        {
            Device = o.Cpu ? DeviceKind.Cpu : DeviceKind.Auto,
            Backend = o.Backend,
            PlanCachePath = o.PlanCachePath,
            PersistPlans = o.PlanCachePath is not null,
        };
        using var engine = ConvEngine.Open(engineOptions);
        var shared = engine;
        string memory = engine.Memory.Kind == MemoryKind.Device ? "GPU memory" : "host memory";
        o.Out.WriteLine($"device: {engine.Device}; tensors in {memory}");
        if (engine.GpuUnavailableReason is { } why)
            o.Out.WriteLine($"GPU path off: {why} — running on the CPU (same code, tensors in host memory)");
        int cachedAtStart = engine.Cache.Count;

        // Batches per thread; thread t's batch i comes from seed 1000·t + i, so every run sees the same data.
        var inputs = Enumerable.Range(0, o.Threads).Select(t =>
            Enumerable.Range(0, o.Batches).Select(i => HostTensor.Random(inputShape, seed: 1000 * t + i)).ToArray()).ToArray();
        var outputs = new HostTensor[o.Threads][];

        // Warm-up, one thread: plans each layer (from the cache when it has them) and records which ran.
        var plans = new List<string>();
        using (var warm = new DeviceNetwork(engine, layers, inputShape))
        {
            engine.Upload(inputs[0][0].Data, warm.Input);
            warm.Run(onLayer: (i, plan) => plans.Add($"{layers[i].Name}: {plan}"));
            engine.Synchronize();
        }
        foreach (var p in plans) o.Out.WriteLine($"  {p}");

        var clock = Stopwatch.StartNew();
        var failures = new Exception?[o.Threads];
        var threads = Enumerable.Range(0, o.Threads).Select(t => new Thread(() =>
        {
            try { outputs[t] = RunBatches(t); }
            catch (Exception e) { failures[t] = e; }
        })).ToArray();
        HostTensor[] RunBatches(int t)
        {
            // One engine per thread: its own stream (a download waits for this thread's work only) and its own copy
            // of the weights (tensors belong to the engine that made them). Else every thread shares the one engine.
            using var own = o.EnginePerThread ? ConvEngine.Open(engineOptions) : null;
            var engine = own ?? shared;
            using var net = new DeviceNetwork(engine, layers, inputShape);
            var results = new HostTensor[o.Batches];
            for (int i = 0; i < o.Batches; i++)
            {
                results[i] = new HostTensor(net.Output.Shape);
                lock (o.Trace) o.Trace.WriteLine($"[devicechain] begin batch {t}.{i}");
                engine.Upload(inputs[t][i].Data, net.Input);           // the only upload
                net.Run();                                              // six layers, no host wait
                engine.Download(net.Output, results[i].Data);           // waits, the only download
                lock (o.Trace) o.Trace.WriteLine($"[devicechain] end batch {t}.{i}");
            }
            return results;
        }
        foreach (var th in threads) th.Start();
        foreach (var th in threads) th.Join();
        clock.Stop();
        if (failures.OfType<Exception>().ToArray() is { Length: > 0 } failed)
            throw failed.Length == 1 ? failed[0] : new AggregateException("caller threads failed", failed);
        double perSecond = o.Threads * o.Batches / clock.Elapsed.TotalSeconds;
        o.Out.WriteLine($"{o.Threads * o.Batches} batches of {inputShape} on {o.Threads} thread(s){(o.EnginePerThread ? ", an engine each" : "")}: {clock.Elapsed.TotalMilliseconds:0.#} ms ({perSecond:0.#} batches/s)");

        // The same network on the CPU backend through host tensors, every batch.
        double worstCpu = 0;
        using (var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false }))
            for (int t = 0; t < o.Threads; t++)
                for (int i = 0; i < o.Batches; i++)
                {
                    var expected = HostNetwork.RunOnEngine(cpu, layers, inputs[t][i]);
                    worstCpu = Math.Max(worstCpu, MaxRelative(outputs[t][i].Data, expected.Data.Select(v => (double)v).ToArray()));
                }
        o.Out.WriteLine($"vs the CPU backend: max rel error {worstCpu:E2} over {o.Threads * o.Batches} batches (tolerance {ChainResult.Tolerance:E0})");

        double? worstRef = null;
        if (o.Reference)
        {
            worstRef = MaxRelative(outputs[0][0].Data, HostNetwork.RunReference(layers, inputs[0][0]));
            o.Out.WriteLine($"vs the float64 reference (batch 0): max rel error {worstRef:E2} (tolerance {ChainResult.Tolerance:E0})");
        }

        TrainingStep.Result? training = null;
        if (o.Train)
        {
            using var net = new DeviceNetwork(engine, layers, inputShape);
            var micro = Enumerable.Range(0, 2).Select(i => HostTensor.Random(inputShape, seed: 500 + i)).ToArray();
            var targets = Enumerable.Range(0, 2).Select(i => HostTensor.Random(net.Output.Shape, seed: 600 + i)).ToArray();
            training = TrainingStep.Run(engine, net, micro, targets);
            o.Out.WriteLine($"training step (head layer, {training.MicroBatches} micro-batches accumulated) vs float64: " +
                $"dW {training.WeightGradient.MaxRelative:E2}, db {training.BiasGradient.MaxRelative:E2}, dx {training.InputGradient.MaxRelative:E2}");
        }
        var result = new ChainResult(memory, engine.GpuUnavailableReason, plans, cachedAtStart, worstCpu, worstRef, training, perSecond);
        o.Out.WriteLine(result.Passed ? "devicechain: PASS" : "devicechain: FAIL");
        return result;
    }

    /// <summary>max |actual − expected| / max |expected| (docs/samples.md's measure; a NaN or infinity where the expected value is finite counts as infinite).</summary>
    static double MaxRelative(float[] actual, double[] expected) => ErrorMetrics.Compare(actual, expected).MaxRelative;
}
