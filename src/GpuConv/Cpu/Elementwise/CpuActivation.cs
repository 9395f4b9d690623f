using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// The activation of ForwardBiasActivation applied by the CPU convolutions themselves: each task runs it on the output
/// region it has just written (conv + bias), while that region is still in cache, instead of a separate pass over the
/// whole output afterwards; where a task adds the bias in a pass of its own, in that same pass.
/// Every element gets the same IEEE operations, hence the same bits, as the element-wise op
/// (<see cref="CpuElementwise"/>) over the whole tensor: ReLU and ReLU6 are the very loops the element-wise ops run
/// (<see cref="Relu"/>, <see cref="Relu6"/>: compare-and-selects on 16 lanes where AVX-512 is there, 8, then scalar), SiLU,
/// hardswish, sigmoid, hardsigmoid and GELU (both forms, <see cref="GeluMath"/>) are <see cref="CpuElementwise"/>'s own loops, run over the region after it is
/// written (<see cref="InLanes"/> is false for them), and a bias is added as <see cref="VectorOps.AddScalar"/> adds it (y + b).
/// </summary>
internal static unsafe class CpuActivation
{
    /// <summary>
    /// Whether kernels apply <paramref name="act"/> as <see cref="IActivationLanes"/> in the registers they store from
    /// (identity, ReLU, ReLU6); the others run as <see cref="CpuElementwise"/>'s loop over the written region.
    /// </summary>
    public static bool InLanes(Activation act) => act is Activation.Identity or Activation.Relu or Activation.Relu6;

    /// <summary>act(v) in place on <paramref name="n"/> floats at <paramref name="p"/>; Identity does nothing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Apply(Activation act, float* p, nint n)
    {
        switch (act)
        {
            case Activation.Identity: return;
            case Activation.Relu: Relu(p, p, n); return;
            case Activation.Relu6: Relu6(p, p, n); return;
        }
        var op = ConvEngine.ActivationOp(act);
        // Spans hold at most int.MaxValue elements: a longer run goes in parts (the loop's bits do not depend on the cut).
        while (n > 0)
        {
            int part = (int)Math.Min(n, 1 << 30);
            var span = new Span<float>(p, part);
            CpuElementwise.Run(op, span, default, 0f, span);
            p += part;
            n -= part;
        }
    }

    /// <summary>dst[i] = relu(src[i]): the one ReLU loop, also the element-wise op's (<see cref="CpuElementwise"/>).</summary>
    public static void Relu(float* src, float* dst, nint n) => CopyAddScalarRelu(src, dst, 0f, n, addBias: false);

    /// <summary>dst[i] = relu6(src[i]): the one ReLU6 loop, also the element-wise op's (<see cref="CpuElementwise"/>).</summary>
    public static void Relu6(float* src, float* dst, nint n) => CopyAddScalarRelu6(src, dst, 0f, n, addBias: false);

    /// <summary>act in place on <paramref name="rows"/> rows of <paramref name="length"/> floats, <paramref name="stride"/> apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows(Activation act, float* first, nint stride, int rows, nint length)
    {
        if (act == Activation.Identity) return;
        if (stride == length)
        {
            Apply(act, first, length * rows);
            return;
        }
        for (int r = 0; r < rows; r++) Apply(act, first + r * stride, length);
    }

    /// <summary>dst[i] = act(src[i] + bias) (<see cref="VectorOps.CopyAddScalar"/>, then the activation), in one pass for ReLU and ReLU6.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopyAddScalar(float* src, float* dst, float bias, nint n, Activation act)
    {
        switch (act)
        {
            case Activation.Relu: CopyAddScalarRelu(src, dst, bias, n, addBias: true); return;
            case Activation.Relu6: CopyAddScalarRelu6(src, dst, bias, n, addBias: true); return;
        }
        VectorOps.CopyAddScalar(src, dst, bias, n);
        Apply(act, dst, n);
    }

    /// <summary>p[i] = act(p[i] + bias) (<see cref="VectorOps.AddScalar"/>, then the activation), in one pass for ReLU and ReLU6.</summary>
    public static void AddScalar(float* p, float bias, nint n, Activation act) => CopyAddScalar(p, p, bias, n, act);

    // Compare-and-select, as CpuElementwise: NaN < 0 is false (NaN stays), -0 < 0 is false (-0 stays); ReLU6's NaN fails both tests.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void CopyAddScalarRelu(float* src, float* dst, float bias, nint n, bool addBias)
    {
        nint i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var b = Vector512.Create(bias);
            for (; i + 16 <= n; i += 16)
            {
                var v = Vector512.Load(src + i);
                if (addBias) v += b;
                Vector512.ConditionalSelect(Vector512.LessThan(v, Vector512<float>.Zero), Vector512<float>.Zero, v).Store(dst + i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var b = Vector256.Create(bias);
            for (; i + 8 <= n; i += 8)
            {
                var v = Vector256.Load(src + i);
                if (addBias) v += b;
                Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), Vector256<float>.Zero, v).Store(dst + i);
            }
        }
        for (; i < n; i++)
        {
            float v = addBias ? src[i] + bias : src[i];
            dst[i] = v < 0 ? 0f : v;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void CopyAddScalarRelu6(float* src, float* dst, float bias, nint n, bool addBias)
    {
        nint i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var b = Vector512.Create(bias);
            var six = Vector512.Create(6f);
            for (; i + 16 <= n; i += 16)
            {
                var v = Vector512.Load(src + i);
                if (addBias) v += b;
                v = Vector512.ConditionalSelect(Vector512.LessThan(v, Vector512<float>.Zero), Vector512<float>.Zero, v);
                Vector512.ConditionalSelect(Vector512.GreaterThan(v, six), six, v).Store(dst + i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var b = Vector256.Create(bias);
            var six = Vector256.Create(6f);
            for (; i + 8 <= n; i += 8)
            {
                var v = Vector256.Load(src + i);
                if (addBias) v += b;
                v = Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), Vector256<float>.Zero, v);
                Vector256.ConditionalSelect(Vector256.GreaterThan(v, six), six, v).Store(dst + i);
            }
        }
        for (; i < n; i++)
        {
            float v = addBias ? src[i] + bias : src[i];
            dst[i] = v < 0 ? 0f : v > 6f ? 6f : v;
        }
    }
}

/// <summary>
/// An activation as lane operations for kernels that apply it in registers before a store (a generic argument, so each
/// kernel is compiled with it inlined). The same compare-and-selects as <see cref="CpuElementwise"/>'s ops at every width.
/// </summary>
internal interface IActivationLanes
{
    static abstract float On(float v);
    static abstract Vector256<float> On(Vector256<float> v);
    static abstract Vector512<float> On(Vector512<float> v);
}

/// <summary>No activation: the value as it is.</summary>
internal readonly struct NoActivation : IActivationLanes
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float On(float v) => v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> On(Vector256<float> v) => v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> On(Vector512<float> v) => v;
}

/// <summary>ReLU: v &lt; 0 ? 0 : v (NaN and -0 stay).</summary>
internal readonly struct ReluLanes : IActivationLanes
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float On(float v) => v < 0 ? 0f : v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> On(Vector256<float> v) => Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), Vector256<float>.Zero, v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> On(Vector512<float> v) => Vector512.ConditionalSelect(Vector512.LessThan(v, Vector512<float>.Zero), Vector512<float>.Zero, v);
}

/// <summary>ReLU6: v &lt; 0 ? 0 : v &gt; 6 ? 6 : v (NaN and -0 stay).</summary>
internal readonly struct Relu6Lanes : IActivationLanes
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float On(float v) => v < 0 ? 0f : v > 6f ? 6f : v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> On(Vector256<float> v)
    {
        v = Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), Vector256<float>.Zero, v);
        var six = Vector256.Create(6f);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(v, six), six, v);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> On(Vector512<float> v)
    {
        v = Vector512.ConditionalSelect(Vector512.LessThan(v, Vector512<float>.Zero), Vector512<float>.Zero, v);
        var six = Vector512.Create(6f);
        return Vector512.ConditionalSelect(Vector512.GreaterThan(v, six), six, v);
    }
}
