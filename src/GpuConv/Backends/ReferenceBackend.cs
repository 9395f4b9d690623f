using System.Diagnostics;
using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Backends;

/// <summary>The float64 reference as a backend ("reference"): always available, never fast, last resort.</summary>
public sealed class ReferenceBackend : IConvBackend
{
    /// <summary>The backend's name, "reference".</summary>
    public const string BackendName = "reference";
    static readonly ConvAlgorithm Naive = new(BackendName, "naive-f64", 0, 0, Deterministic: true);

    /// <inheritdoc/>
    public string Name => BackendName;
    /// <inheritdoc/>
    public IMemorySpace Memory => HostMemorySpace.Instance;
    /// <inheritdoc/>
    public int Priority => 100;

    /// <summary>Always null: the reference runs every valid problem.</summary>
    public string? WhyUnsupported(ConvProblem problem) => null;

    /// <summary>The single algorithm "naive-f64", whatever the precision.</summary>
    public IReadOnlyList<ConvAlgorithm> GetAlgorithms(ConvProblem problem, ConvPrecision precision) => [Naive];

    /// <summary>Runs <see cref="ReferenceConv"/> in float64 and rounds the result into (or, with <see cref="ConvTensors.Accumulate"/>, the sum with) the output tensor (host tensors only).</summary>
    public void Run(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
    {
        // The same argument checks as CpuBackend.Run: a null was a NullReferenceException, another backend's algorithm ran silently.
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(algorithm);
        ArgumentNullException.ThrowIfNull(tensors);
        if (algorithm.Backend != BackendName)
            throw new ArgumentException($"algorithm {algorithm.Key} belongs to backend '{algorithm.Backend}', not '{BackendName}'.", nameof(algorithm));
        tensors.Validate(problem, MemoryKind.Host);
        var x = Host(tensors.X); var w = Host(tensors.W); var y = Host(tensors.Y); var b = Host(tensors.Bias);
        double[] result = problem.Op switch
        {
            ConvOp.Forward => ReferenceConv.Forward(problem, x, w, b),
            ConvOp.BackwardData => ReferenceConv.BackwardData(problem, y, w, b),
            _ => ReferenceConv.BackwardFilter(problem, x, y),
        };
        var target = problem.Op switch { ConvOp.Forward => tensors.Y, ConvOp.BackwardData => tensors.X, _ => tensors.W };
        var data = ((HostTensor)target!).Data;
        if (tensors.Accumulate)
            for (int i = 0; i < data.Length; i++) data[i] = (float)(data[i] + result[i]); // one rounding of the float64 sum
        else
            for (int i = 0; i < data.Length; i++) data[i] = (float)result[i];
    }

    /// <summary>Milliseconds of one <see cref="Run"/>, by stopwatch.</summary>
    public double TimeRun(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
    {
        long start = Stopwatch.GetTimestamp();
        Run(problem, algorithm, tensors);
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    /// <summary>Does nothing: the reference holds no resources.</summary>
    public void Dispose() { }

    static float[] Host(Tensor? t) => t is null ? [] : ((HostTensor)t).Data;
}
