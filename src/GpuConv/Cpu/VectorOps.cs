using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu;

/// <summary>
/// Small element-wise loops of the CPU backend (add, add-scalar, sum), each walking
/// Vector512 → Vector256 → Vector128 → scalar: every tier consumes what it can and hands the tail on.
/// </summary>
internal static unsafe class VectorOps
{
    /// <summary>dst[i] += src[i] for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Add(float* dst, float* src, nint n)
    {
        nint i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16) (Vector512.Load(dst + i) + Vector512.Load(src + i)).Store(dst + i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) (Vector256.Load(dst + i) + Vector256.Load(src + i)).Store(dst + i);
        if (Vector128.IsHardwareAccelerated)
            for (; i + 4 <= n; i += 4) (Vector128.Load(dst + i) + Vector128.Load(src + i)).Store(dst + i);
        for (; i < n; i++) dst[i] += src[i];
    }

    /// <summary>dst[i] += value for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddScalar(float* dst, float value, nint n)
    {
        nint i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var v = Vector512.Create(value);
            for (; i + 16 <= n; i += 16) (Vector512.Load(dst + i) + v).Store(dst + i);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var v = Vector256.Create(value);
            for (; i + 8 <= n; i += 8) (Vector256.Load(dst + i) + v).Store(dst + i);
        }
        if (Vector128.IsHardwareAccelerated)
        {
            var v = Vector128.Create(value);
            for (; i + 4 <= n; i += 4) (Vector128.Load(dst + i) + v).Store(dst + i);
        }
        for (; i < n; i++) dst[i] += value;
    }

    /// <summary>Sum of src[0..n) accumulated in double per vector lane (bias gradients sum many values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double Sum(float* src, nint n)
    {
        nint i = 0;
        double total = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<double>.Zero;
            for (; i + 4 <= n; i += 4)
                acc += Vector256.WidenLower(Vector256.Create(Vector128.Load(src + i), Vector128<float>.Zero));
            total = Vector256.Sum(acc);
        }
        for (; i < n; i++) total += src[i];
        return total;
    }
}
