using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// What <see cref="ConvEngine.ChannelLayerNorm"/> returns: the normalised output, and the per-(sample, position) mean
/// and rstd = 1/sqrt(var_biased + eps), each [N, spatial…] (x's shape without the channel dimension), which
/// <see cref="ConvEngine.ChannelLayerNormBackward"/> takes. Each is the caller's tensor when one was passed, else new.
/// </summary>
public readonly record struct LayerNormResult(Tensor Output, Tensor Mean, Tensor Rstd);

/// <summary>
/// What <see cref="ConvEngine.ChannelLayerNormBackward"/> returns: ∂loss/∂x, and ∂loss/∂weight and ∂loss/∂bias ([C]
/// each) when the layer is affine (weight given), else null.
/// </summary>
public readonly record struct LayerNormGradients(Tensor Dx, Tensor? DWeight, Tensor? DBias);
