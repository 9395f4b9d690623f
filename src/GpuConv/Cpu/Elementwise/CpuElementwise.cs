using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static GpuConv.Cpu.Elementwise.ElementwiseMap;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// <see cref="ElementwiseOp"/> on host arrays. Most ops are one <see cref="ElementwiseMap"/> loop over their function
/// (ElementwiseFunctions.cs: Vector256 steps, then the scalar tail with the same IEEE operations, so the result
/// does not depend on where the vector part ends, nor on how a tensor is cut into chunks: <see cref="ParallelElementwise"/>
/// runs these loops on parts of a large tensor on several threads). ReLU and ReLU6 run <see cref="CpuActivation"/>'s
/// loops (Vector512 first on AVX-512), SiLU blocks of Vector512 on AVX-512, then of Vector256, first, and GELU's four
/// forms Vector512 steps on AVX-512 first (<see cref="ElementwiseMap.MapWide{TFunction}(TFunction, ref float, ref float, nuint)"/>).
/// The output may be the very same array as an input (each element is read before it is written).
/// </summary>
internal static class CpuElementwise
{
    /// <summary>output[i] = op(a[i], b[i], alpha) for every i; <paramref name="b"/> is ignored by the one-input ops.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ElementwiseOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, float alpha, Span<float> output)
    {
        if (a.Length != output.Length || (op.Inputs() == 2 && b.Length != output.Length))
            throw new ArgumentException($"{op}: a has {a.Length}, b {b.Length} and output {output.Length} elements; they must match.", nameof(output));
        ref float pa = ref MemoryMarshal.GetReference(a);
        ref float pb = ref MemoryMarshal.GetReference(b);
        ref float po = ref MemoryMarshal.GetReference(output);
        nuint n = (nuint)output.Length;
        switch (op)
        {
            case ElementwiseOp.Add: Map(new AddFunction(), ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.Relu: Relu(ref pa, ref po, n); break;
            case ElementwiseOp.ReluBackward: Map(new ReluBackwardFunction(), ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.Relu6: Relu6(ref pa, ref po, n); break;
            case ElementwiseOp.Relu6Backward: Map(new Relu6BackwardFunction(), ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.Silu: Silu(ref pa, ref po, n); break;
            case ElementwiseOp.SiluBackward: SiluBackward(ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.Sigmoid: Map(new SigmoidFunction(), ref pa, ref po, n); break;
            case ElementwiseOp.SigmoidBackward: Map(new SigmoidBackwardFunction(), ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.Hardsigmoid: Map(new HardsigmoidFunction(), ref pa, ref po, n); break;
            case ElementwiseOp.Hardswish: Map(new HardswishFunction(), ref pa, ref po, n); break;
            case ElementwiseOp.HardsigmoidBackward: Map(new HardsigmoidBackwardFunction(), ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.HardswishBackward: Map(new HardswishBackwardFunction(), ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.Tanh: Map(new TanhFunction(), ref pa, ref po, n); break;
            case ElementwiseOp.TanhBackward: Map(new TanhBackwardFunction(), ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.Mul: Map(new MulFunction(), ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.LeakyRelu: Map(new LeakyReluFunction(alpha), ref pa, ref pa, ref po, n); break;
            case ElementwiseOp.LeakyReluBackward: Map(new LeakyReluFunction(alpha), ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.Scale: Map(new ScaleFunction(alpha), ref pa, ref po, n); break;
            case ElementwiseOp.AddScaled: Map(new AddScaledFunction(alpha), ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.Gelu: Gelu(ref pa, ref po, n); break;
            case ElementwiseOp.GeluBackward: GeluBackward(ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.GeluTanh: MapWide(new GeluTanhFunction(), ref pa, ref po, n); break;
            case ElementwiseOp.GeluTanhBackward: MapWide(new GeluTanhBackwardFunction(), ref pa, ref pb, ref po, n); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "not an element-wise op");
        }
    }

    /// <summary>max(v, 0) by compare-and-select (NaN and -0 stay): <see cref="CpuActivation.Relu"/>, the loop the CPU convolutions fuse too.</summary>
    static unsafe void Relu(ref float a, ref float o, nuint n)
    {
        fixed (float* pa = &a, po = &o) CpuActivation.Relu(pa, po, (nint)n);
    }

    /// <summary>
    /// min(max(v, 0), 6) by compare-and-select (a NaN stays, -0 stays), as torch's hardtanh(v, 0, 6):
    /// <see cref="CpuActivation.Relu6"/>, the loop the CPU convolutions fuse too.
    /// </summary>
    static unsafe void Relu6(ref float a, ref float o, nuint n)
    {
        fixed (float* pa = &a, po = &o) CpuActivation.Relu6(pa, po, (nint)n);
    }

    /// <summary>
    /// SiluMath's exact-operation sequence, the same in every form (and in the kernels): blocks of four Vector512 on
    /// AVX-512, blocks of four Vector256, then the shared loop (single Vector256 steps, scalar tail).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Silu(ref float a, ref float o, nuint n)
    {
        nuint i = SiluMath.Blocks512Accelerated ? SiluMath.SiluBlocks512(ref a, ref o, n) : 0;
        if (Vector256.IsHardwareAccelerated)
            i += SiluMath.SiluBlocks256(ref Unsafe.Add(ref a, i), ref Unsafe.Add(ref o, i), n - i);
        Map(new SiluFunction(), ref Unsafe.Add(ref a, i), ref Unsafe.Add(ref o, i), n - i);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void SiluBackward(ref float dy, ref float x, ref float o, nuint n)
    {
        nuint i = SiluMath.Blocks512Accelerated ? SiluMath.SiluBackwardBlocks512(ref dy, ref x, ref o, n) : 0;
        if (Vector256.IsHardwareAccelerated)
            i += SiluMath.SiluBackwardBlocks256(ref Unsafe.Add(ref dy, i), ref Unsafe.Add(ref x, i), ref Unsafe.Add(ref o, i), n - i);
        Map(new SiluBackwardFunction(), ref Unsafe.Add(ref dy, i), ref Unsafe.Add(ref x, i), ref Unsafe.Add(ref o, i), n - i);
    }

    /// <summary>
    /// GELU forward: its two regimes apart on AVX-512 (<see cref="GeluMath.GeluRegimesApart512"/>) or AVX2
    /// (<see cref="GeluMath.GeluRegimesApart256"/>), then the shared loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Gelu(ref float a, ref float o, nuint n)
    {
        nuint i = ElementwiseMap.Wide ? GeluMath.GeluRegimesApart512(ref a, ref o, n)
            : Vector256.IsHardwareAccelerated && Avx2.IsSupported ? GeluMath.GeluRegimesApart256(ref a, ref o, n) : 0;
        Map(new GeluFunction(), ref Unsafe.Add(ref a, i), ref Unsafe.Add(ref o, i), n - i);
    }

    /// <summary>
    /// GELU's gradient: a vector in one regime runs that regime alone (<see cref="GeluMath.GeluBackwardByVector512"/> on
    /// AVX-512, <see cref="GeluMath.GeluBackwardByVector256"/> where Vector256 is the widest), then the shared loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void GeluBackward(ref float dy, ref float x, ref float o, nuint n)
    {
        nuint i = ElementwiseMap.Wide ? GeluMath.GeluBackwardByVector512(ref dy, ref x, ref o, n)
            : Vector256.IsHardwareAccelerated ? GeluMath.GeluBackwardByVector256(ref dy, ref x, ref o, n) : 0;
        Map(new GeluBackwardFunction(), ref Unsafe.Add(ref dy, i), ref Unsafe.Add(ref x, i), ref Unsafe.Add(ref o, i), n - i);
    }
}
