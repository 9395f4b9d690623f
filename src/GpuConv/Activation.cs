namespace GpuConv;

/// <summary>The element-wise function applied after bias in <c>ConvEngine.ForwardBiasActivation</c>.</summary>
public enum Activation
{
    /// <summary>No activation: the output is conv + bias.</summary>
    Identity,
    /// <summary>max(0, v), as torch.relu: a NaN stays NaN and -0 stays -0.</summary>
    Relu,
    /// <summary>
    /// min(max(v, 0), 6), as torch.nn.ReLU6 / F.hardtanh(v, 0, 6) (MobileNetV2): a NaN stays NaN, -0 stays -0,
    /// +∞ gives 6 and -∞ gives 0.
    /// </summary>
    Relu6,
    /// <summary>
    /// v·sigmoid(v) = v / (1 + e^-v), as torch.nn.SiLU / F.silu (Swish; EfficientNet, YOLOv5–v8), computed from IEEE-exact
    /// operations so every device gives the same bits (within 2.4e-7 relative of float64): a NaN stays NaN, -0 stays -0,
    /// +∞ gives +∞, -∞ gives NaN and v ≤ -88.7228394 (where e^-v overflows float32) gives -0, as torch 1.13.
    /// </summary>
    Silu,
}
