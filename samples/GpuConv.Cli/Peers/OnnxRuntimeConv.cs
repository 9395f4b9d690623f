using System.Diagnostics;
using GpuConv.Conv;
using Microsoft.ML.OnnxRuntime;

namespace GpuConv.Cli.Peers;

/// <summary>
/// The ONNX Runtime peer: one forward convolution as a one-node ONNX model (weights and bias as
/// initializers, as in a real exported network) run by ORT's CPU execution provider with a fixed
/// intra-op thread count. Input and output are bound once to our own arrays (IOBinding), so a timed
/// run is ORT's kernel and nothing else: no allocation, no output copy.
/// </summary>
public sealed class OnnxRuntimeConv : IDisposable
{
    readonly SessionOptions _options;
    readonly InferenceSession _session;
    readonly OrtValue _input, _output;
    readonly OrtIoBinding _binding;
    readonly RunOptions _run = new();

    /// <param name="problem">A forward problem (the underlying convolution; transposed problems are not a Conv node).</param>
    /// <param name="x">Input NC… data (kept and read on every run).</param>
    /// <param name="w">Weights [K, C/g, k…].</param>
    /// <param name="bias">Optional per-output-channel bias.</param>
    /// <param name="y">Output buffer ORT writes on every run.</param>
    /// <param name="threads">Intra-op threads (the same count the GpuConv side uses).</param>
    public OnnxRuntimeConv(ConvProblem problem, float[] x, float[] w, float[]? bias, float[] y, int threads)
    {
        ArgumentNullException.ThrowIfNull(problem);
        if (problem.Op != ConvOp.Forward)
            throw new ArgumentException($"the ONNX Runtime peer runs forward convolutions only, got {problem.Op}.", nameof(problem));
        if (threads < 1)
            throw new ArgumentException($"threads must be >= 1, got {threads}.", nameof(threads));
        var spec = problem.Spec;
        long[] xs = [.. problem.XShape.Dims.Select(d => (long)d)], ys = [.. problem.YShape.Dims.Select(d => (long)d)];
        byte[] model = OnnxConvModel.Build(xs, ys, w, [.. problem.WShape.Dims.Select(d => (long)d)], bias,
            [.. spec.Kernel], [.. spec.Stride], [.. spec.PadBegin], [.. spec.PadEnd], [.. spec.Dilation], spec.Groups);
        _options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        // Spinning workers keep ORT's thread pool hot between runs, as it is between layers of a network.
        _options.AddSessionConfigEntry("session.intra_op.allow_spinning", "1");
        _session = new InferenceSession(model, _options);
        _input = OrtValue.CreateTensorValueFromMemory(x, xs);
        _output = OrtValue.CreateTensorValueFromMemory(y, ys);
        _binding = _session.CreateIoBinding();
        _binding.BindInput("X", _input);
        _binding.BindOutput("Y", _output);
    }

    /// <summary>One run into the bound output array.</summary>
    public void Run() => _session.RunWithBinding(_run, _binding);

    /// <summary>Milliseconds of one run.</summary>
    public double TimeRun()
    {
        long start = Stopwatch.GetTimestamp();
        Run();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    /// <summary>The ONNX Runtime version string (for result tables).</summary>
    public static string Version => OrtEnv.Instance().GetVersionString();

    public void Dispose()
    {
        _binding.Dispose();
        _input.Dispose();
        _output.Dispose();
        _run.Dispose();
        _session.Dispose();
        _options.Dispose();
    }
}
