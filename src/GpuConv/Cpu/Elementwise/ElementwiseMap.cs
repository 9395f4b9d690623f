using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// An element-wise function of one input in its two forms, scalar and Vector256, which must do the same IEEE
/// operations in the same order (so a result does not depend on which form computed it).
/// </summary>
internal interface IUnaryFunction
{
    float Apply(float x);
    Vector256<float> Apply(Vector256<float> x);
}

/// <summary>An element-wise function of two inputs in its scalar and Vector256 forms (same operations in both).</summary>
internal interface IBinaryFunction
{
    float Apply(float a, float b);
    Vector256<float> Apply(Vector256<float> a, Vector256<float> b);
}

/// <summary>
/// The one loop every element-wise op shares: Vector256 steps, then the scalar tail. The functions are structs, so
/// the JIT compiles a loop of its own for each and inlines the function into it.
/// </summary>
internal static class ElementwiseMap
{
    /// <summary>o[i] = f(a[i]) for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Map<TFunction>(TFunction f, ref float a, ref float o, nuint n) where TFunction : struct, IUnaryFunction
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) f.Apply(Vector256.LoadUnsafe(ref a, i)).StoreUnsafe(ref o, i);
        for (; i < n; i++) Unsafe.Add(ref o, i) = f.Apply(Unsafe.Add(ref a, i));
    }

    /// <summary>o[i] = f(a[i], b[i]) for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Map<TFunction>(TFunction f, ref float a, ref float b, ref float o, nuint n) where TFunction : struct, IBinaryFunction
    {
        nuint i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) f.Apply(Vector256.LoadUnsafe(ref a, i), Vector256.LoadUnsafe(ref b, i)).StoreUnsafe(ref o, i);
        for (; i < n; i++) Unsafe.Add(ref o, i) = f.Apply(Unsafe.Add(ref a, i), Unsafe.Add(ref b, i));
    }
}
