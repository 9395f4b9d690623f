using System.Runtime.CompilerServices;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// How one dimension maps output index o to input indices: PyTorch 1.13's rules for float32 tensors
/// (aten/src/ATen/native/UpSample.h and cpu/UpSampleKernel.cpp), written once here for the CPU loops; kernels/upsample.ptx
/// computes the same float32 expressions in the same order.
/// <list type="bullet">
/// <item><see cref="UpsampleRule.Copy"/>: source o (and weights 1, 0) — the linear modes' shortcut when out = in, and the unit dimensions of lifted ranks.</item>
/// <item><see cref="UpsampleRule.Scaled"/>: with float32 <see cref="Scale"/> s (1/factor, or in/out; align_corners: (in−1)/(out−1) or 0):
/// nearest min(⌊RN(o·s)⌋, in−1); nearest-exact min(⌊RN((o + ½)·s)⌋, in−1) (float32 products, as PyTorch's); linear with
/// the exact t = s·o (align_corners) or max(s·(o + ½) − ½, 0) (PyTorch computes it in float64, where it is exact):
/// i0 = min(⌊t⌋, in−1), i1 = i0 + (i0 &lt; in−1), λ1 = RN(t − i0), λ0 = RN(1 − λ1) — worked out in float32 with
/// fused multiply-adds (see <see cref="Linear"/>).</item>
/// </list>
/// All the values are ≥ 0, so ⌊·⌋ is a truncation. The backward gathers: the outputs that read input i form one range
/// (every source index is non-decreasing in o), found by binary search on those same expressions.
/// </summary>
internal readonly record struct UpsampleAxis(int In, int Out, UpsampleRule Rule, float Scale)
{
    /// <summary>A dimension of size 1 on both sides (ranks below 3 lifted to 3-d).</summary>
    public static UpsampleAxis Unit => new(1, 1, UpsampleRule.Copy, 1f);

    /// <summary>The nearest modes' source index of output <paramref name="o"/>.</summary>
    public int Nearest(int o, bool exact) => Rule switch
    {
        UpsampleRule.Copy => o,
        _ => Math.Min((int)((exact ? (float)o + 0.5f : (float)o) * Scale), In - 1),
    };

    /// <summary>The linear modes' two taps of output <paramref name="o"/>: indices i0 ≤ i1 and their weights λ0, λ1.</summary>
    public void Linear(int o, bool alignCorners, out int i0, out int i1, out float l0, out float l1)
    {
        if (Rule == UpsampleRule.Copy)
        {
            i0 = i1 = o;
            l0 = 1f;
            l1 = 0f;
            return;
        }
        // PyTorch computes the position t = s·u − c in float64, where it is exact (a float32 times o + ½ < 2^23):
        // i0 = ⌊t⌋ and λ1 = t − i0 rounded once. Here each fma gives RN(s·u − (k + c)) with one rounding, whose sign is
        // exact: RN(t) may round up to the next integer, so k = trunc(RN(t)) is corrected once when t − k < 0.
        float u = alignCorners ? (float)o : (float)o + 0.5f, c = alignCorners ? 0f : 0.5f;
        float r0 = MathF.FusedMultiplyAdd(Scale, u, -c);
        if (r0 < 0f)
        {
            i0 = 0; // PyTorch clamps t < 0 to 0
            l1 = 0f;
        }
        else
        {
            int k = Math.Min((int)r0, In - 1);
            float r = MathF.FusedMultiplyAdd(Scale, u, -((float)k + c));
            if (r < 0f)
            {
                k--;
                r = MathF.FusedMultiplyAdd(Scale, u, -((float)k + c));
            }
            i0 = k;
            l1 = r;
        }
        i1 = i0 < In - 1 ? i0 + 1 : i0;
        l0 = 1f - l1;
    }

    /// <summary>
    /// The outputs [First, End) that read input <paramref name="i"/>: nearest, those whose source is i; linear, those with
    /// i0 ≤ i ≤ i1. Binary searches (the kernel runs the same ones), so the range is exact whatever the rounding.
    /// </summary>
    public (int First, int End) Targets(int i, int kind, bool alignCorners)
    {
        if (kind == UpsampleGeometry.LinearKind)
            return (FirstAtLeast(i, kind, alignCorners, upper: true), FirstAtLeast(i + 1, kind, alignCorners, upper: false));
        return (FirstAtLeast(i, kind, alignCorners, upper: false), FirstAtLeast(i + 1, kind, alignCorners, upper: false));
    }

    /// <summary>The first o in [0, Out) whose key (nearest: the source; linear: i1 if <paramref name="upper"/>, else i0) is ≥ <paramref name="t"/>, or Out.</summary>
    int FirstAtLeast(int t, int kind, bool alignCorners, bool upper)
    {
        uint lo = 0, hi = (uint)Out;
        while (lo < hi)
        {
            uint mid = (lo + hi) >> 1;
            int key;
            if (kind == UpsampleGeometry.LinearKind)
            {
                Linear((int)mid, alignCorners, out int i0, out int i1, out _, out _);
                key = upper ? i1 : i0;
            }
            else key = Nearest((int)mid, kind == UpsampleGeometry.NearestExactKind);
            if (key >= t) hi = mid;
            else lo = mid + 1;
        }
        return (int)lo;
    }
}

/// <summary>How an <see cref="UpsampleAxis"/> maps indices (its kernel code in parentheses).</summary>
internal enum UpsampleRule
{
    /// <summary>o (0).</summary>
    Copy = 0,
    /// <summary>Through the float32 scale (1).</summary>
    Scaled = 1,
}

/// <summary>
/// One upsample's sizes for the loops and the kernels, ranks 1–3 as 3-d with unit leading dimensions: planes = N·C,
/// each [D.In, H.In, W.In] → [D.Out, H.Out, W.Out]; <see cref="Kind"/> 0 nearest, 1 nearest-exact, 2 linear of
/// <see cref="LinearRank"/> dimensions (1 linear, 2 bilinear, 3 trilinear).
/// </summary>
internal readonly record struct UpsampleGeometry(int Planes, UpsampleAxis D, UpsampleAxis H, UpsampleAxis W, int Kind, int LinearRank, bool AlignCorners)
{
    public const int NearestKind = 0, NearestExactKind = 1, LinearKind = 2;

    /// <summary>The geometry of <paramref name="spec"/> on <paramref name="input"/> (already checked by <see cref="UpsampleSpec.CheckInput"/>).</summary>
    public static UpsampleGeometry Of(UpsampleSpec spec, TensorShape input)
    {
        int rank = spec.Rank;
        Span<UpsampleAxis> axes = [UpsampleAxis.Unit, UpsampleAxis.Unit, UpsampleAxis.Unit];
        int kind = spec.Mode switch
        {
            UpsampleMode.Nearest => NearestKind,
            UpsampleMode.NearestExact => NearestExactKind,
            _ => LinearKind,
        };
        for (int d = 0; d < rank; d++)
        {
            int n = input.Dims[2 + d], o = (int)spec.OutputSize(d, n);
            axes[3 - rank + d] = Axis(kind, n, o, spec.IndexScale(d), spec.AlignCorners);
        }
        return new UpsampleGeometry(checked(input.Dims[0] * input.Dims[1]), axes[0], axes[1], axes[2], kind,
            kind == LinearKind ? rank : 0, spec.AlignCorners);
    }

    /// <summary>One dimension's rule and float32 scale, as PyTorch 1.13 picks them.</summary>
    static UpsampleAxis Axis(int kind, int n, int o, double? factor, bool alignCorners)
    {
        // compute_scales_value<float>: the factor's float32 reciprocal, else in/out in float32.
        float scale = factor is { } f ? (float)(1.0 / f) : (float)n / (float)o;
        switch (kind)
        {
            case NearestKind:
            case NearestExactKind:
                // HelperInterpNearest (the NCHW kernels of every rank): always through the scale, even at out = in or 2·in.
                return new(n, o, UpsampleRule.Scaled, scale);
            default:
                // compute_source_index_and_lambda: out = in copies; area_pixel_compute_scale otherwise.
                if (o == n) return new(n, o, UpsampleRule.Copy, 1f);
                if (alignCorners) scale = o > 1 ? (float)(n - 1) / (float)(o - 1) : 0f;
                return new(n, o, UpsampleRule.Scaled, scale);
        }
    }

    /// <summary>Elements of one input plane.</summary>
    public long InPlane { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (long)D.In * H.In * W.In; }
    /// <summary>Elements of one output plane.</summary>
    public long OutPlane { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (long)D.Out * H.Out * W.Out; }
    /// <summary>Elements of the input.</summary>
    public long InCount => Planes * InPlane;
    /// <summary>Elements of the output.</summary>
    public long OutCount => Planes * OutPlane;
}
