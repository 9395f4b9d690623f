namespace GpuConv.Networks.InvertedResiduals;

/// <summary>
/// torchvision's inverted residual block as MobileNetV2 (InvertedResidual), MobileNetV3 (InvertedResidual with its
/// optional squeeze-and-excitation) and EfficientNet (MBConv) build it: expand 1×1 + BN + <see cref="Activation"/>
/// (absent when the expansion is 1), depthwise k×k (groups = channels) + BN + <see cref="Activation"/>, the
/// squeeze-and-excitation block on the depthwise output where there is one, project 1×1 + BN with no activation (the
/// linear bottleneck); the block's input is added to the projection when <see cref="Residual"/> (stride 1 and as many
/// channels out as in). EfficientNet's stochastic depth is the identity at inference.
/// </summary>
public sealed record InvertedResidual(ConvBn? Expand, ConvBn Depthwise, SqueezeExcitation? Se, ConvBn Project, Activation Activation, bool Residual)
{
    /// <summary>The block's convolutions with a BatchNorm, in order: expand, depthwise, project.</summary>
    public IEnumerable<ConvBn> Convolutions()
    {
        if (Expand is { } e) yield return e;
        yield return Depthwise;
        yield return Project;
    }

    /// <summary>The convolutions' parameters and the squeeze-and-excitation block's, counted as torchvision's model has them.</summary>
    public long ParameterCount => Convolutions().Sum(c => c.ParameterCount) + (Se?.ParameterCount ?? 0);
}
