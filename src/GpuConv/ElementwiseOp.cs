namespace GpuConv;

/// <summary>
/// The element-wise ops of <see cref="ConvEngine"/> (Add, Relu, ReluBackward, Scale, AddScaled), each as
/// output[i] = f(a[i], b[i], alpha) over tensors of one shape. The one definition the CPU loops
/// (Cpu/CpuElementwise.cs) and the kernels (kernels/elementwise.ptx) both implement, bit for bit.
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
    /// <summary>alpha · a.</summary>
    Scale,
    /// <summary>fma(alpha, a, b) = alpha · a + b rounded once (b is the tensor added to, usually the output itself).</summary>
    AddScaled,
}

internal static class ElementwiseOps
{
    /// <summary>How many tensor operands (a, b) the op reads.</summary>
    public static int Inputs(this ElementwiseOp op) => op is ElementwiseOp.Relu or ElementwiseOp.Scale ? 1 : 2;
}
