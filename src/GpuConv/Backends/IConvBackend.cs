using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Backends;

/// <summary>
/// The one contract every way of running a convolution implements (reference, cpu, cudnn, ptx).
/// A backend says which problems it supports and lists its candidate algorithms; the planner picks;
/// the backend runs. Backends allocate their own workspace and throw
/// <see cref="WorkspaceAllocationException"/> when they cannot, so the planner can move on.
/// </summary>
public interface IConvBackend : IDisposable
{
    /// <summary>Short lower-case name used on the command line and in plan keys ("cpu", "cudnn", …).</summary>
    string Name { get; }

    /// <summary>Where the tensors passed to <see cref="Run"/> must live, and how to put data there.</summary>
    IMemorySpace Memory { get; }

    /// <summary>Heuristic preference between backends: lower is tried first.</summary>
    int Priority { get; }

    /// <summary>Null if the backend can run the problem, else why not (shown by Explain).</summary>
    string? WhyUnsupported(ConvProblem problem);

    /// <summary>Candidates for a supported problem, best first by the backend's own heuristic.</summary>
    IReadOnlyList<ConvAlgorithm> GetAlgorithms(ConvProblem problem, ConvPrecision precision);

    /// <summary>Runs the problem's op with the algorithm; synchronous with respect to its outputs' consumers on this backend.</summary>
    void Run(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors);

    /// <summary>Milliseconds one run takes, measured as this backend measures best (events or a stopwatch).</summary>
    double TimeRun(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors);
}
