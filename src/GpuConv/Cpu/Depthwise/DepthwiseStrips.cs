using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static GpuConv.Cpu.Depthwise.LaneMasks;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// Depthwise forward with 3-, 5- or 7-wide kernels of any height (2-D, one filter per channel, stride 1
/// or 2, no dilation, any padding), read straight from the NCHW planes: no padded copy, no tables.
/// Outputs go in column strips of 16, four output rows at a time: each input row's taps are loaded
/// once and feed every output row of the four that reads it, with two accumulators per output row.
/// Every input read is an AVX-512 masked load whose mask drops the columns
/// outside the row (the zero padding, and the part of a narrow row a vector overhangs); masked loads
/// do not fault on dropped lanes, so the plane's edges need no special case. Rows outside the plane
/// are skipped. Stride-2 columns are picked from two loads with a two-source permute.
/// </summary>
internal static unsafe class DepthwiseStrips
{
    const int Lanes = 16;

    /// <summary>Output rows per block.</summary>
    const int BlockRows = 4;

    public static bool Applies(in Geometry g, int multiplier) =>
        Avx512F.IsSupported && multiplier == 1 &&
        g.InD == 1 && g.OutD == 1 && g.KD == 1 && g.KW is 3 or 5 or 7 && g.KH <= 16 && g.DH == 1 && g.DW == 1 &&
        // A one-row output (1-d convolutions) fills a quarter of each four-row block: the padded-copy
        // kernel runs those 5-15x faster (Conv-TasNet's 512 x 3999 depthwise: 1.0-3.0 ms here, ~0.2 ms there).
        g.OutH > 1 &&
        g.SH is 1 or 2 && g.SW is 1 or 2 &&
        // the column arithmetic below stays in int
        (long)g.InW + 2L * g.OutW + 64 < int.MaxValue;

    /// <summary>One plane: y[oh, ow] = bias + Σ w[dh, dw]·x[oh·sh − ph + dh, ow·sw − pw + dw] (zero outside x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Plane(in Geometry g, float* x, float* w, float* y, float bias)
    {
        if (g.KW == 3)
        {
            if (g.SW == 1) Strips<Stride1<Three>>(g, x, w, y, bias);
            else Strips<Stride2<Three>>(g, x, w, y, bias);
        }
        else if (g.KW == 5)
        {
            if (g.SW == 1) Strips<Stride1<Five>>(g, x, w, y, bias);
            else Strips<Stride2<Five>>(g, x, w, y, bias);
        }
        else
        {
            if (g.SW == 1) Strips<Stride1<Seven>>(g, x, w, y, bias);
            else Strips<Stride2<Seven>>(g, x, w, y, bias);
        }
    }

    /// <summary>acc + w·tap (the weight broadcast straight from memory).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Fma(Vector512<float> acc, float w, Vector512<float> tap) => Vector512.FusedMultiplyAdd(Vector512.Create(w), tap, acc);

    /// <summary>even += w[0]·t0 + w[2]·t2 (+ w[4]·t4 + w[6]·t6), odd += w[1]·t1 (+ w[3]·t3 + w[5]·t5).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void ApplyTaps<TWidth>(ref Vector512<float> even, ref Vector512<float> odd, float* w,
        Vector512<float> t0, Vector512<float> t1, Vector512<float> t2, Vector512<float> t3, Vector512<float> t4,
        Vector512<float> t5, Vector512<float> t6) where TWidth : struct, IWidth
    {
        even = Fma(Fma(even, w[0], t0), w[2], t2);
        odd = Fma(odd, w[1], t1);
        if (TWidth.Taps < 5) return;
        even = Fma(even, w[4], t4);
        odd = Fma(odd, w[3], t3);
        if (TWidth.Taps < 7) return;
        even = Fma(even, w[6], t6);
        odd = Fma(odd, w[5], t5);
    }

    /// <summary>The kernel width as a type, so each width compiles to its own straight-line code.</summary>
    interface IWidth { static abstract int Taps { get; } }
    struct Three : IWidth { public static int Taps => 3; }
    struct Five : IWidth { public static int Taps => 5; }
    struct Seven : IWidth { public static int Taps => 7; }

    /// <summary>One input row's tap vectors (input columns 0 … KW − 1 of 16 outputs) in a column strip.</summary>
    interface IStripColumns<TSelf> where TSelf : struct, IStripColumns<TSelf>
    {
        /// <summary>The strip whose first output lane reads input column <paramref name="first"/> at tap 0.</summary>
        static abstract TSelf At(int first, int inW);

        /// <summary>Loads the taps of the input row starting at <paramref name="row"/> (the strip's column 0).</summary>
        void Load(float* row);

        /// <summary>Adds Σₜ w[t]·tap t of the loaded taps: the even taps to <paramref name="even"/>, the odd ones to <paramref name="odd"/>.</summary>
        void Apply(ref Vector512<float> even, ref Vector512<float> odd, float* w);
    }

    /// <summary>Stride-1 columns: one shifted masked load per tap.</summary>
    struct Stride1<TWidth> : IStripColumns<Stride1<TWidth>> where TWidth : struct, IWidth
    {
        Vector512<float> _m0, _m1, _m2, _m3, _m4, _m5, _m6;
        Vector512<float> _t0, _t1, _t2, _t3, _t4, _t5, _t6;

        public static Stride1<TWidth> At(int first, int inW) => new()
        {
            _m0 = InRange(first, inW), _m1 = InRange(first + 1, inW), _m2 = InRange(first + 2, inW),
            _m3 = TWidth.Taps >= 5 ? InRange(first + 3, inW) : default, _m4 = TWidth.Taps >= 5 ? InRange(first + 4, inW) : default,
            _m5 = TWidth.Taps >= 7 ? InRange(first + 5, inW) : default, _m6 = TWidth.Taps >= 7 ? InRange(first + 6, inW) : default,
        };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Load(float* r)
        {
            _t0 = LaneMasks.Load(r, _m0);
            _t1 = LaneMasks.Load(r + 1, _m1);
            _t2 = LaneMasks.Load(r + 2, _m2);
            if (TWidth.Taps < 5) return;
            _t3 = LaneMasks.Load(r + 3, _m3);
            _t4 = LaneMasks.Load(r + 4, _m4);
            if (TWidth.Taps < 7) return;
            _t5 = LaneMasks.Load(r + 5, _m5);
            _t6 = LaneMasks.Load(r + 6, _m6);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Apply(ref Vector512<float> even, ref Vector512<float> odd, float* w) =>
            ApplyTaps<TWidth>(ref even, ref odd, w, _t0, _t1, _t2, _t3, _t4, _t5, _t6);
    }

    /// <summary>Stride-2 columns r[2i + t]: each pair of taps picked from one 32-column load pair with two-source permutes.</summary>
    struct Stride2<TWidth> : IStripColumns<Stride2<TWidth>> where TWidth : struct, IWidth
    {
        Vector512<float> _lo0, _hi0, _lo2, _hi2, _lo4, _hi4, _lo6, _hi6;
        Vector512<float> _t0, _t1, _t2, _t3, _t4, _t5, _t6;

        // Lane i of (lo, hi) concatenated: even = 2i, odd = 2i + 1.
        static Vector512<int> Even => Vector512<int>.Indices * 2;
        static Vector512<int> Odd => Vector512<int>.Indices * 2 + Vector512<int>.One;

        public static Stride2<TWidth> At(int first, int inW) => new()
        {
            _lo0 = InRange(first, inW), _hi0 = InRange(first + Lanes, inW),
            _lo2 = InRange(first + 2, inW), _hi2 = InRange(first + 2 + Lanes, inW),
            _lo4 = TWidth.Taps >= 5 ? InRange(first + 4, inW) : default, _hi4 = TWidth.Taps >= 5 ? InRange(first + 4 + Lanes, inW) : default,
            _lo6 = TWidth.Taps >= 7 ? InRange(first + 6, inW) : default, _hi6 = TWidth.Taps >= 7 ? InRange(first + 6 + Lanes, inW) : default,
        };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Load(float* r)
        {
            var lo = LaneMasks.Load(r, _lo0);
            var hi = LaneMasks.Load(r + Lanes, _hi0);
            _t0 = Avx512F.PermuteVar16x32x2(lo, Even, hi);
            _t1 = Avx512F.PermuteVar16x32x2(lo, Odd, hi);
            lo = LaneMasks.Load(r + 2, _lo2);
            hi = LaneMasks.Load(r + 2 + Lanes, _hi2);
            _t2 = Avx512F.PermuteVar16x32x2(lo, Even, hi);
            if (TWidth.Taps < 5) return;
            _t3 = Avx512F.PermuteVar16x32x2(lo, Odd, hi);
            lo = LaneMasks.Load(r + 4, _lo4);
            hi = LaneMasks.Load(r + 4 + Lanes, _hi4);
            _t4 = Avx512F.PermuteVar16x32x2(lo, Even, hi);
            if (TWidth.Taps < 7) return;
            _t5 = Avx512F.PermuteVar16x32x2(lo, Odd, hi);
            _t6 = Avx512F.PermuteVar16x32x2(LaneMasks.Load(r + 6, _lo6), Even, LaneMasks.Load(r + 6 + Lanes, _hi6));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Apply(ref Vector512<float> even, ref Vector512<float> odd, float* w) =>
            ApplyTaps<TWidth>(ref even, ref odd, w, _t0, _t1, _t2, _t3, _t4, _t5, _t6);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Strips<TColumns>(in Geometry g, float* x, float* w, float* y, float bias) where TColumns : struct, IStripColumns<TColumns>
    {
        int inH = g.InH, inW = g.InW, outH = g.OutH, outW = g.OutW, sh = g.SH, ph = g.PH, kh = g.KH, kw = g.KW;
        var vb = Vector512.Create(bias);
        for (int ow0 = 0; ow0 < outW; ow0 += Lanes)
        {
            int b = ow0 * g.SW - g.PW;     // input column of tap 0 for lane 0
            var columns = TColumns.At(b, inW);
            var store = InRange(ow0, outW);
            float* xc = x + b;
            int oh = 0;
            for (; oh + BlockRows <= outH; oh += BlockRows)
            {
                // Input row ih0 + i feeds output row oh + j through kernel row i − j·sh. Two accumulators
                // per output row (even and odd taps): eight FMA chains keep both FMA pipes busy (with
                // four, each waited on its own latency half the time: 28 × 28 × 240 5x5 0.175 -> 0.115 ms).
                int ih0 = oh * sh - ph;
                Vector512<float> a0 = vb, a1 = vb, a2 = vb, a3 = vb;
                Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
                int first = Math.Max(0, -ih0), end = Math.Min((BlockRows - 1) * sh + kh, inH - ih0);
                for (int i = first; i < end; i++)
                {
                    columns.Load(xc + (nint)(ih0 + i) * inW);
                    if ((uint)i < (uint)kh) columns.Apply(ref a0, ref b0, w + i * kw);
                    if ((uint)(i - sh) < (uint)kh) columns.Apply(ref a1, ref b1, w + (i - sh) * kw);
                    if ((uint)(i - 2 * sh) < (uint)kh) columns.Apply(ref a2, ref b2, w + (i - 2 * sh) * kw);
                    if ((uint)(i - 3 * sh) < (uint)kh) columns.Apply(ref a3, ref b3, w + (i - 3 * sh) * kw);
                }
                float* yo = y + (nint)oh * outW + ow0;
                Avx512F.MaskStore(yo, store, a0 + b0);
                Avx512F.MaskStore(yo + outW, store, a1 + b1);
                Avx512F.MaskStore(yo + 2 * outW, store, a2 + b2);
                Avx512F.MaskStore(yo + 3 * outW, store, a3 + b3);
            }
            for (; oh < outH; oh++)
            {
                int ih0 = oh * sh - ph;
                Vector512<float> a = vb, odd = default;
                int first = Math.Max(0, -ih0), end = Math.Min(kh, inH - ih0);
                for (int i = first; i < end; i++)
                {
                    columns.Load(xc + (nint)(ih0 + i) * inW);
                    columns.Apply(ref a, ref odd, w + i * kw);
                }
                Avx512F.MaskStore(y + (nint)oh * outW + ow0, store, a + odd);
            }
        }
    }
}
