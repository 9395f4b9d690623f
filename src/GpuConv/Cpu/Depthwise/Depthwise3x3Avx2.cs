using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// Depthwise 3x3 forward for AVX2 machines (2-D, one filter per channel, stride 1 or 2, no dilation,
/// any padding): <see cref="Depthwise3x3"/>'s column strips with 8 lanes. Read straight from the NCHW
/// planes; every input read is an AVX masked load (vmaskmovps does not fault on the lanes it drops),
/// so the padding and the part of a row a vector overhangs read zeros. Four output rows at a time,
/// each input row's three tap vectors loaded once; stride-2 columns are picked from two loads by a
/// permute of each and a blend. Stores are plain except where 8 lanes would pass the plane's end
/// (masked stores are slow on some AMD cores; see Strips).
/// </summary>
internal static unsafe class Depthwise3x3Avx2
{
    const int Lanes = 8;

    public static bool Applies(in Geometry g, int multiplier) =>
        Avx2.IsSupported && Fma.IsSupported && multiplier == 1 &&
        g.InD == 1 && g.OutD == 1 && g.KD == 1 && g.KH == 3 && g.KW == 3 && g.DH == 1 && g.DW == 1 &&
        g.SH is 1 or 2 && g.SW is 1 or 2 &&
        // Stride-2 columns where an output row fills two vectors or more go to the padded-copy kernel
        // (DepthwiseDirect's AVX2 split and eight-chain rows): MobileNetV2's 112 × 112 × 96 0.19 ms
        // against 0.30 here, 56 × 56 × 144 0.105 against 0.116 (one thread); on 14-wide outputs and
        // narrower this kernel is 1.7–3× faster.
        (g.SW == 1 || g.OutW < 16) &&
        // the column arithmetic below stays in int
        (long)g.InW + 2L * g.OutW + 64 < int.MaxValue;

    /// <summary>One plane: y[oh, ow] = bias + Σ w[dh, dw]·x[oh·sh − ph + dh, ow·sw − pw + dw] (zero outside x).</summary>
    public static void Plane(in Geometry g, float* x, float* w, float* y, float bias)
    {
        if (g.SW == 1) Strips<Stride1Columns>(g, x, w, y, bias);
        else Strips<Stride2Columns>(g, x, w, y, bias);
    }

    /// <summary>The three tap vectors (input columns 0, 1, 2 of 8 outputs) of one input row of a column strip.</summary>
    interface IStripColumns<TSelf> where TSelf : struct, IStripColumns<TSelf>
    {
        /// <summary>The strip whose first output lane reads input column <paramref name="first"/> at tap 0.</summary>
        static abstract TSelf At(int first, int inW);
        void Taps(float* row, out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2);
    }

    /// <summary>Stride-1 columns: three shifted masked loads.</summary>
    struct Stride1Columns : IStripColumns<Stride1Columns>
    {
        Vector256<float> _m0, _m1, _m2;

        public static Stride1Columns At(int first, int inW) =>
            new() { _m0 = LaneMasks.InRange8(first, inW), _m1 = LaneMasks.InRange8(first + 1, inW), _m2 = LaneMasks.InRange8(first + 2, inW) };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Taps(float* r, out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2)
        {
            t0 = Avx.MaskLoad(r, _m0);
            t1 = Avx.MaskLoad(r + 1, _m1);
            t2 = Avx.MaskLoad(r + 2, _m2);
        }
    }

    /// <summary>
    /// Stride-2 columns r[2i], r[2i + 1], r[2i + 2]: from the 16 columns at r (lo, hi), a lane permute of
    /// each puts its even (or odd) columns in both halves, and a blend takes lo's low half and hi's high half.
    /// </summary>
    struct Stride2Columns : IStripColumns<Stride2Columns>
    {
        Vector256<float> _lo, _hi, _lo2, _hi2;

        static Vector256<int> Even => Vector256.Create(0, 2, 4, 6, 0, 2, 4, 6);
        static Vector256<int> Odd => Vector256.Create(1, 3, 5, 7, 1, 3, 5, 7);

        public static Stride2Columns At(int first, int inW) => new()
        {
            _lo = LaneMasks.InRange8(first, inW), _hi = LaneMasks.InRange8(first + Lanes, inW),
            _lo2 = LaneMasks.InRange8(first + 2, inW), _hi2 = LaneMasks.InRange8(first + 2 + Lanes, inW),
        };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Taps(float* r, out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2)
        {
            var lo = Avx.MaskLoad(r, _lo);
            var hi = Avx.MaskLoad(r + Lanes, _hi);
            t0 = Pick(lo, hi, Even);
            t1 = Pick(lo, hi, Odd);
            t2 = Pick(Avx.MaskLoad(r + 2, _lo2), Avx.MaskLoad(r + 2 + Lanes, _hi2), Even);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<float> Pick(Vector256<float> lo, Vector256<float> hi, Vector256<int> index) =>
            Avx.Blend(Avx2.PermuteVar8x32(lo, index), Avx2.PermuteVar8x32(hi, index), 0xF0);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Strips<TColumns>(in Geometry g, float* x, float* w, float* y, float bias) where TColumns : struct, IStripColumns<TColumns>
    {
        int inH = g.InH, inW = g.InW, outH = g.OutH, outW = g.OutW, sh = g.SH, ph = g.PH;
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
            int b = ow0 * g.SW - g.PW;     // input column of tap 0 for lane 0
            var columns = TColumns.At(b, inW);
            var store = LaneMasks.InRange8(ow0, outW);
            float* xc = x + b;
            int oh = 0;
            for (; oh + 4 <= outH; oh += 4)
            {
                int ih = oh * sh - ph;
                Vector256<float> a0 = vb, a1 = vb, a2 = vb, a3 = vb, t0, t1, t2;
                if (sh == 1)
                {
                    // Input row ih + i feeds output row oh + j through kernel row i − j.
                    Taps(columns, xc, ih, inH, inW, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w0, w1, w2);
                    Taps(columns, xc, ih + 1, inH, inW, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w3, w4, w5); a1 = Fma3(a1, t0, t1, t2, w0, w1, w2);
                    Taps(columns, xc, ih + 2, inH, inW, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w6, w7, w8); a1 = Fma3(a1, t0, t1, t2, w3, w4, w5); a2 = Fma3(a2, t0, t1, t2, w0, w1, w2);
                    Taps(columns, xc, ih + 3, inH, inW, out t0, out t1, out t2);
                    a1 = Fma3(a1, t0, t1, t2, w6, w7, w8); a2 = Fma3(a2, t0, t1, t2, w3, w4, w5); a3 = Fma3(a3, t0, t1, t2, w0, w1, w2);
                    Taps(columns, xc, ih + 4, inH, inW, out t0, out t1, out t2);
                    a2 = Fma3(a2, t0, t1, t2, w6, w7, w8); a3 = Fma3(a3, t0, t1, t2, w3, w4, w5);
                    Taps(columns, xc, ih + 5, inH, inW, out t0, out t1, out t2);
                    a3 = Fma3(a3, t0, t1, t2, w6, w7, w8);
                }
                else
                {
                    // Row stride 2: input row ih + i feeds output row oh + j through kernel row i − 2j.
                    Taps(columns, xc, ih, inH, inW, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w0, w1, w2);
                    Taps(columns, xc, ih + 1, inH, inW, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w3, w4, w5);
                    Taps(columns, xc, ih + 2, inH, inW, out t0, out t1, out t2);
                    a0 = Fma3(a0, t0, t1, t2, w6, w7, w8); a1 = Fma3(a1, t0, t1, t2, w0, w1, w2);
                    Taps(columns, xc, ih + 3, inH, inW, out t0, out t1, out t2);
                    a1 = Fma3(a1, t0, t1, t2, w3, w4, w5);
                    Taps(columns, xc, ih + 4, inH, inW, out t0, out t1, out t2);
                    a1 = Fma3(a1, t0, t1, t2, w6, w7, w8); a2 = Fma3(a2, t0, t1, t2, w0, w1, w2);
                    Taps(columns, xc, ih + 5, inH, inW, out t0, out t1, out t2);
                    a2 = Fma3(a2, t0, t1, t2, w3, w4, w5);
                    Taps(columns, xc, ih + 6, inH, inW, out t0, out t1, out t2);
                    a2 = Fma3(a2, t0, t1, t2, w6, w7, w8); a3 = Fma3(a3, t0, t1, t2, w0, w1, w2);
                    Taps(columns, xc, ih + 7, inH, inW, out t0, out t1, out t2);
                    a3 = Fma3(a3, t0, t1, t2, w3, w4, w5);
                    Taps(columns, xc, ih + 8, inH, inW, out t0, out t1, out t2);
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
                    Taps(columns, xc, ih + dh, inH, inW, out var t0, out var t1, out var t2);
                    acc = Fma3(acc, t0, t1, t2, Vector256.Create(w[3 * dh]), Vector256.Create(w[3 * dh + 1]), Vector256.Create(w[3 * dh + 2]));
                }
                Store(y + (nint)oh * outW + ow0, acc, planeEnd, store);
            }
        }
    }

    /// <summary>Input row <paramref name="ih"/>'s three tap vectors, zero for rows outside the plane (the padding).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Taps<TColumns>(in TColumns columns, float* xc, int ih, int inH, int inW,
        out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2) where TColumns : struct, IStripColumns<TColumns>
    {
        if ((uint)ih < (uint)inH) columns.Taps(xc + (nint)ih * inW, out t0, out t1, out t2);
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
