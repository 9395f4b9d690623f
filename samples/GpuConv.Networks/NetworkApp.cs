using System.Diagnostics;
using GpuConv.Networks.ConvNeXt;
using GpuConv.Networks.InvertedResiduals;
using GpuConv.Networks.Onnx;
using GpuConv.Networks.ResNet50;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Networks;

/// <summary>What a run found: where it ran, the timings, and the error against float64.</summary>
public sealed record NetworkResult(string Memory, string? GpuUnavailableReason, double FirstRunMs, double MedianRunMs, double? MaxRelativeError, float[] Logits,
    PeerComparison? Peer = null)
{
    /// <summary>With <c>--profile</c>: GpuConv's steps, each timed between two synchronizations; null otherwise.</summary>
    public IReadOnlyList<ProfileStep>? Profile { get; init; }

    /// <summary>max |error| / max |reference| over the logits, fp32 through ~53 convolutions against float64 (or against
    /// the CPU engine's fp32: both sides then err by ~1e-6, so the same bound holds with room).</summary>
    public const double Tolerance = 1e-4;

    /// <summary>The check passed (or none ran) and, with a peer, its logits agree with GpuConv's.</summary>
    public bool Passed => (MaxRelativeError is not { } e || e <= Tolerance) && Peer is not { Agrees: false };

    /// <summary>The process's exit status for this result: 0 passed, 1 the result (or the peer's) was off.</summary>
    public int ExitCode => Passed ? 0 : 1;
}

/// <summary>
/// The sample's core, the same for every network: open an engine (GPU if usable, else the CPU with the reason), build
/// the network with random weights, fold its BatchNorms, upload the weights once, then per run upload the batch once,
/// run every layer on the device and download the logits once; check them against the unfolded network in float64.
/// With <c>--vs onnxruntime</c>, the same folded network in ONNX Runtime too (<see cref="OnnxRuntimeComparison"/>: logits
/// compared, both timed).
/// </summary>
public static class NetworkApp
{
    public const int InputChannels = 3;

    /// <summary>The network <paramref name="model"/> with random weights from <paramref name="seed"/>.</summary>
    public static INetworkModel Create(NetworkModel model, int seed, int classes) => model switch
    {
        NetworkModel.ResNet50 => ResNet50Model.Create(seed, classes),
        NetworkModel.MobileNetV2 => MobileNetV2Model.Create(seed, classes),
        NetworkModel.MobileNetV3 => MobileNetV3Model.Create(seed, classes),
        NetworkModel.EfficientNetB0 => EfficientNetB0Model.Create(seed, classes),
        NetworkModel.ConvNeXtTiny => ConvNeXtModel.Create(seed, classes),
        _ => throw new ArgumentException($"Model must be {NetworkOptions.ModelNames}, got {(int)model}.", nameof(model)),
    };

    public static NetworkResult Run(NetworkOptions o)
    {
        o.Validate();
        string key = o.Key;
        var model = Create(o.Model, o.Seed, o.Classes);
        var input = HostTensor.Random(new TensorShape(o.Batch, InputChannels, o.Size, o.Size), o.Seed + 1);
        using var engine = ConvEngine.Open(new ConvEngineOptions
        {
            // The ONNX Runtime peer is a CPU runtime: the comparison is with GpuConv's CPU path.
            Device = o.Cpu || o.Vs is not null ? DeviceKind.Cpu : DeviceKind.Auto, Backend = o.Backend, Policy = o.Policy, CpuThreads = o.Threads,
            PlanCachePath = o.PlanCache, PersistPlans = o.PlanCache is not null,
        });
        string memory = engine.Memory.Kind == MemoryKind.Device ? "GPU memory" : "host memory";
        o.Out.WriteLine($"device: {engine.Device}; tensors in {memory}");
        if (engine.GpuUnavailableReason is { } why)
            o.Out.WriteLine($"GPU path off: {why} — running on the CPU (same code, tensors in host memory)");
        o.Out.WriteLine($"{model.Summary}, input {input.Shape}");

        using var net = model.Place(engine, input.Shape, fused: !o.Unfused);
        o.Out.WriteLine($"activations: {net.ActivationBytes / 1e6:0.0} MB, reused once dead ({net.ActivationBytesWithoutReuse / 1e6:0.0} MB with a buffer each)");
        var logits = new float[net.Logits.Shape.ElementCountInt];
        // With GPUCONV_TRACE=1 the markers bracket each run's native calls (the fake-run tests count them).
        bool marked = Environment.GetEnvironmentVariable("GPUCONV_TRACE") == "1";
        double Once(int run)
        {
            if (marked) o.Trace.WriteLine($"[{key}] begin run {run}");
            var clock = Stopwatch.StartNew();
            engine.Upload(input.Data, net.Input);   // the only upload
            net.Run();                              // every layer, no host wait
            engine.Download(net.Logits, logits);    // the only download: waits for the work
            double ms = clock.Elapsed.TotalMilliseconds;
            if (marked) o.Trace.WriteLine($"[{key}] end run {run}");
            return ms;
        }
        double first = Once(0);
        // Untimed runs (unmarked) until the JIT has optimized the hot loops, where asked (see NetworkOptions.WarmupSeconds).
        string warmed = "";
        if (o.Vs is null && o.WarmUp > 0)
        {
            int n = Onnx.OnnxRuntimeComparison.WarmUp(() => { engine.Upload(input.Data, net.Input); net.Run(); engine.Download(net.Logits, logits); }, o.WarmUp);
            warmed = FormattableString.Invariant($", after {n} untimed runs in {o.WarmUp:0.#} s");
        }
        var times = Enumerable.Range(1, o.Runs).Select(Once).Order().ToArray();
        double median = times[times.Length / 2];
        o.Out.WriteLine($"first run (plans, weight preparation) {first:0.#} ms; median of {o.Runs} runs {median:0.##} ms{warmed} (upload + network + download, batch {o.Batch})");

        double? error = null;
        if (o.Check != NetworkCheck.None)
        {
            var clock = Stopwatch.StartNew();
            (double[] expected, string against) = o.Check == NetworkCheck.Cpu
                ? ([.. OnTheCpu(model, input).Select(v => (double)v)], "the folded network on the CPU engine (fp32)")
                : (model.Reference(input), "the unfolded network in float64");
            error = ErrorMetrics.Compare(logits, expected).MaxRelative;
            o.Out.WriteLine($"vs {against} ({clock.Elapsed.TotalSeconds:0.#} s): max rel error {error:E2} over {logits.Length} logits (tolerance {NetworkResult.Tolerance:E0})");
        }
        var result = new NetworkResult(memory, engine.GpuUnavailableReason, first, median, error, logits);
        // One line for scripts (gpu-check.sh's resnet50 step reads it beside build/<model>_torch.py's).
        // The backends the planner may pick for these tensors: those working in the tensors' memory.
        string backends = o.Backend ?? string.Join("+", engine.Backends.Where(b => b.Memory.Kind == engine.Memory.Kind).Select(b => b.Name)) + " (planner's choice)";
        string verdict = error is { } e ? $"max rel error {e:E2} vs {(o.Check == NetworkCheck.Cpu ? "CPU engine fp32" : "float64")} {(result.Passed ? "PASS" : "FAIL")}" : "not checked";
        o.Out.WriteLine(FormattableString.Invariant(
            $"{key}[gpuconv]: batch {o.Batch} median {median:0.000} ms wall, first {first:0.0} ms, {o.Runs} runs; {verdict} (backend {backends}, policy {o.Policy.ToString().ToLowerInvariant()}, {engine.Device}, {memory}, size {o.Size})"));
        // After the result line, so that a script reading it has it whatever the profile does.
        if (o.Profile) result = result with { Profile = ProfileSteps(o, engine, net, input) };
        if (o.Vs is NetworkPeer.OnnxRuntime)
            result = result with { Peer = OnnxRuntimeComparison.Run(o, model, engine, net, input) };
        o.Out.WriteLine(result.Passed ? $"{key}: PASS" : $"{key}: FAIL");
        return result;
    }

    /// <summary>
    /// <see cref="NetworkOptions.Runs"/> runs with <see cref="DeviceNetwork.Profile"/> set, after the timed ones (so their
    /// median is not the profile's: every step synchronizes); prints the steps and returns them.
    /// </summary>
    static IReadOnlyList<ProfileStep> ProfileSteps(NetworkOptions o, ConvEngine engine, DeviceNetwork net, HostTensor input)
    {
        engine.Upload(input.Data, net.Input);
        // Untimed runs first unless the sample's own runs were warmed up: right after a few runs part of GpuConv's code is
        // still the JIT's first, unoptimized form (MobileNetV3-Large's SE scalings read 150–280 µs at two threads so,
        // 6–10 µs warm; see NetworkOptions.WarmupSeconds). --warmup-seconds 0 asks for none: the first runs' profile.
        double warm = o.WarmupSeconds == 0 || (o.Vs is null && o.WarmUp > 0) ? 0 : Math.Max(o.WarmUp, 2);
        int warmRuns = warm > 0 ? OnnxRuntimeComparison.WarmUp(() => { net.Run(); engine.Synchronize(); }, warm) : 0;
        var profile = new NetworkProfile();
        net.Profile = profile;
        try
        {
            for (int i = 0; i < o.Runs; i++)
            {
                net.Run();
                profile.EndRun();
            }
        }
        finally
        {
            net.Profile = null;
        }
        string how = engine.Memory.Kind == MemoryKind.Device
            ? "each engine call between two stream synchronizations (its kernels, its launches and one host wait)"
            : "each engine call between two synchronizations (the CPU engine's calls return done)";
        if (warmRuns > 0) how += FormattableString.Invariant($", after {warmRuns} untimed runs in {warm:0.#} s");
        NetworkProfile.Print(o.Out, o.Key, "gpuconv", profile.Steps, profile.Runs, how);
        return profile.Steps;
    }

    /// <summary>The same folded network on a CPU engine (every core, strict fp32): the check that costs well under a second.</summary>
    static float[] OnTheCpu(INetworkModel model, HostTensor input)
    {
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        using var net = model.Place(cpu, input.Shape);
        cpu.Upload(input.Data, net.Input);
        net.Run();
        return cpu.Download(net.Logits).Data;
    }
}
