namespace GpuConv;

/// <summary>
/// The element-wise function applied after bias in <c>ConvEngine.ForwardBiasActivation</c>. Members keep their numbers
/// (new ones are appended): the PTX bias kernel's activation code is the member's value.
/// </summary>
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
    /// <summary>
    /// v·min(max(v + 3, 0), 6) / 6, as torch.nn.Hardswish / F.hardswish (MobileNetV3): the element-wise
    /// <see cref="ElementwiseOp.Hardswish"/>'s operations (torch 1.13's CPU bits): a NaN stays NaN, -0 stays -0,
    /// +∞ gives +∞ and -∞ gives NaN (-∞·0).
    /// </summary>
    Hardswish,
    /// <summary>
    /// 1 / (1 + e^-v), as torch.sigmoid: the element-wise <see cref="ElementwiseOp.Sigmoid"/> (SiLU's e^-v, one IEEE
    /// division): a NaN stays NaN, +∞ gives 1, -∞ gives +0.
    /// </summary>
    Sigmoid,
    /// <summary>
    /// min(max(v + 3, 0), 6) / 6, as torch.nn.Hardsigmoid / F.hardsigmoid (MobileNetV3's squeeze-excitation gate): the
    /// element-wise <see cref="ElementwiseOp.Hardsigmoid"/>: a NaN stays NaN, +∞ gives 1, -∞ gives 0.
    /// </summary>
    Hardsigmoid,
    /// <summary>
    /// x·Φ(x), Φ the normal CDF (= x·(1 + erf(x/√2))/2), as torch.nn.GELU() / F.gelu(v) (approximate='none', the default;
    /// ViT, BERT, ConvNeXt): the element-wise <see cref="ElementwiseOp.Gelu"/> (GeluMath's IEEE-exact operations, no
    /// library erf or exp), the same bits on every device: a NaN stays NaN, ±0 stays ±0, +∞ gives +∞, -∞ gives NaN
    /// (-∞·0, as torch 1.13), and a large negative x, whose true value is below float's smallest subnormal, -0.
    /// </summary>
    Gelu,
    /// <summary>
    /// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as torch.nn.GELU(approximate='tanh') / F.gelu(v, approximate='tanh'):
    /// the element-wise <see cref="ElementwiseOp.GeluTanh"/> (computed as x·σ(2u), no cancellation for x &lt; 0); ends as
    /// <see cref="Gelu"/>'s.
    /// </summary>
    GeluTanh,
}
