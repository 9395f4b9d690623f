namespace GpuConv.Backends;

using GpuConv.Conv;

/// <summary>
/// Optional capability of a backend: forward + bias + activation in one call (cuDNN's
/// cudnnConvolutionBiasActivationForward; the CPU backend's tasks, each on the output it wrote). Returns false when the backend declines the configuration;
/// the engine then runs forward with bias and applies the activation itself.
/// </summary>
internal interface IFusedBiasActivation
{
    bool TryRunBiasActivation(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors, Activation activation);
}
