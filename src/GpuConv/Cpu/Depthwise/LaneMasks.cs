using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// The lane masks the depthwise kernels read planes with (AVX-512, and 8-lane ones for AVX2): a masked
/// load does not fault on the lanes it drops, so a vector may overhang a row or the plane and read zeros there.
/// </summary>
internal static unsafe class LaneMasks
{
    /// <summary>Lanes i where 0 ≤ start + i &lt; limit (all-ones float lanes), the rest zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> InRange(int start, int limit) =>
        Vector512.LessThan((Vector512<int>.Indices + Vector512.Create(start)).AsUInt32(), Vector512.Create((uint)limit)).AsSingle();

    /// <summary>The same for 8 lanes (the AVX2 kernels).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> InRange8(int start, int limit) =>
        Vector256.LessThan((Vector256<int>.Indices + Vector256.Create(start)).AsUInt32(), Vector256.Create((uint)limit)).AsSingle();

    /// <summary>The lanes of <paramref name="mask"/> loaded from <paramref name="p"/>, zero elsewhere.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(float* p, Vector512<float> mask) => Avx512F.MaskLoad(p, mask, Vector512<float>.Zero);
}
