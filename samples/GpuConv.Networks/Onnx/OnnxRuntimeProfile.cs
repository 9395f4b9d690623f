using System.Text.Json;

namespace GpuConv.Networks.Onnx;

/// <summary>
/// ONNX Runtime's own per-node times for the network (<c>--profile</c> with <c>--vs onnxruntime</c>): a second session of
/// the same model with ORT's profiler on, run after the comparison's rounds. The profiler writes one "Node" event per
/// node kernel per run ("&lt;node&gt;_kernel_time", microseconds); each node's events after the warm-up runs are
/// averaged, in the order of the first run. The nodes are ORT's optimized graph (Conv fused with its activation or add,
/// NCHWc reorders, SiLU as QuickGelu), named by ORT, so they do not map one to one onto GpuConv's steps; and the
/// profiler costs a few µs per node itself (MobileNetV3-Large's nodes summed to 6.4 ms against a 5.9 ms unprofiled median).
/// </summary>
public static class OnnxRuntimeProfile
{
    /// <summary>Runs <paramref name="warmup"/> + <paramref name="runs"/> times in a profiling session; the last <paramref name="runs"/> are averaged.</summary>
    public static IReadOnlyList<ProfileStep> Measure(byte[] model, float[] x, long[] inputDims, float[] logits, int threads, int warmup, int runs)
    {
        string prefix = Path.Join(Path.GetTempPath(), $"gpuconv-ort-profile-{Environment.ProcessId}");
        string? file = null;
        try
        {
            using (var ort = new OnnxRuntimeNetwork(model, x, inputDims, logits, threads, profilePrefix: prefix))
            {
                for (int i = 0; i < warmup + runs; i++) ort.Run();
                file = ort.EndProfiling();
            }
            return NodeTimes(File.ReadAllText(file), warmup);
        }
        finally
        {
            if (file is not null) File.Delete(file);
        }
    }

    /// <summary>Each node's mean kernel time over its events after the first <paramref name="skip"/> (one per run), from ORT's profile JSON.</summary>
    public static IReadOnlyList<ProfileStep> NodeTimes(string json, int skip)
    {
        const string suffix = "_kernel_time";
        var order = new List<string>();
        var times = new Dictionary<string, List<double>>();
        using var doc = JsonDocument.Parse(json);
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (e.GetProperty("cat").GetString() != "Node") continue;
            string name = e.GetProperty("name").GetString() ?? "";
            if (!name.EndsWith(suffix, StringComparison.Ordinal)) continue;
            string op = e.TryGetProperty("args", out var a) && a.TryGetProperty("op_name", out var n) ? n.GetString() ?? "?" : "?";
            string label = $"{name[..^suffix.Length]} ({op})";
            if (!times.TryGetValue(label, out var list))
            {
                times[label] = list = [];
                order.Add(label);
            }
            list.Add(e.GetProperty("dur").GetDouble());
        }
        return [.. order.Select(l => new ProfileStep(l, times[l].Skip(skip).DefaultIfEmpty(0).Average()))];
    }
}
