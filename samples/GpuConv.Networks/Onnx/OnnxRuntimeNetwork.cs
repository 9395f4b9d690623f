using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;

namespace GpuConv.Networks.Onnx;

/// <summary>
/// A whole network in ONNX Runtime's CPU execution provider, configured as the CLI's layer peer
/// (samples/GpuConv.Cli/Peers/OnnxRuntimeConv.cs): every graph optimisation (ORT_ENABLE_ALL: its Conv + activation and
/// Conv + Add fusions, NCHWc layouts), a fixed intra-op thread count, spinning workers, sequential execution. The input
/// and the logits are bound once to the caller's arrays (IOBinding), so a timed run is ORT's network and nothing else:
/// no input copy, no output allocation or copy.
/// </summary>
public sealed class OnnxRuntimeNetwork : IDisposable
{
    readonly SessionOptions options;
    readonly InferenceSession session;
    readonly OrtValue input, output;
    readonly OrtIoBinding binding;
    readonly RunOptions run = new();

    /// <param name="model">The ONNX model (<see cref="OnnxGraph.ToModel"/>): input "input", output "logits".</param>
    /// <param name="x">The input [N, C, H, W] flattened, read on every run.</param>
    /// <param name="inputDims">x's shape.</param>
    /// <param name="logits">Where every run writes the logits [N, classes].</param>
    /// <param name="threads">Intra-op threads (the count the GpuConv engine's CPU backend uses).</param>
    /// <param name="profilePrefix">Non-null: ORT's profiler on, its JSON file named from this prefix (<see cref="EndProfiling"/>).</param>
    public OnnxRuntimeNetwork(byte[] model, float[] x, long[] inputDims, float[] logits, int threads, string? profilePrefix = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (threads < 1) throw new ArgumentException($"threads must be >= 1, got {threads}.", nameof(threads));
        if (inputDims.Aggregate(1L, (a, d) => a * d) != x.Length)
            throw new ArgumentException($"x has {x.Length} elements, its shape [{string.Join(", ", inputDims)}] says otherwise.", nameof(x));
        long batch = inputDims[0];
        if (logits.Length % batch != 0)
            throw new ArgumentException($"logits has {logits.Length} elements, not a multiple of the batch {batch}.", nameof(logits));
        options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        if (profilePrefix is not null)
        {
            options.EnableProfiling = true;
            options.ProfileOutputPathPrefix = profilePrefix;
        }
        // Spinning workers keep ORT's thread pool hot between layers and runs (its default; said so it is not left to it).
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "1");
        try
        {
            session = new InferenceSession(model, options);
            input = OrtValue.CreateTensorValueFromMemory(x, inputDims);
            output = OrtValue.CreateTensorValueFromMemory(logits, [batch, logits.Length / batch]);
            binding = session.CreateIoBinding();
            binding.BindInput(OnnxGraph.InputName, input);
            binding.BindOutput(OnnxGraph.OutputName, output);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>One run into the bound logits array.</summary>
    public void Run() => session.RunWithBinding(run, binding);

    /// <summary>Milliseconds of one run.</summary>
    public double TimeRun()
    {
        long start = Stopwatch.GetTimestamp();
        Run();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    /// <summary>Stops a profiling session's profiler and returns the path of the JSON file it wrote.</summary>
    public string EndProfiling() => session.EndProfiling();

    /// <summary>The ONNX Runtime version string (for the result lines).</summary>
    public static string Version => OrtEnv.Instance().GetVersionString();

    public void Dispose()
    {
        binding?.Dispose();
        input?.Dispose();
        output?.Dispose();
        run.Dispose();
        session?.Dispose();
        options.Dispose();
    }
}
