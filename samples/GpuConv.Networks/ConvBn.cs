using GpuConv.Conv;
using GpuConv.Inference;
using GpuConv.Tensors;

namespace GpuConv.Networks;

/// <summary>A convolution without bias followed by an eval-mode BatchNorm (torchvision's conv + bn pairs).</summary>
public sealed record ConvBn(string Name, ConvSpec Spec, HostTensor Weight, BatchNormParameters BatchNorm)
{
    /// <summary>Weights and BatchNorm affine values (not the running statistics), for the printouts.</summary>
    public long ParameterCount => Weight.Shape.ElementCount + 2L * BatchNorm.Channels;
}
