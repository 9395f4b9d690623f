using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// <see cref="ElementwiseOp"/> on host arrays: a Vector256 loop (ReLU and ReLU6: <see cref="CpuActivation"/>'s, Vector512 first on AVX-512; SiLU: blocks of Vector512 on AVX-512, then of Vector256, first; tanh and GELU: <see cref="TanhMath"/>'s and <see cref="GeluMath"/>'s Vector256 forms), then the scalar tail with the same IEEE
/// operations (so the result does not depend on where the vector part ends, nor on how a tensor is cut into
/// chunks: <see cref="ParallelElementwise"/> runs these loops on parts of a large tensor on several threads).
/// The output may be the very same array as an input (each element is read before it is written).
/// </summary>
internal static class CpuElementwise
{
    /// <summary>output[i] = op(a[i], b[i], alpha) for every i; <paramref name="b"/> is ignored by the one-input ops.</summary>
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
            case ElementwiseOp.Add: Add(ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.Relu: Relu(ref pa, ref po, n); break;
            case ElementwiseOp.ReluBackward: ReluBackward(ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.Relu6: Relu6(ref pa, ref po, n); break;
            case ElementwiseOp.Relu6Backward: Relu6Backward(ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.Silu: Silu(ref pa, ref po, n); break;
            case ElementwiseOp.SiluBackward: SiluBackward(ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.Sigmoid: Sigmoid(ref pa, ref po, n); break;
            case ElementwiseOp.SigmoidBackward: SigmoidBackward(ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.Hardsigmoid: Hard(ref pa, ref po, n, swish: false); break;
            case ElementwiseOp.Hardswish: Hard(ref pa, ref po, n, swish: true); break;
            case ElementwiseOp.HardsigmoidBackward: HardsigmoidBackward(ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.HardswishBackward: HardswishBackward(ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.Tanh: Tanh(ref pa, ref po, n); break;
            case ElementwiseOp.TanhBackward: TanhBackward(ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.Mul: Mul(ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.LeakyRelu: LeakyRelu(ref pa, ref pa, alpha, ref po, n); break;
            case ElementwiseOp.LeakyReluBackward: LeakyRelu(ref pa, ref pb, alpha, ref po, n); break;
            case ElementwiseOp.Scale: Scale(ref pa, alpha, ref po, n); break;
            case ElementwiseOp.AddScaled: AddScaled(ref pa, ref pb, alpha, ref po, n); break;
            case ElementwiseOp.Gelu: Gelu(ref pa, ref po, n); break;
            case ElementwiseOp.GeluBackward: GeluBackward(ref pa, ref pb, ref po, n); break;
            case ElementwiseOp.GeluTanh: GeluTanh(ref pa, ref po, n); break;
            case ElementwiseOp.GeluTanhBackward: GeluTanhBackward(ref pa, ref pb, ref po, n); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "not an element-wise op");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Add(ref float a, ref float b, ref float o, nuint n)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
                (Vector256.LoadUnsafe(ref a, i) + Vector256.LoadUnsafe(ref b, i)).StoreUnsafe(ref o, i);
        for (; i < n; i++) Unsafe.Add(ref o, i) = Unsafe.Add(ref a, i) + Unsafe.Add(ref b, i);
    }

    /// <summary>max(v, 0) by compare-and-select (NaN and -0 stay): <see cref="CpuActivation.Relu"/>, the loop the CPU convolutions fuse too.</summary>
    static unsafe void Relu(ref float a, ref float o, nuint n)
    {
        fixed (float* pa = &a, po = &o) CpuActivation.Relu(pa, po, (nint)n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ReluBackward(ref float dy, ref float y, ref float o, nuint n)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
            {
                var blocked = Vector256.LessThanOrEqual(Vector256.LoadUnsafe(ref y, i), Vector256<float>.Zero);
                Vector256.ConditionalSelect(blocked, Vector256<float>.Zero, Vector256.LoadUnsafe(ref dy, i)).StoreUnsafe(ref o, i);
            }
        for (; i < n; i++) Unsafe.Add(ref o, i) = Unsafe.Add(ref y, i) <= 0 ? 0f : Unsafe.Add(ref dy, i);
    }

    /// <summary>
    /// min(max(v, 0), 6) by compare-and-select (a NaN stays, -0 stays), as torch's hardtanh(v, 0, 6):
    /// <see cref="CpuActivation.Relu6"/>, the loop the CPU convolutions fuse too.
    /// </summary>
    static unsafe void Relu6(ref float a, ref float o, nuint n)
    {
        fixed (float* pa = &a, po = &o) CpuActivation.Relu6(pa, po, (nint)n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Relu6Backward(ref float dy, ref float x, ref float o, nuint n)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var six = Vector256.Create(6f);
            for (; i + 8 <= n; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref x, i);
                // x <= 0 or x >= 6 blocks (both ends included, -0 too); a NaN x fails both and passes dy.
                var blocked = Vector256.LessThanOrEqual(v, Vector256<float>.Zero) | Vector256.GreaterThanOrEqual(v, six);
                Vector256.ConditionalSelect(blocked, Vector256<float>.Zero, Vector256.LoadUnsafe(ref dy, i)).StoreUnsafe(ref o, i);
            }
        }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref x, i);
            Unsafe.Add(ref o, i) = v <= 0 || v >= 6f ? 0f : Unsafe.Add(ref dy, i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Silu(ref float a, ref float o, nuint n)
    {
        // SiluMath's exact-operation sequence, the same in every form (and in the kernels): blocks of four Vector512
        // on AVX-512, blocks of four Vector256, single Vector256, then scalar.
        nuint i = 0;
        if (SiluMath.Blocks512Accelerated)
            i = SiluMath.SiluBlocks512(ref a, ref o, n);
        if (Vector256.IsHardwareAccelerated)
        {
            i += SiluMath.SiluBlocks256(ref Unsafe.Add(ref a, i), ref Unsafe.Add(ref o, i), n - i);
            for (; i + 8 <= n; i += 8)
                SiluMath.Silu(Vector256.LoadUnsafe(ref a, i)).StoreUnsafe(ref o, i);
        }
        for (; i < n; i++) Unsafe.Add(ref o, i) = SiluMath.Silu(Unsafe.Add(ref a, i));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void SiluBackward(ref float dy, ref float x, ref float o, nuint n)
    {
        nuint i = 0;
        if (SiluMath.Blocks512Accelerated)
            i = SiluMath.SiluBackwardBlocks512(ref dy, ref x, ref o, n);
        if (Vector256.IsHardwareAccelerated)
        {
            i += SiluMath.SiluBackwardBlocks256(ref Unsafe.Add(ref dy, i), ref Unsafe.Add(ref x, i), ref Unsafe.Add(ref o, i), n - i);
            for (; i + 8 <= n; i += 8)
                SiluMath.SiluBackward(Vector256.LoadUnsafe(ref dy, i), Vector256.LoadUnsafe(ref x, i)).StoreUnsafe(ref o, i);
        }
        for (; i < n; i++) Unsafe.Add(ref o, i) = SiluMath.SiluBackward(Unsafe.Add(ref dy, i), Unsafe.Add(ref x, i));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Sigmoid(ref float a, ref float o, nuint n)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
                SiluMath.Sigmoid(Vector256.LoadUnsafe(ref a, i)).StoreUnsafe(ref o, i);
        for (; i < n; i++) Unsafe.Add(ref o, i) = SiluMath.Sigmoid(Unsafe.Add(ref a, i));
    }

    /// <summary>(dy·(1 - y))·y, torch's sigmoid_backward in its order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void SigmoidBackward(ref float dy, ref float y, ref float o, nuint n)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var one = Vector256.Create(1f);
            for (; i + 8 <= n; i += 8)
            {
                var vy = Vector256.LoadUnsafe(ref y, i);
                (Vector256.LoadUnsafe(ref dy, i) * (one - vy) * vy).StoreUnsafe(ref o, i);
            }
        }
        for (; i < n; i++)
        {
            float vy = Unsafe.Add(ref y, i);
            Unsafe.Add(ref o, i) = Unsafe.Add(ref dy, i) * (1f - vy) * vy;
        }
    }

    /// <summary>1/6 rounded to float (0x3E2AAAAB), the factor of torch's hardsigmoid gradient.</summary>
    const float OneSixth = 1f / 6f;

    /// <summary>
    /// hardsigmoid: c / 6, hardswish: (x·c) / 6, with c = min(max(x + 3, 0), 6) by compare-and-select (a NaN fails
    /// both tests and stays): torch 1.13's CPU operations in its order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Hard(ref float a, ref float o, nuint n, bool swish)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var three = Vector256.Create(3f);
            var six = Vector256.Create(6f);
            for (; i + 8 <= n; i += 8)
            {
                var x = Vector256.LoadUnsafe(ref a, i);
                var c = x + three;
                c = Vector256.ConditionalSelect(Vector256.LessThan(c, Vector256<float>.Zero), Vector256<float>.Zero, c);
                c = Vector256.ConditionalSelect(Vector256.GreaterThan(c, six), six, c);
                ((swish ? x * c : c) / six).StoreUnsafe(ref o, i);
            }
        }
        for (; i < n; i++)
        {
            float x = Unsafe.Add(ref a, i);
            float c = x + 3f;
            c = c < 0f ? 0f : c;
            c = c > 6f ? 6f : c;
            Unsafe.Add(ref o, i) = (swish ? x * c : c) / 6f;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void HardsigmoidBackward(ref float dy, ref float x, ref float o, nuint n)
    {
        for (nuint i = 0; i < n; i++)
        {
            float v = Unsafe.Add(ref x, i);
            Unsafe.Add(ref o, i) = v > -3f && v < 3f ? Unsafe.Add(ref dy, i) * OneSixth : 0f;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void HardswishBackward(ref float dy, ref float x, ref float o, nuint n)
    {
        for (nuint i = 0; i < n; i++)
        {
            float v = Unsafe.Add(ref x, i), g = Unsafe.Add(ref dy, i);
            Unsafe.Add(ref o, i) = v < -3f ? 0f : v <= 3f ? g * (v / 3f + 0.5f) : g;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tanh(ref float a, ref float o, nuint n)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) TanhMath.Tanh(Vector256.LoadUnsafe(ref a, i)).StoreUnsafe(ref o, i);
        for (; i < n; i++) Unsafe.Add(ref o, i) = TanhMath.Tanh(Unsafe.Add(ref a, i));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void TanhBackward(ref float dy, ref float y, ref float o, nuint n)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
                TanhMath.TanhBackward(Vector256.LoadUnsafe(ref dy, i), Vector256.LoadUnsafe(ref y, i)).StoreUnsafe(ref o, i);
        for (; i < n; i++) Unsafe.Add(ref o, i) = TanhMath.TanhBackward(Unsafe.Add(ref dy, i), Unsafe.Add(ref y, i));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Gelu(ref float a, ref float o, nuint n)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) GeluMath.Gelu(Vector256.LoadUnsafe(ref a, i)).StoreUnsafe(ref o, i);
        for (; i < n; i++) Unsafe.Add(ref o, i) = GeluMath.Gelu(Unsafe.Add(ref a, i));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void GeluBackward(ref float dy, ref float x, ref float o, nuint n)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
                GeluMath.GeluBackward(Vector256.LoadUnsafe(ref dy, i), Vector256.LoadUnsafe(ref x, i)).StoreUnsafe(ref o, i);
        for (; i < n; i++) Unsafe.Add(ref o, i) = GeluMath.GeluBackward(Unsafe.Add(ref dy, i), Unsafe.Add(ref x, i));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void GeluTanh(ref float a, ref float o, nuint n)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) GeluMath.GeluTanh(Vector256.LoadUnsafe(ref a, i)).StoreUnsafe(ref o, i);
        for (; i < n; i++) Unsafe.Add(ref o, i) = GeluMath.GeluTanh(Unsafe.Add(ref a, i));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void GeluTanhBackward(ref float dy, ref float x, ref float o, nuint n)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
                GeluMath.GeluTanhBackward(Vector256.LoadUnsafe(ref dy, i), Vector256.LoadUnsafe(ref x, i)).StoreUnsafe(ref o, i);
        for (; i < n; i++) Unsafe.Add(ref o, i) = GeluMath.GeluTanhBackward(Unsafe.Add(ref dy, i), Unsafe.Add(ref x, i));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Mul(ref float a, ref float b, ref float o, nuint n)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
                (Vector256.LoadUnsafe(ref a, i) * Vector256.LoadUnsafe(ref b, i)).StoreUnsafe(ref o, i);
        for (; i < n; i++) Unsafe.Add(ref o, i) = Unsafe.Add(ref a, i) * Unsafe.Add(ref b, i);
    }

    /// <summary>
    /// o = s &gt; 0 ? v : v · slope with s the sign source: the forward passes x as both (v = s = x), the gradient
    /// v = dy, s = x. Compare-and-select, so a NaN s takes the product (as torch's leaky_relu and its backward).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void LeakyRelu(ref float v, ref float s, float slope, ref float o, nuint n)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var k = Vector256.Create(slope);
            for (; i + 8 <= n; i += 8)
            {
                var value = Vector256.LoadUnsafe(ref v, i);
                var positive = Vector256.GreaterThan(Vector256.LoadUnsafe(ref s, i), Vector256<float>.Zero);
                Vector256.ConditionalSelect(positive, value, value * k).StoreUnsafe(ref o, i);
            }
        }
        for (; i < n; i++)
        {
            float value = Unsafe.Add(ref v, i);
            Unsafe.Add(ref o, i) = Unsafe.Add(ref s, i) > 0f ? value : value * slope;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Scale(ref float a, float alpha, ref float o, nuint n)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var s = Vector256.Create(alpha);
            for (; i + 8 <= n; i += 8) (s * Vector256.LoadUnsafe(ref a, i)).StoreUnsafe(ref o, i);
        }
        for (; i < n; i++) Unsafe.Add(ref o, i) = alpha * Unsafe.Add(ref a, i);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void AddScaled(ref float x, ref float y, float alpha, ref float o, nuint n)
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var s = Vector256.Create(alpha);
            for (; i + 8 <= n; i += 8)
                Vector256.FusedMultiplyAdd(s, Vector256.LoadUnsafe(ref x, i), Vector256.LoadUnsafe(ref y, i)).StoreUnsafe(ref o, i);
        }
        for (; i < n; i++) Unsafe.Add(ref o, i) = MathF.FusedMultiplyAdd(alpha, Unsafe.Add(ref x, i), Unsafe.Add(ref y, i));
    }
}
