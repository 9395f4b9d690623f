namespace GpuConv;

/// <summary>
/// The constant of a channels-first LayerNorm (timm's LayerNorm2d, ConvNeXt's LayerNorm(data_format="channels_first"))
/// for <see cref="ConvEngine.ChannelLayerNorm"/> and <see cref="ConvEngine.ChannelLayerNormBackward"/>.
/// <para>
/// <see cref="Epsilon"/> is added to the biased variance before the square root; the default 1e-6 is ConvNeXt's and
/// timm's (torch.nn.LayerNorm's own default is 1e-5). The engine rounds it to fp32 (its statistics are fp32, as
/// PyTorch's), so it must stay positive there.
/// </para>
/// </summary>
public sealed record LayerNormSpec(double Epsilon = 1e-6)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the field: Epsilon not positive and finite (also after rounding to fp32).</summary>
    public void Validate()
    {
        if (!(Epsilon > 0) || double.IsInfinity(Epsilon) || (float)Epsilon == 0 || float.IsInfinity((float)Epsilon))
            throw new ArgumentException($"Epsilon must be positive and finite in fp32 (the engine adds it to fp32 variances), got {Epsilon}.", nameof(Epsilon));
    }

    /// <summary>Epsilon as the kernels and CPU loops add it.</summary>
    internal float EpsilonF32 => (float)Epsilon;
}
