using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// The planar depthwise weight-gradient kernels' last step per plane: nine vector accumulators into nine float64
/// totals. Eight of them go through one horizontal-add tree (6 hadds, 2 cross-lane moves, 1 add) instead of eight
/// separate lane sums — on 14 × 14 and smaller planes the per-plane reductions cost about as much as the FMAs.
/// Needs AVX (both kernels' tiers have it). The lane order of the additions is fixed, so results repeat bit for bit.
/// </summary>
internal static unsafe class DepthwiseFilterGradientSums
{
    /// <summary>totals[i] += Σ lanes of a_i, i = 0 … 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3, Vector256<float> a4,
        Vector256<float> a5, Vector256<float> a6, Vector256<float> a7, Vector256<float> a8, double* totals)
    {
        var h0123 = Avx.HorizontalAdd(Avx.HorizontalAdd(a0, a1), Avx.HorizontalAdd(a2, a3));
        var h4567 = Avx.HorizontalAdd(Avx.HorizontalAdd(a4, a5), Avx.HorizontalAdd(a6, a7));
        // h0123 = [Σ0 Σ1 Σ2 Σ3 of the low halves | the same of the high halves], likewise h4567.
        var sums = Avx.Permute2x128(h0123, h4567, 0x20) + Avx.Permute2x128(h0123, h4567, 0x31);
        Vector256.Store(Vector256.Load(totals) + Avx.ConvertToVector256Double(sums.GetLower()), totals);
        Vector256.Store(Vector256.Load(totals + 4) + Avx.ConvertToVector256Double(sums.GetUpper()), totals + 4);
        totals[8] += Vector256.Sum(a8);
    }

    /// <summary>The same for 16-lane accumulators: each folded to 8 lanes first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3, Vector512<float> a4,
        Vector512<float> a5, Vector512<float> a6, Vector512<float> a7, Vector512<float> a8, double* totals) =>
        Add(Fold(a0), Fold(a1), Fold(a2), Fold(a3), Fold(a4), Fold(a5), Fold(a6), Fold(a7), Fold(a8), totals);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Fold(Vector512<float> a) => a.GetLower() + a.GetUpper();
}
