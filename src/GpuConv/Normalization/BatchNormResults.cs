using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// What <see cref="ConvEngine.BatchNormTraining"/> returns: the normalised output, and the batch's per-channel mean and
/// inverse standard deviation 1/sqrt(var_biased + eps) (cuDNN's saveMean / saveInvVariance, PyTorch's save_mean /
/// save_invstd), which <see cref="ConvEngine.BatchNormBackward"/> takes. Each is the caller's tensor when one was passed, else new.
/// </summary>
public readonly record struct BatchNormTrainingResult(Tensor Output, Tensor SavedMean, Tensor SavedInvStd);

/// <summary>What <see cref="ConvEngine.BatchNormBackward"/> returns: ∂loss/∂x, ∂loss/∂gamma and ∂loss/∂beta (the last two [C]).</summary>
public readonly record struct BatchNormGradients(Tensor Dx, Tensor DGamma, Tensor DBeta);
