namespace GpuConv;

/// <summary>The element-wise function applied after bias in <see cref="ConvEngine.ForwardBiasActivation"/>.</summary>
public enum Activation
{
    Identity,
    /// <summary>max(0, v).</summary>
    Relu,
}
