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
        if (PairsRows(g)) PairedRows(g, x, w, y, bias);
        else if (g.SW == 1) Stride1Columns(g, x, w, y, bias);
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
                if ((uint)ih < (uint)inH)
                    acc = Row(xc + (nint)ih * inW, mLo, mHi, mLo2, mHi2, even, odd, w0, w1, w2, acc);
                if ((uint)(ih + 1) < (uint)inH)
                    acc = Row(xc + (nint)(ih + 1) * inW, mLo, mHi, mLo2, mHi2, even, odd, w3, w4, w5, acc);
                if ((uint)(ih + 2) < (uint)inH)
                    acc = Row(xc + (nint)(ih + 2) * inW, mLo, mHi, mLo2, mHi2, even, odd, w6, w7, w8, acc);
                Avx512F.MaskStore(yo, store, acc);
            }
        }
    }

    /// <summary>One input row's three taps for 16 stride-2 outputs: columns r[2i], r[2i + 1], r[2i + 2].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Row(float* r, Vector512<float> mLo, Vector512<float> mHi, Vector512<float> mLo2, Vector512<float> mHi2,
        Vector512<int> even, Vector512<int> odd, Vector512<float> wa, Vector512<float> wb, Vector512<float> wc, Vector512<float> acc)
    {
        var lo = Load(r, mLo);
        var hi = Load(r + Lanes, mHi);
        acc = Vector512.FusedMultiplyAdd(wa, Avx512F.PermuteVar16x32x2(lo, even, hi), acc);
        acc = Vector512.FusedMultiplyAdd(wb, Avx512F.PermuteVar16x32x2(lo, odd, hi), acc);
        return Vector512.FusedMultiplyAdd(wc, Avx512F.PermuteVar16x32x2(Load(r + 2, mLo2), even, Load(r + 2 + Lanes, mHi2)), acc);
    }

    /// <summary>
    /// Narrow planes (≤ 7 columns, "same" width: stride 1, one padding column each side) go two output
    /// rows per vector instead of one mostly empty strip per row (7×7: 4 vectors instead of 7).
    /// </summary>
    static bool PairsRows(in Geometry g) => g.SW == 1 && g.SH == 1 && g.PW == 1 && g.InW <= 7 && g.OutW == g.InW;

    /// <summary>
    /// Rows r and r + 1 sit in lanes 0…W−1 and 8…8+W−1, lanes W…7 and 8+W…15 zero: one expanding load
    /// reads both (they are contiguous in x), and the left and right taps are that vector shifted by one
    /// lane (the zero lanes are the padding columns). A compress packs the two output rows back together.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PairedRows(in Geometry g, float* x, float* w, float* y, float bias)
    {
        int inH = g.InH, width = g.InW, outH = g.OutH, ph = g.PH;
        var col = Vector512<int>.Indices & Vector512.Create(7);
        var lowHalf = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(8));
        var inRow = Vector512.LessThan(col, Vector512.Create(width));
        var low = (inRow & lowHalf).AsSingle();
        var high = Vector512.AndNot(inRow, lowHalf).AsSingle();
        var vb = Vector512.Create(bias);
        var zero = Vector512<int>.Zero;
        for (int oh = 0; oh < outH; oh += 2)
        {
            bool second = oh + 1 < outH;
            var acc = vb;
            for (int dh = 0; dh < 3; dh++)
            {
                int ih = oh - ph + dh;     // input row of the first output row; ih + 1 for the second
                bool first = (uint)ih < (uint)inH, next = second && (uint)(ih + 1) < (uint)inH;
                if (!first && !next) continue;
                var mask = first ? (next ? low | high : low) : high;
                // The expanding load fills the selected lanes in order from its address.
                var v = Avx512F.ExpandLoad(x + (nint)(first ? ih : ih + 1) * width, mask, Vector512<float>.Zero).AsInt32();
                var left = Avx512F.AlignRight32(v, zero, 15).AsSingle();    // lane i ← lane i − 1 (column − 1)
                var right = Avx512F.AlignRight32(zero, v, 1).AsSingle();    // lane i ← lane i + 1 (column + 1)
                acc = Vector512.FusedMultiplyAdd(Vector512.Create(w[3 * dh]), left, acc);
                acc = Vector512.FusedMultiplyAdd(Vector512.Create(w[3 * dh + 1]), v.AsSingle(), acc);
                acc = Vector512.FusedMultiplyAdd(Vector512.Create(w[3 * dh + 2]), right, acc);
            }
            var packed = Avx512F.Compress(Vector512<float>.Zero, second ? low | high : low, acc);
            Avx512F.MaskStore(y + (nint)oh * width, InRange(0, second ? 2 * width : width), packed);
        }
    }
}
