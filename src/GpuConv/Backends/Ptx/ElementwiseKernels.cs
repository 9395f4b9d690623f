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
        ElementwiseOp.Scale => "scale_f32",
        ElementwiseOp.AddScaled => "add_scaled_f32",
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "not an element-wise op"),
    };

    /// <summary>
    /// The entry's arguments in .param order (device pointers .u64, alpha .f32, count .u64); <paramref name="b"/> is
    /// unused by the one-input ops.
    /// </summary>
    public static object[] Arguments(ElementwiseOp op, ulong output, ulong a, ulong b, float alpha, long count) => op switch
    {
        ElementwiseOp.Add or ElementwiseOp.ReluBackward => [output, a, b, (ulong)count],
        ElementwiseOp.Relu => [output, a, (ulong)count],
        ElementwiseOp.Scale => [output, a, alpha, (ulong)count],
        ElementwiseOp.AddScaled => [output, a, b, alpha, (ulong)count],
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "not an element-wise op"),
    };

    /// <summary>output[i] = op(a[i], b[i], alpha) for i &lt; <paramref name="count"/> (nothing for 0), ordered on the runtime's stream.</summary>
    public static void Launch(IPtxRuntime runtime, ElementwiseOp op, ulong output, ulong a, ulong b, float alpha, long count)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0) return;
        // Block and grid cap as the conv backend's element-wise launches: larger tensors loop grid-stride.
        uint grid = (uint)Math.Clamp((count + PtxConvBackend.BlockSize - 1) / PtxConvBackend.BlockSize, 1, PtxConvBackend.MaxBlocks);
        runtime.Launch(Module, Entry(op), grid, PtxConvBackend.BlockSize, Arguments(op, output, a, b, alpha, count));
    }
}
