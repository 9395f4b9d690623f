namespace GpuConv.Conv;

/// <summary>
/// What a <see cref="ConvProblem"/> computes, always stated for the underlying (non-transposed)
/// convolution y = conv(x, w): a transposed convolution is <see cref="BackwardData"/> of it.
/// </summary>
public enum ConvOp
{
    /// <summary>y = conv(x, w) (+ bias per output channel).</summary>
    Forward,
    /// <summary>dx = conv_transpose(dy, w) (+ bias per channel of dx): the input gradient, and transposed convolution.</summary>
    BackwardData,
    /// <summary>dw = correlation of x with dy, summed over the batch.</summary>
    BackwardFilter,
}
