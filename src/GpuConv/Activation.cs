namespace GpuConv;

/// <summary>The element-wise function applied after bias in <c>ConvEngine.ForwardBiasActivation</c>.</summary>
public enum Activation
{
    Identity,
    /// <summary>max(0, v).</summary>
    Relu,
}
