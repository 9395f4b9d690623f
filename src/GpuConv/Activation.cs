namespace GpuConv;

/// <summary>The element-wise function applied after bias in <c>ConvEngine.ForwardBiasActivation</c>.</summary>
public enum Activation
{
    /// <summary>No activation: the output is conv + bias.</summary>
    Identity,
    /// <summary>max(0, v).</summary>
    Relu,
}
