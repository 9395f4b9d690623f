using GpuConv.Conv;

namespace GpuConv.Backends;

/// <summary>
/// A backend whose work runs in order on one device stream and that can issue a run without waiting
/// for it. The engine's device-resident calls use it so consecutive convolutions on device tensors never
/// wait on the host; a later download (ordered on the same stream) or an explicit synchronise does.
/// </summary>
internal interface IStreamOrderedBackend
{
    /// <summary>Like <see cref="IConvBackend.Run"/>, but returns once the work is issued.</summary>
    void Enqueue(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors);

    /// <summary>Issues fused y = act(conv + bias) when the backend can (false: not fusable here).</summary>
    bool TryEnqueueBiasActivation(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors, Activation activation) => false;
}
