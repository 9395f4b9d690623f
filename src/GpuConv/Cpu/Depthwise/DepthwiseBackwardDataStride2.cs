using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Conv;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// Backward-data of a 2-d 3x3 depthwise convolution with stride 2 and padding 1 at the start (MobileNetV2's and
/// EfficientNet-B0's downsampling depthwise layers), direct: dx[i, j] = Σ w[kh, kw]·dy[(i + 1 − kh)/2, (j + 1 − kw)/2]
/// over the taps where both halves are whole and inside dy. An even dx row takes the middle kernel row (kh = 1), an odd one
/// the outer two; likewise by column, so a dx row is two interleaved rows: the even columns E[m] = Σ w[kh, 1]·dy[oh, m] and
/// the odd ones O[m] = Σ w[kh, 0]·dy[oh, m + 1] + w[kh, 2]·dy[oh, m], each summed with fused multiply-adds from 0 in tap
/// order (kh, then kw), the bias added last. Eight E and eight O are computed in lanes and interleaved with AVX's
/// unpack and lane permutes; at the row's end, where a tap falls outside dy, the lanes skip it by a select (the same
/// sums as the scalar form, which runs without AVX), so every element has the same bits either way. Forward-phases, the general path, ran these as four depthwise sub-convolutions with 2 × 2,
/// 2 × 1, 1 × 2 and 1 × 1 kernels into a temporary and a scatter: 7–11× the forward's time.
/// </summary>
internal static unsafe class DepthwiseBackwardDataStride2
{
    /// <summary>Whether <paramref name="p"/> is such a problem: backward-data, 2-d, one output channel per group (C = K = groups), 3x3, stride 2, dilation 1, padding 1 at the start.</summary>
    public static bool Applies(ConvProblem p) =>
        p.Op == ConvOp.BackwardData && p.Rank == 2 && p.IsDepthwise && p.KPerGroup == 1 && p.CPerGroup == 1
        && p.Spec.Kernel[0] == 3 && p.Spec.Kernel[1] == 3 && p.Spec.Stride[0] == 2 && p.Spec.Stride[1] == 2
        && p.Spec.Dilation[0] == 1 && p.Spec.Dilation[1] == 1 && p.Spec.PadBegin[0] == 1 && p.Spec.PadBegin[1] == 1;

    /// <summary>dx (ctx.X, overwritten) from dy (ctx.Y) and w (ctx.W), plus ctx.Bias per channel; a task per (image, channel) plane.</summary>
    public static void Run(CpuConvContext ctx) => ctx.Workers.For(ctx.N * ctx.C, new Planes(ctx));

    readonly struct Planes(CpuConvContext ctx) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            int n = task / ctx.C, c = task % ctx.C;
            var g = ctx.Problem;
            int h = g.XShape[2], w = g.XShape[3], oh = g.YShape[2], ow = g.YShape[3];
            Plane(ctx.XPlane(n, c), ctx.YPlane(n, c), ctx.W + (nint)c * 9, ctx.Bias == null ? 0f : ctx.Bias[c], h, w, oh, ow);
        }
    }

    [System.Runtime.CompilerServices.SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Plane(float* dx, float* dy, float* k, float bias, int h, int w, int oh, int ow)
    {
        float* end = stackalloc float[16];   // a row's last interleaved block before it is copied
        for (int i = 0; i < h; i++)
        {
            // The dy rows this dx row reads, in tap order: kh = 1 for an even row; kh = 0 (row a + 1) and kh = 2 (row a) for an odd one.
            int a = i >> 1;
            float* r0 = null, r1 = null;
            float* k0 = null, k1 = null;
            if ((i & 1) == 0) { if (a < oh) { r0 = dy + (nint)a * ow; k0 = k + 3; } }
            else
            {
                if (a + 1 < oh) { r0 = dy + (nint)(a + 1) * ow; k0 = k; }
                if (a < oh) { if (r0 == null) { r0 = dy + (nint)a * ow; k0 = k + 6; } else { r1 = dy + (nint)a * ow; k1 = k + 6; } }
            }
            Row(dx + (nint)i * w, r0, k0, r1, k1, bias, w, ow, end);
        }
    }

    /// <summary>One dx row from up to two dy rows (r0 with kernel row k0, then r1 with k1; null: none).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Row(float* dx, float* r0, float* k0, float* r1, float* k1, float bias, int w, int ow, float* end)
    {
        int m = 0;
        if (Avx.IsSupported && r0 != null)
        {
            Vector256<float> b = Vector256.Create(bias);
            Vector256<float> a0 = Vector256.Create(k0[0]), a1 = Vector256.Create(k0[1]), a2 = Vector256.Create(k0[2]);
            Vector256<float> c0 = r1 == null ? default : Vector256.Create(k1[0]), c1 = r1 == null ? default : Vector256.Create(k1[1]),
                c2 = r1 == null ? default : Vector256.Create(k1[2]);
            // Whole vectors where every tap lies inside dy: dy[m + 8] read, dx[2m + 15] written.
            for (; m + 9 <= ow && 2 * m + 16 <= w; m += 8)
            {
                Vector256<float> d0 = Vector256.Load(r0 + m), d1 = Vector256.Load(r0 + m + 1);
                Vector256<float> even = Vector256.FusedMultiplyAdd(a1, d0, Vector256<float>.Zero);
                Vector256<float> odd = Vector256.FusedMultiplyAdd(a2, d0, Vector256.FusedMultiplyAdd(a0, d1, Vector256<float>.Zero));
                if (r1 != null)
                {
                    Vector256<float> e0 = Vector256.Load(r1 + m), e1 = Vector256.Load(r1 + m + 1);
                    even = Vector256.FusedMultiplyAdd(c1, e0, even);
                    odd = Vector256.FusedMultiplyAdd(c2, e0, Vector256.FusedMultiplyAdd(c0, e1, odd));
                }
                Interleave(even + b, odd + b, dx + 2 * m);
            }
            // The row's end: a lane whose tap lies past dy skips that tap (a select, not a product with 0, so an infinite
            // weight stays out as the scalar form leaves it out); interleaved into a scratch block, the row's part copied.
            var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
            for (; 2 * m < w; m += 8)
            {
                var inside = Vector256.LessThan(lane, Vector256.Create(ow - m)).AsSingle();           // dy[m + l]
                var nextInside = Vector256.LessThan(lane, Vector256.Create(ow - m - 1)).AsSingle();   // dy[m + l + 1]
                Vector256<float> d0 = Avx.MaskLoad(r0 + m, inside), d1 = Avx.MaskLoad(r0 + m + 1, nextInside);
                var zero = Vector256<float>.Zero;
                var even = Vector256.ConditionalSelect(inside, Vector256.FusedMultiplyAdd(a1, d0, zero), zero);
                var odd = Vector256.ConditionalSelect(nextInside, Vector256.FusedMultiplyAdd(a0, d1, zero), zero);
                odd = Vector256.ConditionalSelect(inside, Vector256.FusedMultiplyAdd(a2, d0, odd), odd);
                if (r1 != null)
                {
                    Vector256<float> e0 = Avx.MaskLoad(r1 + m, inside), e1 = Avx.MaskLoad(r1 + m + 1, nextInside);
                    even = Vector256.ConditionalSelect(inside, Vector256.FusedMultiplyAdd(c1, e0, even), even);
                    odd = Vector256.ConditionalSelect(nextInside, Vector256.FusedMultiplyAdd(c0, e1, odd), odd);
                    odd = Vector256.ConditionalSelect(inside, Vector256.FusedMultiplyAdd(c2, e0, odd), odd);
                }
                Interleave(even + b, odd + b, end);
                new ReadOnlySpan<float>(end, Math.Min(16, w - 2 * m)).CopyTo(new Span<float>(dx + 2 * m, Math.Min(16, w - 2 * m)));
            }
            return;
        }
        for (int j = 2 * m; j < w; j++)
        {
            float acc = 0f;
            acc = Taps(acc, r0, k0, j, ow);
            acc = Taps(acc, r1, k1, j, ow);
            dx[j] = acc + bias;
        }
    }

    /// <summary>dst[2l] = even[l], dst[2l + 1] = odd[l] for the 8 lanes (AVX's unpacks, then its 128-bit lane permutes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Interleave(Vector256<float> even, Vector256<float> odd, float* dst)
    {
        var lo = Avx.UnpackLow(even, odd);     // e0 o0 e1 o1 | e4 o4 e5 o5
        var hi = Avx.UnpackHigh(even, odd);    // e2 o2 e3 o3 | e6 o6 e7 o7
        Avx.Permute2x128(lo, hi, 0x20).Store(dst);
        Avx.Permute2x128(lo, hi, 0x31).Store(dst + 8);
    }

    /// <summary>acc plus one dy row's taps for dx column j (kw = 1 for an even column; kw = 0 then kw = 2 for an odd one), each inside dy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Taps(float acc, float* r, float* k, int j, int ow)
    {
        if (r == null) return acc;
        int m = j >> 1;
        if ((j & 1) == 0) return m < ow ? MathF.FusedMultiplyAdd(k[1], r[m], acc) : acc;
        if (m + 1 < ow) acc = MathF.FusedMultiplyAdd(k[0], r[m + 1], acc);
        return m < ow ? MathF.FusedMultiplyAdd(k[2], r[m], acc) : acc;
    }
}
