using GpuConv.Cuda;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// Launches of kernels/elementwise.ptx: one grid-stride launch per op over <c>count</c> contiguous floats, on the
/// runtime's stream (no wait). The kernels need the driver only (no cuBLAS, no cuDNN), so every GPU engine has them.
/// </summary>
internal static class ElementwiseKernels
{
    public const string Module = "elementwise.ptx";

    /// <summary>The kernel entry of <paramref name="op"/>.</summary>
    public static string Entry(ElementwiseOp op) => op switch
    {
        ElementwiseOp.Add => "add_f32",
        ElementwiseOp.Relu => "relu_f32",
        ElementwiseOp.ReluBackward => "relu_backward_f32",
        ElementwiseOp.Relu6 => "relu6_f32",
        ElementwiseOp.Relu6Backward => "relu6_backward_f32",
        ElementwiseOp.Silu => "silu_f32",
        ElementwiseOp.SiluBackward => "silu_backward_f32",
        ElementwiseOp.Sigmoid => "sigmoid_f32",
        ElementwiseOp.SigmoidBackward => "sigmoid_backward_f32",
        ElementwiseOp.Hardsigmoid => "hardsigmoid_f32",
        ElementwiseOp.HardsigmoidBackward => "hardsigmoid_backward_f32",
        ElementwiseOp.Hardswish => "hardswish_f32",
        ElementwiseOp.HardswishBackward => "hardswish_backward_f32",
        ElementwiseOp.Tanh => "tanh_f32",
        ElementwiseOp.TanhBackward => "tanh_backward_f32",
        ElementwiseOp.Mul => "mul_f32",
        ElementwiseOp.LeakyRelu => "leaky_relu_f32",
        ElementwiseOp.LeakyReluBackward => "leaky_relu_backward_f32",
        ElementwiseOp.Scale => "scale_f32",
        ElementwiseOp.AddScaled => "add_scaled_f32",
        ElementwiseOp.Gelu => "gelu_f32",
        ElementwiseOp.GeluBackward => "gelu_backward_f32",
        ElementwiseOp.GeluTanh => "gelu_tanh_f32",
        ElementwiseOp.GeluTanhBackward => "gelu_tanh_backward_f32",
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "not an element-wise op"),
    };

    /// <summary>
    /// The entry's arguments in .param order (device pointers .u64, alpha .f32, count .u64), packed on the stack;
    /// <paramref name="b"/> is unused by the one-input ops.
    /// </summary>
    public static KernelArgumentPack Pack(ElementwiseOp op, ulong output, ulong a, ulong b, float alpha, long count)
    {
        var args = new KernelArgumentPack();
        args.Add(output).Add(a);
        switch (op)
        {
            case ElementwiseOp.Add or ElementwiseOp.ReluBackward or ElementwiseOp.Relu6Backward or ElementwiseOp.SiluBackward or ElementwiseOp.SigmoidBackward
                or ElementwiseOp.HardsigmoidBackward or ElementwiseOp.HardswishBackward or ElementwiseOp.TanhBackward or ElementwiseOp.Mul
                or ElementwiseOp.GeluBackward or ElementwiseOp.GeluTanhBackward: args.Add(b); break;
            case ElementwiseOp.Relu or ElementwiseOp.Relu6 or ElementwiseOp.Silu or ElementwiseOp.Sigmoid or ElementwiseOp.Hardsigmoid or ElementwiseOp.Hardswish
                or ElementwiseOp.Tanh or ElementwiseOp.Gelu or ElementwiseOp.GeluTanh: break;
            case ElementwiseOp.Scale or ElementwiseOp.LeakyRelu: args.Add(alpha); break;
            case ElementwiseOp.AddScaled or ElementwiseOp.LeakyReluBackward: args.Add(b).Add(alpha); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "not an element-wise op");
        }
        args.Add((ulong)count);
        return args;
    }

    /// <summary><see cref="Pack"/> boxed (the PTX interpreter in tests).</summary>
    public static object[] Arguments(ElementwiseOp op, ulong output, ulong a, ulong b, float alpha, long count) =>
        Pack(op, output, a, b, alpha, count).ToObjects();

    /// <summary>output[i] = op(a[i], b[i], alpha) for i &lt; <paramref name="count"/> (nothing for 0), ordered on the runtime's stream.</summary>
    public static void Launch(IPtxRuntime runtime, ElementwiseOp op, ulong output, ulong a, ulong b, float alpha, long count)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0) return;
        // Block and grid cap as the conv backend's element-wise launches: larger tensors loop grid-stride.
        uint grid = (uint)Math.Clamp((count + PtxConvBackend.BlockSize - 1) / PtxConvBackend.BlockSize, 1, PtxConvBackend.MaxBlocks);
        runtime.Launch(Module, Entry(op), grid, PtxConvBackend.BlockSize, Pack(op, output, a, b, alpha, count));
    }
}
