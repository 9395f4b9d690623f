using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// Depthwise 3x3 forward for AVX2 machines (2-D, one filter per channel, stride 1 or 2, no dilation,
/// any padding): <see cref="Depthwise3x3"/>'s column strips with 8 lanes. Stride-1 columns read straight
/// from the NCHW planes by AVX masked loads (vmaskmovps does not fault on the lanes it drops), so the
/// padding and the part of a row a vector overhangs read zeros. Column stride 2 first splits each input
/// row once into its even and odd columns (padding included, in a per-worker scratch), so a strip's three
/// taps are plain loads instead of two permutes and a blend per tap, per strip and per output row.
/// Four output rows at a time, each input row's three tap vectors loaded once. Stores are plain except
/// where 8 lanes would pass the plane's end (masked stores are slow on some AMD cores; see Strips).
/// </summary>
internal static unsafe class Depthwise3x3Avx2
{
    const int Lanes = 8;

    public static bool Applies(in Geometry g, int multiplier) =>
        Avx2.IsSupported && Fma.IsSupported && multiplier == 1 &&
        g.InD == 1 && g.OutD == 1 && g.KD == 1 && g.KH == 3 && g.KW == 3 && g.DH == 1 && g.DW == 1 &&
        g.SH is 1 or 2 && g.SW is 1 or 2 &&
        // the column arithmetic below stays in int
        (long)g.InW + 2L * g.OutW + 64 < int.MaxValue && SplitRowsFloats(g) < int.MaxValue;

    /// <summary>Scratch <see cref="Plane"/> needs (column stride 2: the split rows), 0 for stride 1.</summary>
    public static long ScratchFloats(in Geometry g) => g.SW == 2 ? SplitRowsFloats(g) : 0;

    /// <summary>One split row: the even columns, then the odd ones, each a whole number of vectors past the last strip.</summary>
    static int HalfRow(in Geometry g) => ((g.OutW + Lanes - 1) / Lanes + 1) * Lanes;

    /// <summary>Input rows any output reads (from row 0).</summary>
    static int RowsRead(in Geometry g) => Math.Clamp((g.OutH - 1) * g.SH - g.PH + 3, 0, g.InH);

    static long SplitRowsFloats(in Geometry g) => 2L * HalfRow(g) * RowsRead(g);

    /// <summary>
    /// One plane: y[oh, ow] = bias + Σ w[dh, dw]·x[oh·sh − ph + dh, ow·sw − pw + dw] (zero outside x).
    /// <paramref name="scratch"/>: <see cref="ScratchFloats"/> floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Plane(in Geometry g, float* x, float* w, float* y, float bias, float* scratch)
    {
        if (g.SW == 1)
        {
            Strips<Stride1Columns>(g, x, g.InW, w, y, bias);
            return;
        }
        SplitColumns(g, x, scratch);
        Strips<SplitColumnsTaps>(g, scratch, 2 * HalfRow(g), w, y, bias);
    }

    /// <summary>The three tap vectors (input columns 0, 1, 2 of 8 outputs) of one input row of a column strip.</summary>
    interface IStripColumns<TSelf> where TSelf : struct, IStripColumns<TSelf>
    {
        /// <summary>The strip of outputs <paramref name="ow0"/>.. in a source of rows <paramref name="rowStride"/> floats apart.</summary>
        static abstract TSelf At(in Geometry g, int ow0, int rowStride);
        /// <summary>Where in a source row the strip of outputs <paramref name="ow0"/>.. reads.</summary>
        static abstract int Column(in Geometry g, int ow0);
        void Taps(float* row, out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2);
    }

    /// <summary>Stride-1 columns from the plane: three shifted masked loads.</summary>
    struct Stride1Columns : IStripColumns<Stride1Columns>
    {
        Vector256<float> _m0, _m1, _m2;

        public static int Column(in Geometry g, int ow0) => ow0 - g.PW;

        public static Stride1Columns At(in Geometry g, int ow0, int rowStride)
        {
            int first = Column(g, ow0), inW = g.InW;
            return new() { _m0 = LaneMasks.InRange8(first, inW), _m1 = LaneMasks.InRange8(first + 1, inW), _m2 = LaneMasks.InRange8(first + 2, inW) };
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Taps(float* r, out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2)
        {
            t0 = Avx.MaskLoad(r, _m0);
            t1 = Avx.MaskLoad(r + 1, _m1);
            t2 = Avx.MaskLoad(r + 2, _m2);
        }
    }

    /// <summary>
    /// Stride-2 columns from the split rows: x[2i − pw], x[2i + 1 − pw], x[2i + 2 − pw] are even[i], odd[i]
    /// and even[i + 1] — three plain loads.
    /// </summary>
    struct SplitColumnsTaps : IStripColumns<SplitColumnsTaps>
    {
        nint _odd;

        public static int Column(in Geometry g, int ow0) => ow0;

        public static SplitColumnsTaps At(in Geometry g, int ow0, int rowStride) => new() { _odd = rowStride / 2 };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Taps(float* r, out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2)
        {
            t0 = Vector256.Load(r);
            t1 = Vector256.Load(r + _odd);
            t2 = Vector256.Load(r + 1);
        }
    }

    /// <summary>
    /// Splits the input rows outputs read into even[i] = x[2i − pw] and odd[i] = x[2i + 1 − pw] (zero outside the
    /// row) for i below the strips' end, and even at the strips' end (the last strip's third tap, lane 7): 16 columns
    /// at a time, a shuffle of the two vectors picks the even (or odd) columns of each 128-bit half and a 64-bit
    /// permute puts them in order. Only the chunks that overhang the row's ends load masked. The rest of the row's
    /// last vector of even columns is left as it was: no strip reads it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void SplitColumns(in Geometry g, float* x, float* scratch)
    {
        int inW = g.InW, pw = g.PW, half = HalfRow(g), rows = RowsRead(g), chunks = half / Lanes - 1;
        int last = 2 * Lanes * chunks - pw;     // input column of even[8 · chunks]
        // The masks of the first and last chunks once per plane (the ones that overhang in MobileNetV2's layers).
        int cLast = last - 2 * Lanes;
        Vector256<float> firstLo = LaneMasks.InRange8(-pw, inW), firstHi = LaneMasks.InRange8(Lanes - pw, inW);
        Vector256<float> lastLo = LaneMasks.InRange8(cLast, inW), lastHi = LaneMasks.InRange8(cLast + Lanes, inW);
        for (int ih = 0; ih < rows; ih++)
        {
            float* r = x + (nint)ih * inW, even = scratch + (nint)ih * 2 * half, odd = even + half;
            for (int k = 0; k < chunks; k++)
            {
                int c = 2 * Lanes * k - pw;     // input column of even[8k]
                Vector256<float> lo, hi;
                if (c >= 0 && c + 2 * Lanes <= inW)
                {
                    lo = Vector256.Load(r + c);
                    hi = Vector256.Load(r + c + Lanes);
                }
                else if (k == 0)
                {
                    lo = Avx.MaskLoad(r + c, firstLo);
                    hi = Avx.MaskLoad(r + c + Lanes, firstHi);
                }
                else if (k == chunks - 1)
                {
                    lo = Avx.MaskLoad(r + c, lastLo);
                    hi = Avx.MaskLoad(r + c + Lanes, lastHi);
                }
                else
                {
                    lo = Avx.MaskLoad(r + c, LaneMasks.InRange8(c, inW));
                    hi = Avx.MaskLoad(r + c + Lanes, LaneMasks.InRange8(c + Lanes, inW));
                }
                // shuffle: lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6; the permute (64-bit pairs 0, 2, 1, 3): lo0 lo2 lo4 lo6 hi0 hi2 hi4 hi6.
                Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle().Store(even + Lanes * k);
                Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle().Store(odd + Lanes * k);
            }
            even[Lanes * chunks] = (uint)last < (uint)inW ? r[last] : 0f;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Strips<TColumns>(in Geometry g, float* x, int rowStride, float* w, float* y, float bias) where TColumns : struct, IStripColumns<TColumns>
    {
        int inH = g.InH, outH = g.OutH, outW = g.OutW, sh = g.SH, ph = g.PH;
        var w0 = Vector256.Create(w[0]); var w1 = Vector256.Create(w[1]); var w2 = Vector256.Create(w[2]);
        var w3 = Vector256.Create(w[3]); var w4 = Vector256.Create(w[4]); var w5 = Vector256.Create(w[5]);
        var w6 = Vector256.Create(w[6]); var w7 = Vector256.Create(w[7]); var w8 = Vector256.Create(w[8]);
        var vb = Vector256.Create(bias);
        // Whole-vector stores wherever 8 lanes stay inside the plane: a partial strip's extra lanes land on the next
        // row's first columns, which a later store writes with their own values — the partial last strip runs first,
        // strip 0 after it, and rows go downwards. Only stores that would pass the plane's end are masked: on Zen 3
        // (one thread) 7 × 7 × 960 0.081 → 0.067 ms and 14 × 14 × 384 0.078 → 0.062 against masking every partial strip.
        float* planeEnd = y + (nint)outH * outW;
        int strips = (outW + Lanes - 1) / Lanes;
        for (int s = 0; s < strips; s++)
        {
            int ow0 = (s == 0 ? strips - 1 : s - 1) * Lanes;
            var columns = TColumns.At(g, ow0, rowStride);
            var store = LaneMasks.InRange8(ow0, outW);
            float* xc = x + TColumns.Column(g, ow0);
            int oh = 0;
            for (; oh + 4 <= outH; oh += 4)
            {
                int ih = oh * sh - ph;
                Vector256<float> a0 = vb, a1 = vb, a2 = vb, a3 = vb, t0, t1, t2;
                if (sh == 1)
                {
                    // Input row ih + i feeds output row oh + j through kernel row i − j.
                    Taps(columns, xc, ih, inH, rowStride, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w0, w1, w2);
                    Taps(columns, xc, ih + 1, inH, rowStride, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w3, w4, w5); a1 = Fma3(a1, t0, t1, t2, w0, w1, w2);
                    Taps(columns, xc, ih + 2, inH, rowStride, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w6, w7, w8); a1 = Fma3(a1, t0, t1, t2, w3, w4, w5); a2 = Fma3(a2, t0, t1, t2, w0, w1, w2);
                    Taps(columns, xc, ih + 3, inH, rowStride, out t0, out t1, out t2);
                    a1 = Fma3(a1, t0, t1, t2, w6, w7, w8); a2 = Fma3(a2, t0, t1, t2, w3, w4, w5); a3 = Fma3(a3, t0, t1, t2, w0, w1, w2);
                    Taps(columns, xc, ih + 4, inH, rowStride, out t0, out t1, out t2);
                    a2 = Fma3(a2, t0, t1, t2, w6, w7, w8); a3 = Fma3(a3, t0, t1, t2, w3, w4, w5);
                    Taps(columns, xc, ih + 5, inH, rowStride, out t0, out t1, out t2);
                    a3 = Fma3(a3, t0, t1, t2, w6, w7, w8);
                }
                else
                {
                    // Row stride 2: input row ih + i feeds output row oh + j through kernel row i − 2j.
                    Taps(columns, xc, ih, inH, rowStride, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w0, w1, w2);
                    Taps(columns, xc, ih + 1, inH, rowStride, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w3, w4, w5);
                    Taps(columns, xc, ih + 2, inH, rowStride, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w6, w7, w8); a1 = Fma3(a1, t0, t1, t2, w0, w1, w2);
                    Taps(columns, xc, ih + 3, inH, rowStride, out t0, out t1, out t2);
                    a1 = Fma3(a1, t0, t1, t2, w3, w4, w5);
                    Taps(columns, xc, ih + 4, inH, rowStride, out t0, out t1, out t2);
                    a1 = Fma3(a1, t0, t1, t2, w6, w7, w8); a2 = Fma3(a2, t0, t1, t2, w0, w1, w2);
                    Taps(columns, xc, ih + 5, inH, rowStride, out t0, out t1, out t2);
                    a2 = Fma3(a2, t0, t1, t2, w3, w4, w5);
                    Taps(columns, xc, ih + 6, inH, rowStride, out t0, out t1, out t2);
                    a2 = Fma3(a2, t0, t1, t2, w6, w7, w8); a3 = Fma3(a3, t0, t1, t2, w0, w1, w2);
                    Taps(columns, xc, ih + 7, inH, rowStride, out t0, out t1, out t2);
                    a3 = Fma3(a3, t0, t1, t2, w3, w4, w5);
                    Taps(columns, xc, ih + 8, inH, rowStride, out t0, out t1, out t2);
                    a3 = Fma3(a3, t0, t1, t2, w6, w7, w8);
                }
                float* yo = y + (nint)oh * outW + ow0;
                Store(yo, a0, planeEnd, store);
                Store(yo + outW, a1, planeEnd, store);
                Store(yo + 2 * outW, a2, planeEnd, store);
                Store(yo + 3 * outW, a3, planeEnd, store);
            }
            for (; oh < outH; oh++)
            {
                int ih = oh * sh - ph;
                var acc = vb;
                for (int dh = 0; dh < 3; dh++)
                {
                    if ((uint)(ih + dh) >= (uint)inH) continue;
                    Taps(columns, xc, ih + dh, inH, rowStride, out var t0, out var t1, out var t2);
                    acc = Fma3(acc, t0, t1, t2, Vector256.Create(w[3 * dh]), Vector256.Create(w[3 * dh + 1]), Vector256.Create(w[3 * dh + 2]));
                }
                Store(y + (nint)oh * outW + ow0, acc, planeEnd, store);
            }
        }
    }

    /// <summary>Input row <paramref name="ih"/>'s three tap vectors, zero for rows outside the plane (the padding).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Taps<TColumns>(in TColumns columns, float* xc, int ih, int inH, int rowStride,
        out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2) where TColumns : struct, IStripColumns<TColumns>
    {
        if ((uint)ih < (uint)inH) columns.Taps(xc + (nint)ih * rowStride, out t0, out t1, out t2);
        else t0 = t1 = t2 = Vector256<float>.Zero;
    }

    /// <summary>v at p, whole when its 8 lanes end inside the plane, else only the lanes in <paramref name="mask"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* p, Vector256<float> v, float* planeEnd, Vector256<float> mask)
    {
        if (p + Lanes <= planeEnd) v.Store(p);
        else Avx.MaskStore(p, mask, v);
    }

    /// <summary>acc + wa·t0 + wb·t1 + wc·t2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Fma3(Vector256<float> acc, Vector256<float> t0, Vector256<float> t1, Vector256<float> t2,
        Vector256<float> wa, Vector256<float> wb, Vector256<float> wc) =>
        Fma.MultiplyAdd(wc, t2, Fma.MultiplyAdd(wb, t1, Fma.MultiplyAdd(wa, t0, acc)));
}
