using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Networks;

/// <summary>The gate a squeeze-and-excitation block ends with: torch's sigmoid (EfficientNet) or hardsigmoid (MobileNetV3).</summary>
public enum SqueezeGate
{
    /// <summary>1 / (1 + e^-v).</summary>
    Sigmoid,
    /// <summary>min(max(v + 3, 0), 6) / 6.</summary>
    Hardsigmoid,
}

/// <summary>
/// torchvision's SqueezeExcitation on x [N, C, H, W]: x · gate(reduce-expand(GlobalAvgPool(x))), where the reduction is
/// a 1×1 convolution with bias C → squeeze followed by <see cref="Inner"/> (ReLU in MobileNetV3, SiLU in EfficientNet)
/// and the expansion a 1×1 convolution with bias squeeze → C; the gate scales each (n, c) plane. No BatchNorm.
/// </summary>
public sealed record SqueezeExcitation(string Name, HostTensor ReduceWeight, HostTensor ReduceBias, HostTensor ExpandWeight, HostTensor ExpandBias,
    Activation Inner, SqueezeGate Gate)
{
    /// <summary>Both convolutions: 1×1, stride 1, no padding (on [N, C, 1, 1]).</summary>
    public static ConvSpec Spec { get; } = new([1, 1]);

    /// <summary>The channels it scales (C).</summary>
    public int Channels => ReduceWeight.Shape.Dims[1];

    /// <summary>The channels between the two convolutions.</summary>
    public int Squeeze => ReduceWeight.Shape.Dims[0];

    /// <summary>Both convolutions' weights and biases.</summary>
    public long ParameterCount => ReduceWeight.Shape.ElementCount + ReduceBias.Shape.ElementCount + ExpandWeight.Shape.ElementCount + ExpandBias.Shape.ElementCount;
}
