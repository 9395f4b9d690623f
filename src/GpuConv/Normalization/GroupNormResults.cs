using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// What <see cref="ConvEngine.GroupNorm"/> returns (PyTorch's native_group_norm): the normalised output, and the
/// per-(sample, group) mean and rstd = 1/sqrt(var_biased + eps), each [N, G], which <see cref="ConvEngine.GroupNormBackward"/>
/// takes. Each is the caller's tensor when one was passed, else new.
/// </summary>
public readonly record struct GroupNormResult(Tensor Output, Tensor Mean, Tensor Rstd);

/// <summary>
/// What <see cref="ConvEngine.GroupNormBackward"/> returns (PyTorch's native_group_norm_backward): ∂loss/∂x, and
/// ∂loss/∂weight and ∂loss/∂bias ([C] each) when the layer is affine (weight given), else null.
/// </summary>
public readonly record struct GroupNormGradients(Tensor Dx, Tensor? DWeight, Tensor? DBias);
