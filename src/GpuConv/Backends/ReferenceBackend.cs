using System.Diagnostics;
using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Backends;

/// <summary>The float64 reference as a backend ("reference"): always available, never fast, last resort.</summary>
public sealed class ReferenceBackend : IConvBackend
{
    public const string BackendName = "reference";
    static readonly ConvAlgorithm Naive = new(BackendName, "naive-f64", 0, 0, Deterministic: true);

    public string Name => BackendName;
    public IMemorySpace Memory => HostMemorySpace.Instance;
    public int Priority => 100;

    public string? WhyUnsupported(ConvProblem problem) => null;

    public IReadOnlyList<ConvAlgorithm> GetAlgorithms(ConvProblem problem, ConvPrecision precision) => [Naive];

    public void Run(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
    {
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
        for (int i = 0; i < data.Length; i++) data[i] = (float)result[i];
    }

    public double TimeRun(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
    {
        long start = Stopwatch.GetTimestamp();
        Run(problem, algorithm, tensors);
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    public void Dispose() { }

    static float[] Host(Tensor? t) => t is null ? [] : ((HostTensor)t).Data;
}
