using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static GpuConv.Cpu.Depthwise.LaneMasks;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// Depthwise 3x3 forward (2-D, one filter per channel, stride 1 or 2, no dilation, any padding) read
/// straight from the NCHW planes: no padded copy, no tables, no per-plane setup beyond nine weight
/// broadcasts. Outputs go 16 columns at a time; every input read is an AVX-512 masked load whose
/// mask drops the columns outside the row (the zero padding, and the part of a narrow row a vector
/// overhangs), and masked loads do not fault on dropped lanes, so the plane's edges need no special
/// case. The loop runs column strip by column strip and down the rows inside a strip, four output
/// rows at a time, so a strip's masks are computed once. Stride-2 columns are picked from two loads
/// with a two-source permute. Planes of at most 7 columns pack two rows into a vector instead.
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
        else if (PairsStride2Rows(g)) PairedStride2Rows(g, x, w, y, bias);
        else if (g.SW == 1) Strips<Stride1Columns>(g, x, w, y, bias);
        else Strips<Stride2Columns>(g, x, w, y, bias);
    }

    /// <summary>The three tap vectors (input columns 0, 1, 2 of 16 outputs) of one input row of a column strip.</summary>
    interface IStripColumns<TSelf> where TSelf : struct, IStripColumns<TSelf>
    {
        /// <summary>The strip whose first output lane reads input column <paramref name="first"/> at tap 0.</summary>
        static abstract TSelf At(int first, int inW);
        void Taps(float* row, out Vector512<float> t0, out Vector512<float> t1, out Vector512<float> t2);
    }

    /// <summary>Stride-1 columns: three shifted masked loads.</summary>
    struct Stride1Columns : IStripColumns<Stride1Columns>
    {
        Vector512<float> _m0, _m1, _m2;

        public static Stride1Columns At(int first, int inW) =>
            new() { _m0 = InRange(first, inW), _m1 = InRange(first + 1, inW), _m2 = InRange(first + 2, inW) };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Taps(float* r, out Vector512<float> t0, out Vector512<float> t1, out Vector512<float> t2)
        {
            t0 = Load(r, _m0);
            t1 = Load(r + 1, _m1);
            t2 = Load(r + 2, _m2);
        }
    }

    /// <summary>Stride-2 columns: r[2i], r[2i + 1], r[2i + 2] picked from 32-column loads with two-source permutes.</summary>
    struct Stride2Columns : IStripColumns<Stride2Columns>
    {
        Vector512<float> _lo, _hi, _lo2, _hi2;

        // Lane i of (lo, hi) concatenated: even = 2i, odd = 2i + 1.
        static Vector512<int> Even => Vector512<int>.Indices * 2;
        static Vector512<int> Odd => Vector512<int>.Indices * 2 + Vector512<int>.One;

        public static Stride2Columns At(int first, int inW) => new()
        {
            _lo = InRange(first, inW), _hi = InRange(first + Lanes, inW),
            _lo2 = InRange(first + 2, inW), _hi2 = InRange(first + 2 + Lanes, inW),
        };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Taps(float* r, out Vector512<float> t0, out Vector512<float> t1, out Vector512<float> t2)
        {
            var lo = Load(r, _lo);
            var hi = Load(r + Lanes, _hi);
            t0 = Avx512F.PermuteVar16x32x2(lo, Even, hi);
            t1 = Avx512F.PermuteVar16x32x2(lo, Odd, hi);
            t2 = Avx512F.PermuteVar16x32x2(Load(r + 2, _lo2), Even, Load(r + 2 + Lanes, _hi2));
        }
    }

    /// <summary>
    /// Column strips of 16 outputs, four output rows at a time: each input row is read once for the
    /// up to three outputs rows it feeds, and the four accumulators are independent FMA chains (one
    /// row at a time waited on its chain of nine: 112 × 112 × 32 ran at a quarter of the FMA rate).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Strips<TColumns>(in Geometry g, float* x, float* w, float* y, float bias) where TColumns : struct, IStripColumns<TColumns>
    {
        int inH = g.InH, inW = g.InW, outH = g.OutH, outW = g.OutW, sh = g.SH, ph = g.PH;
        var w0 = Vector512.Create(w[0]); var w1 = Vector512.Create(w[1]); var w2 = Vector512.Create(w[2]);
        var w3 = Vector512.Create(w[3]); var w4 = Vector512.Create(w[4]); var w5 = Vector512.Create(w[5]);
        var w6 = Vector512.Create(w[6]); var w7 = Vector512.Create(w[7]); var w8 = Vector512.Create(w[8]);
        var vb = Vector512.Create(bias);
        for (int ow0 = 0; ow0 < outW; ow0 += Lanes)
        {
            int b = ow0 * g.SW - g.PW;     // input column of tap 0 for lane 0
            var columns = TColumns.At(b, inW);
            var store = InRange(ow0, outW);
            float* xc = x + b;
            int oh = 0;
            for (; oh + 4 <= outH; oh += 4)
            {
                int ih = oh * sh - ph;
                Vector512<float> a0 = vb, a1 = vb, a2 = vb, a3 = vb, t0, t1, t2;
                if (sh == 1)
                {
                    // Input row ih + i feeds output row oh + j through kernel row i − j.
                    RowTaps(columns, xc, ih, inH, inW, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w0, w1, w2);
                    RowTaps(columns, xc, ih + 1, inH, inW, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w3, w4, w5); a1 = Fma3(a1, t0, t1, t2, w0, w1, w2);
                    RowTaps(columns, xc, ih + 2, inH, inW, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w6, w7, w8); a1 = Fma3(a1, t0, t1, t2, w3, w4, w5); a2 = Fma3(a2, t0, t1, t2, w0, w1, w2);
                    RowTaps(columns, xc, ih + 3, inH, inW, out t0, out t1, out t2);
                    a1 = Fma3(a1, t0, t1, t2, w6, w7, w8); a2 = Fma3(a2, t0, t1, t2, w3, w4, w5); a3 = Fma3(a3, t0, t1, t2, w0, w1, w2);
                    RowTaps(columns, xc, ih + 4, inH, inW, out t0, out t1, out t2);
                    a2 = Fma3(a2, t0, t1, t2, w6, w7, w8); a3 = Fma3(a3, t0, t1, t2, w3, w4, w5);
                    RowTaps(columns, xc, ih + 5, inH, inW, out t0, out t1, out t2);
                    a3 = Fma3(a3, t0, t1, t2, w6, w7, w8);
                }
                else
                {
                    // Stride 2: input row ih + i feeds output row oh + j through kernel row i − 2j.
                    RowTaps(columns, xc, ih, inH, inW, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w0, w1, w2);
                    RowTaps(columns, xc, ih + 1, inH, inW, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w3, w4, w5);
                    RowTaps(columns, xc, ih + 2, inH, inW, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w6, w7, w8); a1 = Fma3(a1, t0, t1, t2, w0, w1, w2);
                    RowTaps(columns, xc, ih + 3, inH, inW, out t0, out t1, out t2);
                    a1 = Fma3(a1, t0, t1, t2, w3, w4, w5);
                    RowTaps(columns, xc, ih + 4, inH, inW, out t0, out t1, out t2);
                    a1 = Fma3(a1, t0, t1, t2, w6, w7, w8); a2 = Fma3(a2, t0, t1, t2, w0, w1, w2);
                    RowTaps(columns, xc, ih + 5, inH, inW, out t0, out t1, out t2);
                    a2 = Fma3(a2, t0, t1, t2, w3, w4, w5);
                    RowTaps(columns, xc, ih + 6, inH, inW, out t0, out t1, out t2);
                    a2 = Fma3(a2, t0, t1, t2, w6, w7, w8); a3 = Fma3(a3, t0, t1, t2, w0, w1, w2);
                    RowTaps(columns, xc, ih + 7, inH, inW, out t0, out t1, out t2);
                    a3 = Fma3(a3, t0, t1, t2, w3, w4, w5);
                    RowTaps(columns, xc, ih + 8, inH, inW, out t0, out t1, out t2);
                    a3 = Fma3(a3, t0, t1, t2, w6, w7, w8);
                }
                float* yo = y + (nint)oh * outW + ow0;
                Avx512F.MaskStore(yo, store, a0);
                Avx512F.MaskStore(yo + outW, store, a1);
                Avx512F.MaskStore(yo + 2 * outW, store, a2);
                Avx512F.MaskStore(yo + 3 * outW, store, a3);
            }
            for (; oh < outH; oh++)
            {
                int ih = oh * sh - ph;
                var acc = vb;
                if ((uint)ih < (uint)inH)
                {
                    columns.Taps(xc + (nint)ih * inW, out var t0, out var t1, out var t2);
                    acc = Fma3(acc, t0, t1, t2, w0, w1, w2);
                }
                if ((uint)(ih + 1) < (uint)inH)
                {
                    columns.Taps(xc + (nint)(ih + 1) * inW, out var t0, out var t1, out var t2);
                    acc = Fma3(acc, t0, t1, t2, w3, w4, w5);
                }
                if ((uint)(ih + 2) < (uint)inH)
                {
                    columns.Taps(xc + (nint)(ih + 2) * inW, out var t0, out var t1, out var t2);
                    acc = Fma3(acc, t0, t1, t2, w6, w7, w8);
                }
                Avx512F.MaskStore(y + (nint)oh * outW + ow0, store, acc);
            }
        }
    }

    /// <summary>An input row's taps, zero for rows outside the plane (the padding).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void RowTaps<TColumns>(in TColumns columns, float* xc, int ih, int inH, int inW,
        out Vector512<float> t0, out Vector512<float> t1, out Vector512<float> t2) where TColumns : struct, IStripColumns<TColumns>
    {
        if ((uint)ih < (uint)inH) columns.Taps(xc + (nint)ih * inW, out t0, out t1, out t2);
        else t0 = t1 = t2 = Vector512<float>.Zero;
    }

    /// <summary>acc + wa·t0 + wb·t1 + wc·t2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Fma3(Vector512<float> acc, Vector512<float> t0, Vector512<float> t1, Vector512<float> t2,
        Vector512<float> wa, Vector512<float> wb, Vector512<float> wc) =>
        Vector512.FusedMultiplyAdd(wc, t2, Vector512.FusedMultiplyAdd(wb, t1, Vector512.FusedMultiplyAdd(wa, t0, acc)));

    /// <summary>
    /// Narrow planes (≤ 7 columns, "same" width: stride 1, one padding column each side) go two output
    /// rows per vector instead of one mostly empty strip per row (7×7: 4 vectors instead of 7).
    /// </summary>
    static bool PairsRows(in Geometry g) => g.SW == 1 && g.SH == 1 && g.PW == 1 && g.InW <= 7 && g.OutW == g.InW;

    /// <summary>
    /// Rows r and r + 1 sit in lanes 0…W−1 and 8…8+W−1 of one vector, lanes W…7 and 8+W…15 zero: R(r).
    /// The plane is read once, as the even pairs R(2k) (one expanding load each; the pair's rows are
    /// contiguous in x); an odd pair R(2k + 1) is two even ones shifted by eight lanes, and the left and
    /// right taps are a pair shifted by one lane (the zero lanes are the padding columns). Output rows
    /// (oh, oh + 1) read R(r), R(r + 1), R(r + 2) with r = oh − ph; consecutive pairs share R(r + 2) and
    /// its shifts. A compress packs the two output rows back together.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PairedRows(in Geometry g, float* x, float* w, float* y, float bias)
    {
        int inH = g.InH, outH = g.OutH;
        var pairs = new RowPairs(g.InW);
        var w0 = Vector512.Create(w[0]); var w1 = Vector512.Create(w[1]); var w2 = Vector512.Create(w[2]);
        var w3 = Vector512.Create(w[3]); var w4 = Vector512.Create(w[4]); var w5 = Vector512.Create(w[5]);
        var w6 = Vector512.Create(w[6]); var w7 = Vector512.Create(w[7]); var w8 = Vector512.Create(w[8]);
        var vb = Vector512.Create(bias);
        int r = -g.PH;
        bool odd = (r & 1) != 0;
        int k = r >> 1;     // floor(r / 2): the first even pair any output reads
        // e0 = R(2k), e1 = R(2k + 2); a = R(r) with its shifts, carried from the previous output pair.
        var e0 = pairs.EvenPair(x, 2 * k, inH);
        var e1 = pairs.EvenPair(x, 2 * k + 2, inH);
        var a = odd ? RowPairs.OddPair(e1, e0) : e0;
        Vector512<float> aL = RowPairs.Left(a), aR = RowPairs.Right(a);
        for (int oh = 0; oh < outH; oh += 2, k++)
        {
            var e2 = pairs.EvenPair(x, 2 * k + 4, inH);
            Vector512<float> b, c;
            if (odd) { b = e1; c = RowPairs.OddPair(e2, e1); }
            else { b = RowPairs.OddPair(e1, e0); c = e1; }
            Vector512<float> bL = RowPairs.Left(b), bR = RowPairs.Right(b);
            Vector512<float> cL = RowPairs.Left(c), cR = RowPairs.Right(c);
            // Three partial sums (one per kernel row): three short FMA chains instead of one of nine.
            var s0 = Vector512.FusedMultiplyAdd(w2, aR, Vector512.FusedMultiplyAdd(w1, a, Vector512.FusedMultiplyAdd(w0, aL, vb)));
            var s1 = Vector512.FusedMultiplyAdd(w5, bR, Vector512.FusedMultiplyAdd(w4, b, w3 * bL));
            var s2 = Vector512.FusedMultiplyAdd(w8, cR, Vector512.FusedMultiplyAdd(w7, c, w6 * cL));
            pairs.Store(y, oh, outH, s0 + s1 + s2);
            a = c; aL = cL; aR = cR;
            e0 = e1; e1 = e2;
        }
    }

    /// <summary>
    /// Narrow stride-2 outputs (≤ 7 columns from at most 16 input columns, one padding column on the
    /// left: 14 × 14 → 7 × 7) go two output rows per vector too, instead of one mostly empty strip each.
    /// </summary>
    static bool PairsStride2Rows(in Geometry g) => g.SW == 2 && g.SH == 2 && g.PW == 1 && g.OutW <= 7 && g.InW <= 16;

    /// <summary>
    /// Output rows oh and oh + 1 read input rows r + dh and r + 2 + dh (r = 2·oh − ph). With both rows
    /// loaded (at most 2·OutW columns, so lanes 14 and 15 are zero), one two-source permute gathers their
    /// even columns into lanes 0…6 and 8…14 (column 2·ow, the middle tap), another their odd columns
    /// (2·ow + 1, the right tap; lanes 7 and 15 pick a zero lane), and the left tap 2·ow − 1 is the odd
    /// vector shifted up one lane. A compress packs the two output rows together.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PairedStride2Rows(in Geometry g, float* x, float* w, float* y, float bias)
    {
        int inH = g.InH, inW = g.InW, outH = g.OutH;
        var pairs = new RowPairs(g.OutW);
        var load = InRange(0, Math.Min(inW, 2 * g.OutW));
        var even = RowPairs.EvenColumns;
        var odd = even + Vector512<int>.One;
        var w0 = Vector512.Create(w[0]); var w1 = Vector512.Create(w[1]); var w2 = Vector512.Create(w[2]);
        var w3 = Vector512.Create(w[3]); var w4 = Vector512.Create(w[4]); var w5 = Vector512.Create(w[5]);
        var w6 = Vector512.Create(w[6]); var w7 = Vector512.Create(w[7]); var w8 = Vector512.Create(w[8]);
        var vb = Vector512.Create(bias);
        int r = -g.PH;
        // Rows r … r + 4 feed output rows oh and oh + 1; the next pair starts at r + 4.
        var l0 = RowPairs.InputRow(x, r, inH, inW, load);
        for (int oh = 0; oh < outH; oh += 2, r += 4)
        {
            var l1 = RowPairs.InputRow(x, r + 1, inH, inW, load);
            var l2 = RowPairs.InputRow(x, r + 2, inH, inW, load);
            var l3 = RowPairs.InputRow(x, r + 3, inH, inW, load);
            var l4 = RowPairs.InputRow(x, r + 4, inH, inW, load);
            var s0 = Stride2Taps(l0, l2, even, odd, w0, w1, w2, vb);
            var s1 = Stride2Taps(l1, l3, even, odd, w3, w4, w5, Vector512<float>.Zero);
            var s2 = Stride2Taps(l2, l4, even, odd, w6, w7, w8, Vector512<float>.Zero);
            pairs.Store(y, oh, outH, s0 + s1 + s2);
            l0 = l4;
        }
    }

    /// <summary>acc + one kernel row's three taps for the two output rows reading input rows a (first) and b (second).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Stride2Taps(Vector512<float> a, Vector512<float> b, Vector512<int> even, Vector512<int> odd,
        Vector512<float> wl, Vector512<float> wm, Vector512<float> wr, Vector512<float> acc)
    {
        var middle = Avx512F.PermuteVar16x32x2(a, even, b);
        var right = Avx512F.PermuteVar16x32x2(a, odd, b);
        var left = RowPairs.Left(right);
        return Vector512.FusedMultiplyAdd(wr, right, Vector512.FusedMultiplyAdd(wm, middle, Vector512.FusedMultiplyAdd(wl, left, acc)));
    }
}
