namespace GpuConv;

/// <summary>
/// The element-wise ops of <see cref="ConvEngine"/> (Add, Relu, ReluBackward, Relu6, Relu6Backward, Silu, SiluBackward, Sigmoid, SigmoidBackward, Hardsigmoid, HardsigmoidBackward, Hardswish, HardswishBackward, Tanh, TanhBackward, Mul, LeakyRelu, LeakyReluBackward, Scale, AddScaled, Gelu, GeluBackward, GeluTanh, GeluTanhBackward), each as
/// output[i] = f(a[i], b[i], alpha) over tensors of one shape. The one definition the CPU loops
/// (Cpu/Elementwise/CpuElementwise.cs) and the kernels (kernels/elementwise.ptx) both implement, bit for bit.
/// </summary>
internal enum ElementwiseOp
{
    /// <summary>a + b.</summary>
    Add,
    /// <summary>a &lt; 0 ? 0 : a: NaN stays NaN (torch.relu propagates it) and -0 stays -0.</summary>
    Relu,
    /// <summary>
    /// b &lt;= 0 ? 0 : a, with a = dy and b = y (the ReLU's output, or its input: same sign): PyTorch's
    /// threshold_backward(dy, y, 0), so a NaN y passes dy through and y = -0 blocks it.
    /// </summary>
    ReluBackward,
    /// <summary>
    /// a &lt; 0 ? 0 : (a &gt; 6 ? 6 : a): torch's relu6 / hardtanh(a, 0, 6) in float32, so NaN stays NaN, -0 stays -0,
    /// +∞ gives 6 and -∞ gives 0.
    /// </summary>
    Relu6,
    /// <summary>
    /// (b &lt;= 0 || b &gt;= 6) ? 0 : a, with a = dy and b = x (the ReLU6's input; its output gives the same answer):
    /// PyTorch's hardtanh_backward(dy, x, 0, 6), so the gradient is 0 at x = 0 and x = 6 themselves, a NaN x passes
    /// dy through and x = -0 blocks it (checked against torch 1.13's autograd on short tensors). That NaN rule is torch's
    /// CUDA kernel and its scalar CPU loop; torch 1.13's vectorized CPU loop (blocks of 16 floats) gives 0 for a NaN x.
    /// </summary>
    Relu6Backward,
    /// <summary>
    /// a / (1 + e^-a) (SiLU / Swish, torch.nn.SiLU), e^-a by <see cref="Cpu.Elementwise.SiluMath"/>'s exact-operation sequence: NaN
    /// stays NaN (stored as the canonical 0x7FFFFFFF), -0 stays -0, +∞ gives +∞, -∞ gives NaN, and a ≤ -88.7228394 (where
    /// e^-a overflows) gives -0, as torch 1.13.
    /// </summary>
    Silu,
    /// <summary>
    /// (a·s)·(1 + b·(1 - s)) with a = dy, b = x (the SiLU's input) and s = 1 / (1 + e^-b): torch's silu_backward, with
    /// 1 - s taken as e^-b·s for b ≥ 0 (<see cref="Cpu.Elementwise.SiluMath.SiluBackward(float, float)"/>). x = ±∞ gives NaN, as torch;
    /// a NaN result is the canonical 0x7FFFFFFF.
    /// </summary>
    SiluBackward,
    /// <summary>
    /// 1 / (1 + e^-a) (torch.sigmoid), e^-a by <see cref="Cpu.Elementwise.SiluMath"/>'s exact-operation sequence, as SiLU: NaN stays
    /// NaN (the canonical 0x7FFFFFFF), +∞ gives 1, -∞ gives +0, 0 gives 0.5.
    /// </summary>
    Sigmoid,
    /// <summary>
    /// (a·(1 - b))·b with a = dy and b = y (the sigmoid's output): torch's sigmoid_backward(dy, y), its formula and order.
    /// </summary>
    SigmoidBackward,
    /// <summary>
    /// min(max(a + 3, 0), 6) / 6 by compare-and-select then one IEEE division (torch.nn.functional.hardsigmoid, its
    /// bits): NaN stays NaN, -0 gives 0.5.
    /// </summary>
    Hardsigmoid,
    /// <summary>(-3 &lt; b &lt; 3) ? a · (1/6 rounded to float) : 0 with a = dy, b = x (torch's hardsigmoid_backward: a NaN x gives 0).</summary>
    HardsigmoidBackward,
    /// <summary>(a · min(max(a + 3, 0), 6)) / 6 (torch.nn.functional.hardswish, its bits): NaN stays NaN, -∞ gives NaN (-∞·0).</summary>
    Hardswish,
    /// <summary>
    /// b &lt; -3 ? 0 : (b &lt;= 3 ? a · (b / 3 + 0.5) : a) with a = dy, b = x: torch's hardswish_backward as its CUDA kernel
    /// and scalar CPU loop compute it (a NaN x passes dy; x = 3 gives 1.5·dy); torch 1.13's vectorized CPU loop gives
    /// NaN and dy there.
    /// </summary>
    HardswishBackward,
    /// <summary>
    /// tanh(a) by <see cref="Cpu.Elementwise.TanhMath"/>'s exact-operation sequence (a polynomial below |a| = 0.625, (1 - e)/(1 + e)
    /// with e = e^(-2|a|) above): within 1.75 ulp of float64 (1.50 seen), ±0 stays, ±∞ gives ±1, a NaN is the canonical 0x7FFFFFFF.
    /// </summary>
    Tanh,
    /// <summary>a · fma(-b, b, 1) with a = dy, b = y (the tanh's output): torch's tanh_backward, its bits (a NaN as the canonical NaN).</summary>
    TanhBackward,
    /// <summary>a · b (torch.mul of equal shapes; its gradient is the op again: da = dy · b).</summary>
    Mul,
    /// <summary>
    /// a &gt; 0 ? a : a · alpha with alpha = the negative slope (torch.nn.functional.leaky_relu, its compare-and-select and
    /// product): NaN stays NaN and -0 gives -0 · alpha.
    /// </summary>
    LeakyRelu,
    /// <summary>
    /// b &gt; 0 ? a : a · alpha with a = dy, b = x (the input; the output has its sign for a positive slope): torch's
    /// leaky_relu_backward, so x = ±0 and a NaN x give dy · alpha.
    /// </summary>
    LeakyReluBackward,
    /// <summary>alpha · a.</summary>
    Scale,
    /// <summary>fma(alpha, a, b) = alpha · a + b rounded once (b is the tensor added to, usually the output itself).</summary>
    AddScaled,
    /// <summary>
    /// a·Φ(a) (torch.nn.functional.gelu, approximate='none'), Φ the normal CDF by <see cref="Cpu.Elementwise.GeluMath"/>'s
    /// exact-operation sequence: ±0 stays, +∞ gives +∞, -∞ gives NaN (as torch), a NaN is the canonical 0x7FFFFFFF.
    /// </summary>
    Gelu,
    /// <summary>a·(Φ(b) + b·φ(b)) with a = dy, b = x (the GELU's input): torch's gelu_backward for approximate='none'.</summary>
    GeluBackward,
    /// <summary>0.5·a·(1 + tanh(√(2/π)·(a + 0.044715·a³))) (approximate='tanh'), taken as a·σ(2·√(2/π)·(a + 0.044715·a³)) by <see cref="Cpu.Elementwise.GeluMath"/>.</summary>
    GeluTanh,
    /// <summary>torch's gelu_backward for approximate='tanh' with a = dy, b = x (the input), by <see cref="Cpu.Elementwise.GeluMath"/>.</summary>
    GeluTanhBackward,
}

internal static class ElementwiseOps
{
    /// <summary>How many tensor operands (a, b) the op reads.</summary>
    public static int Inputs(this ElementwiseOp op) => op is ElementwiseOp.Relu or ElementwiseOp.Relu6 or ElementwiseOp.Silu or ElementwiseOp.Sigmoid or ElementwiseOp.Hardsigmoid or ElementwiseOp.Hardswish
        or ElementwiseOp.Tanh or ElementwiseOp.LeakyRelu or ElementwiseOp.Scale or ElementwiseOp.Gelu or ElementwiseOp.GeluTanh ? 1 : 2;
}
