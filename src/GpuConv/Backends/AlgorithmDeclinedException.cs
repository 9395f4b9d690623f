namespace GpuConv.Backends;

/// <summary>
/// The library refused a listed algorithm when asked to run it (cuDNN: NOT_SUPPORTED, BAD_PARAM or
/// EXECUTION_FAILED from the convolution call, as PyTorch's own search also tolerates); the planner
/// moves to the next candidate, as for a workspace failure.
/// </summary>
public sealed class AlgorithmDeclinedException(string algorithm, string status, Exception? inner = null)
    : CandidateUnavailableException(algorithm, $"{algorithm} was declined at run time: {status}", inner)
{
    /// <summary>The library's status, e.g. "CUDNN_STATUS_NOT_SUPPORTED".</summary>
    public string Status { get; } = status;
    /// <inheritdoc/>
    public override string Reason => $"declined at run time: {Status}";
}
