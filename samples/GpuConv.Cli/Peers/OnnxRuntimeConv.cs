using System.Diagnostics;
using GpuConv.Conv;
using Microsoft.ML.OnnxRuntime;

namespace GpuConv.Cli.Peers;

/// <summary>
/// The ONNX Runtime peer: one layer as a one-node ONNX model (weights and bias as initializers, as in a
/// real exported network): a Conv of any rank for a forward problem, a ConvTranspose for a backward-data
/// one (a transposed layer; see <see cref="ConvProblem.Create"/>), run by ORT's CPU execution provider with a fixed
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

    /// <param name="problem">A forward problem (a Conv) or a backward-data one (a ConvTranspose from Y's K channels to X's C).</param>
    /// <param name="x">The layer's input, N C… (X of a forward problem, Y of a backward-data one; kept and read on every run).</param>
    /// <param name="w">Weights [K, C/g, k…] (for ConvTranspose this is ONNX's [C_in, C_out/group, k…]).</param>
    /// <param name="bias">Optional per-output-channel bias (<see cref="ConvProblem.BiasLength"/>).</param>
    /// <param name="y">The layer's output buffer ORT writes on every run (Y, or X of a backward-data problem).</param>
    /// <param name="threads">Intra-op threads (the same count the GpuConv side uses).</param>
    public OnnxRuntimeConv(ConvProblem problem, float[] x, float[] w, float[]? bias, float[] y, int threads)
    {
        ArgumentNullException.ThrowIfNull(problem);
        if (problem.Op == ConvOp.BackwardFilter)
            throw new ArgumentException($"the ONNX Runtime peer runs a layer's forward pass (Conv, or ConvTranspose as backward data), got {problem.Op}.", nameof(problem));
        if (threads < 1)
            throw new ArgumentException($"threads must be >= 1, got {threads}.", nameof(threads));
        var spec = problem.Spec;
        bool transposed = problem.Op == ConvOp.BackwardData;
        var (input, output) = transposed ? (problem.YShape, problem.XShape) : (problem.XShape, problem.YShape);
        long[] xs = [.. input.Dims.Select(d => (long)d)], ys = [.. output.Dims.Select(d => (long)d)];
        byte[] model = OnnxConvModel.Build(xs, ys, w, [.. problem.WShape.Dims.Select(d => (long)d)], bias,
            [.. spec.Kernel], [.. spec.Stride], [.. spec.PadBegin], [.. spec.PadEnd], [.. spec.Dilation], spec.Groups,
            transposed ? OutputPadding(problem) : null);
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

    /// <summary>
    /// ConvTranspose's output_padding for a backward-data problem: what X has beyond the size ONNX derives,
    /// stride·(in − 1) + dilation·(k − 1) + 1 − pads (the spec keeps it only in X's shape).
    /// </summary>
    public static int[] OutputPadding(ConvProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        var s = problem.Spec;
        var padding = new int[problem.Rank];
        for (int d = 0; d < padding.Length; d++)
        {
            long derived = (long)s.Stride[d] * (problem.YShape[2 + d] - 1) + (long)s.Dilation[d] * (s.Kernel[d] - 1) + 1 - s.PadBegin[d] - s.PadEnd[d];
            padding[d] = checked((int)(problem.XShape[2 + d] - derived));
        }
        return padding;
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
