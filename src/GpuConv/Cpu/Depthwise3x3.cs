using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Geometry = GpuConv.Cpu.ReferenceConv.Geometry;

namespace GpuConv.Cpu;

/// <summary>
/// Depthwise 3x3 forward (2-D, one filter per channel, stride 1 or 2, no dilation, any padding) read
/// straight from the NCHW planes: no padded copy, no tables, no per-plane setup beyond nine weight
/// broadcasts. Outputs go 16 columns at a time; every input read is an AVX-512 masked load whose
/// mask drops the columns outside the row (the zero padding, and the part of a narrow row a vector
/// overhangs), and masked loads do not fault on dropped lanes, so the plane's edges need no special
/// case. The loop runs column strip by column strip and down the rows inside a strip, so a strip's
/// masks are computed once. Stride-2 columns are picked from two loads with a two-source permute.
/// </summary>
internal static unsafe class Depthwise3x3
{
    const int Lanes = 16;

    public static bool Applies(in Geometry g, int multiplier) =>
        Avx512F.IsSupported && multiplier == 1 &&
        g.InD == 1 && g.OutD == 1 && g.KD == 1 && g.KH == 3 && g.KW == 3 && g.DH == 1 && g.DW == 1 &&
        g.SH is 1 or 2 && g.SW is 1 or 2 &&
        // the column arithmetic below stays in int
        (long)g.InW + 2L * g.OutW + 64 < int.MaxValue;

    /// <summary>One plane: y[oh, ow] = bias + Σ w[dh, dw]·x[oh·sh − ph + dh, ow·sw − pw + dw] (zero outside x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Plane(in Geometry g, float* x, float* w, float* y, float bias)
    {
        if (g.SW == 1) Stride1Columns(g, x, w, y, bias);
        else Stride2Columns(g, x, w, y, bias);
    }

    /// <summary>Lanes i where 0 ≤ start + i &lt; limit (all-ones float lanes), the rest zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> InRange(int start, int limit) =>
        Vector512.LessThan((Vector512<int>.Indices + Vector512.Create(start)).AsUInt32(), Vector512.Create((uint)limit)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Load(float* p, Vector512<float> mask) => Avx512F.MaskLoad(p, mask, Vector512<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Stride1Columns(in Geometry g, float* x, float* w, float* y, float bias)
    {
        int inH = g.InH, inW = g.InW, outH = g.OutH, outW = g.OutW, sh = g.SH, ph = g.PH;
        var w0 = Vector512.Create(w[0]); var w1 = Vector512.Create(w[1]); var w2 = Vector512.Create(w[2]);
        var w3 = Vector512.Create(w[3]); var w4 = Vector512.Create(w[4]); var w5 = Vector512.Create(w[5]);
        var w6 = Vector512.Create(w[6]); var w7 = Vector512.Create(w[7]); var w8 = Vector512.Create(w[8]);
        var vb = Vector512.Create(bias);
        for (int ow0 = 0; ow0 < outW; ow0 += Lanes)
        {
            int b = ow0 - g.PW;     // input column of tap 0 for lane 0
            var m0 = InRange(b, inW); var m1 = InRange(b + 1, inW); var m2 = InRange(b + 2, inW);
            var store = InRange(ow0, outW);
            float* yo = y + ow0;
            float* xc = x + b;
            for (int oh = 0; oh < outH; oh++, yo += outW)
            {
                int ih = oh * sh - ph;
                var acc = vb;
                if ((uint)ih < (uint)inH)
                {
                    float* r = xc + (nint)ih * inW;
                    acc = Vector512.FusedMultiplyAdd(w0, Load(r, m0), acc);
                    acc = Vector512.FusedMultiplyAdd(w1, Load(r + 1, m1), acc);
                    acc = Vector512.FusedMultiplyAdd(w2, Load(r + 2, m2), acc);
                }
                if ((uint)(ih + 1) < (uint)inH)
                {
                    float* r = xc + (nint)(ih + 1) * inW;
                    acc = Vector512.FusedMultiplyAdd(w3, Load(r, m0), acc);
                    acc = Vector512.FusedMultiplyAdd(w4, Load(r + 1, m1), acc);
                    acc = Vector512.FusedMultiplyAdd(w5, Load(r + 2, m2), acc);
                }
                if ((uint)(ih + 2) < (uint)inH)
                {
                    float* r = xc + (nint)(ih + 2) * inW;
                    acc = Vector512.FusedMultiplyAdd(w6, Load(r, m0), acc);
                    acc = Vector512.FusedMultiplyAdd(w7, Load(r + 1, m1), acc);
                    acc = Vector512.FusedMultiplyAdd(w8, Load(r + 2, m2), acc);
                }
                Avx512F.MaskStore(yo, store, acc);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Stride2Columns(in Geometry g, float* x, float* w, float* y, float bias)
    {
        int inH = g.InH, inW = g.InW, outH = g.OutH, outW = g.OutW, sh = g.SH, ph = g.PH;
        var w0 = Vector512.Create(w[0]); var w1 = Vector512.Create(w[1]); var w2 = Vector512.Create(w[2]);
        var w3 = Vector512.Create(w[3]); var w4 = Vector512.Create(w[4]); var w5 = Vector512.Create(w[5]);
        var w6 = Vector512.Create(w[6]); var w7 = Vector512.Create(w[7]); var w8 = Vector512.Create(w[8]);
        var vb = Vector512.Create(bias);
        // Lane i of (lo, hi) concatenated: even = 2i, odd = 2i + 1.
        var even = Vector512<int>.Indices * 2;
        var odd = even + Vector512<int>.One;
        for (int ow0 = 0; ow0 < outW; ow0 += Lanes)
        {
            int b = 2 * ow0 - g.PW;     // input column of tap 0 for lane 0; a strip reads columns b … b + 32
            var mLo = InRange(b, inW); var mHi = InRange(b + Lanes, inW);
            var mLo2 = InRange(b + 2, inW); var mHi2 = InRange(b + 2 + Lanes, inW);
            var store = InRange(ow0, outW);
            float* yo = y + ow0;
            float* xc = x + b;
            for (int oh = 0; oh < outH; oh++, yo += outW)
            {
                int ih = oh * sh - ph;
                var acc = vb;
                for (int dh = 0; dh < 3; dh++)
                {
                    if ((uint)(ih + dh) >= (uint)inH) continue;
                    float* r = xc + (nint)(ih + dh) * inW;
                    var lo = Load(r, mLo);
                    var hi = Load(r + Lanes, mHi);
                    var lo2 = Load(r + 2, mLo2);
                    var hi2 = Load(r + 2 + Lanes, mHi2);
                    var (wa, wb, wc) = dh == 0 ? (w0, w1, w2) : dh == 1 ? (w3, w4, w5) : (w6, w7, w8);
                    acc = Vector512.FusedMultiplyAdd(wa, Avx512F.PermuteVar16x32x2(lo, even, hi), acc);
                    acc = Vector512.FusedMultiplyAdd(wb, Avx512F.PermuteVar16x32x2(lo, odd, hi), acc);
                    acc = Vector512.FusedMultiplyAdd(wc, Avx512F.PermuteVar16x32x2(lo2, even, hi2), acc);
                }
                Avx512F.MaskStore(yo, store, acc);
            }
        }
    }
}
