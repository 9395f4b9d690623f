using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// <see cref="DepthwiseFilterGradient3x3"/> for AVX2 machines (the Vector256 tier): the same column strips with 8
/// lanes, read straight from the NCHW planes of x and dy by AVX masked loads (vmaskmovps does not fault on the
/// lanes it drops). Stride-2 columns come from two loads by in-lane shuffles (their lane order, not the
/// outputs', with dy permuted to match once per row). The same masks as the AVX-512 kernel: x lanes that no valid output of the
/// strip reads are zero, so a non-finite x meets no zero dy lane.
/// </summary>
internal static unsafe class DepthwiseFilterGradient3x3Avx2
{
    const int Lanes = 8;

    public static bool Applies(in Geometry g) => Avx2.IsSupported && Fma.IsSupported && DepthwiseFilterGradient3x3.Fits(g);

    /// <summary>
    /// totals[p·9 + tap] += Σ over plane p of dy · x at the tap, for the planes x + p·xStride, dy + p·dyStride, p &lt; count
    /// (xStride 0: one input plane for several output planes, a channel multiplier above 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Planes(in Geometry g, float* x, nint xStride, float* dy, nint dyStride, int count, double* totals)
    {
        if (g.SW == 1) Strips<Stride1Columns, Stride1Interior>(g, x, xStride, dy, dyStride, count, totals);
        else Strips<Stride2Columns, Stride2Interior>(g, x, xStride, dy, dyStride, count, totals);
    }

    interface IStripColumns<TSelf> where TSelf : struct, IStripColumns<TSelf>
    {
        static abstract TSelf At(int first, int inW, int valid);
        void Taps(float* row, out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2);
        /// <summary>dy's 8 outputs in the lane order of the taps.</summary>
        static abstract Vector256<float> Order(Vector256<float> dy);
        /// <summary>dy's 8 outputs at p (lanes outside <paramref name="keep"/> zero), in the lane order of the taps.</summary>
        static virtual Vector256<float> Dy(float* p, Vector256<float> keep) => TSelf.Order(Avx.MaskLoad(p, keep));
    }

    /// <summary>
    /// Interior strips (every lane a valid output, every column loaded inside the row): plain loads, no masks, which
    /// the JIT can fold into the FMAs. vmaskmovps loads cost more than plain ones, and the three masks and dy's took
    /// registers AVX2 does not have to spare.
    /// </summary>
    struct Stride1Interior : IStripColumns<Stride1Interior>
    {
        public static Stride1Interior At(int first, int inW, int valid) => default;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Taps(float* r, out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2)
        {
            t0 = Vector256.Load(r);
            t1 = Vector256.Load(r + 1);
            t2 = Vector256.Load(r + 2);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Order(Vector256<float> dy) => dy;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Dy(float* p, Vector256<float> keep) => Vector256.Load(p);
    }

    /// <summary>Interior stride-2 strips: <see cref="Stride2Columns"/> with plain loads (the shuffles drop the lanes past the last column read).</summary>
    struct Stride2Interior : IStripColumns<Stride2Interior>
    {
        public static Stride2Interior At(int first, int inW, int valid) => default;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Taps(float* r, out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2)
        {
            var lo = Vector256.Load(r);
            var hi = Vector256.Load(r + Lanes);
            t0 = Avx.Shuffle(lo, hi, 0b10_00_10_00);
            t1 = Avx.Shuffle(lo, hi, 0b11_01_11_01);
            t2 = Avx.Shuffle(Vector256.Load(r + 2), Vector256.Load(r + 2 + Lanes), 0b10_00_10_00);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Order(Vector256<float> dy) => Stride2Columns.Order(dy);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Dy(float* p, Vector256<float> keep) => Stride2Columns.Order(Vector256.Load(p));
    }

    /// <summary>Lanes of columns first … first + 7 inside [0, limit) (a negative limit keeps none).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Columns(int first, int limit) => LaneMasks.InRange8(first, Math.Max(limit, 0));

    /// <summary>Stride-1 columns: three shifted masked loads; lane i of tap k reads column first + k + i, i &lt; valid.</summary>
    struct Stride1Columns : IStripColumns<Stride1Columns>
    {
        Vector256<float> _m0, _m1, _m2;

        public static Stride1Columns At(int first, int inW, int valid) => new()
        {
            _m0 = Columns(first, Math.Min(inW, first + valid)),
            _m1 = Columns(first + 1, Math.Min(inW, first + 1 + valid)),
            _m2 = Columns(first + 2, Math.Min(inW, first + 2 + valid)),
        };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Taps(float* r, out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2)
        {
            t0 = Avx.MaskLoad(r, _m0);
            t1 = Avx.MaskLoad(r + 1, _m1);
            t2 = Avx.MaskLoad(r + 2, _m2);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Order(Vector256<float> dy) => dy;
    }

    /// <summary>
    /// Stride-2 columns r[2i], r[2i + 1], r[2i + 2], in the lane order of outputs 0, 1, 4, 5, 2, 3, 6, 7: an in-lane
    /// shuffle of the 16 columns at r (lo, hi) gives the even or odd ones in that order with no cross-lane step
    /// (sums do not care about lane order; dy is put in the same order once per row). The masks stop at the last
    /// column a valid lane reads.
    /// </summary>
    struct Stride2Columns : IStripColumns<Stride2Columns>
    {
        Vector256<float> _lo, _hi, _lo2, _hi2;

        public static Stride2Columns At(int first, int inW, int valid)
        {
            int limit = Math.Min(inW, first + 2 * valid), limit2 = Math.Min(inW, first + 2 * valid + 1);
            return new()
            {
                _lo = Columns(first, limit), _hi = Columns(first + Lanes, limit),
                _lo2 = Columns(first + 2, limit2), _hi2 = Columns(first + 2 + Lanes, limit2),
            };
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Taps(float* r, out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2)
        {
            var lo = Avx.MaskLoad(r, _lo);
            var hi = Avx.MaskLoad(r + Lanes, _hi);
            t0 = Avx.Shuffle(lo, hi, 0b10_00_10_00);
            t1 = Avx.Shuffle(lo, hi, 0b11_01_11_01);
            t2 = Avx.Shuffle(Avx.MaskLoad(r + 2, _lo2), Avx.MaskLoad(r + 2 + Lanes, _hi2), 0b10_00_10_00);
        }

        /// <summary>Outputs 0, 1, 4, 5, 2, 3, 6, 7: the middle two pairs swapped.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Order(Vector256<float> dy) => Avx2.Permute4x64(dy.AsDouble(), 0b11_01_10_00).AsSingle();
    }

    /// <summary>An input row's taps, zero for rows outside the plane (the padding).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void RowTaps<TColumns>(in TColumns columns, float* xc, int ih, int inH, int inW,
        out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2) where TColumns : struct, IStripColumns<TColumns>
    {
        if ((uint)ih < (uint)inH) columns.Taps(xc + (nint)ih * inW, out t0, out t1, out t2);
        else t0 = t1 = t2 = Vector256<float>.Zero;
    }

    /// <summary>
    /// Column strips of 8 outputs. Planes of one strip run together (<see cref="Rows"/> into <see cref="ToTotals"/>: masks computed and the method
    /// called once for all of them); wider ones strip by strip, each strip's nine vector sums added into acc. The rows of
    /// a strip run in their own method: with all loops in one method the JIT kept the accumulators on the stack (4–6×
    /// slower). Rows outside the plane read as zeros in the blocks of rows: a block's rows are all valid outputs, so that
    /// only happens with padding, where dy is finite (a non-finite dy with padding runs by the reference).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Strips<TColumns, TInterior>(in Geometry g, float* x, nint xStride, float* dy, nint dyStride, int count, double* totals)
        where TColumns : struct, IStripColumns<TColumns> where TInterior : struct, IStripColumns<TInterior>
    {
        int inH = g.InH, inW = g.InW, outH = g.OutH, outW = g.OutW;
        if (outW <= Lanes)
        {
            int first = -g.PW;
            var columns1 = TColumns.At(first, inW, outW);
            var keep1 = LaneMasks.InRange8(0, outW);
            if (g.SH == 1) Rows<TColumns, RowStride1, ToTotals>(columns1, keep1, x + first, xStride, dy, dyStride, count, inH, inW, outH, outW, g.PH, totals);
            else Rows<TColumns, RowStride2, ToTotals>(columns1, keep1, x + first, xStride, dy, dyStride, count, inH, inW, outH, outW, g.PH, totals);
            return;
        }
        float* acc = stackalloc float[9 * Lanes];
        for (int p = 0; p < count; p++, totals += 9)
        {
            new Span<float>(acc, 9 * Lanes).Clear();
            float* xp = x + p * xStride, dyp = dy + p * dyStride;
            for (int ow0 = 0; ow0 < outW; ow0 += Lanes)
            {
                int b = ow0 * g.SW - g.PW;     // input column of kernel column 0 for lane 0
                int valid = Math.Min(Lanes, outW - ow0);
                var keep = LaneMasks.InRange8(0, valid);
                if (valid == Lanes && b >= 0 && b + 2 + g.SW * Lanes <= inW)
                {
                    if (g.SH == 1) Rows<TInterior, RowStride1, ToStrip>(default(TInterior), keep, xp + b, 0, dyp + ow0, 0, 1, inH, inW, outH, outW, g.PH, acc);
                    else Rows<TInterior, RowStride2, ToStrip>(default(TInterior), keep, xp + b, 0, dyp + ow0, 0, 1, inH, inW, outH, outW, g.PH, acc);
                    continue;
                }
                var columns = TColumns.At(b, inW, valid);
                if (g.SH == 1) Rows<TColumns, RowStride1, ToStrip>(columns, keep, xp + b, 0, dyp + ow0, 0, 1, inH, inW, outH, outW, g.PH, acc);
                else Rows<TColumns, RowStride2, ToStrip>(columns, keep, xp + b, 0, dyp + ow0, 0, 1, inH, inW, outH, outW, g.PH, acc);
            }
            Reduce(Vector256.Load(acc), Vector256.Load(acc + Lanes), Vector256.Load(acc + 2 * Lanes), Vector256.Load(acc + 3 * Lanes), Vector256.Load(acc + 4 * Lanes),
                Vector256.Load(acc + 5 * Lanes), Vector256.Load(acc + 6 * Lanes), Vector256.Load(acc + 7 * Lanes), Vector256.Load(acc + 8 * Lanes), totals);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Reduce(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3, Vector256<float> a4, Vector256<float> a5, Vector256<float> a6, Vector256<float> a7, Vector256<float> a8, double* totals) =>
        DepthwiseFilterGradientSums.Add(a0, a1, a2, a3, a4, a5, a6, a7, a8, totals);

    /// <summary>Where the nine vector sums of plane p go (<see cref="Rows"/>'s <c>sums</c>).</summary>
    interface ISums
    {
        static abstract void Add(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3, Vector256<float> a4, Vector256<float> a5, Vector256<float> a6, Vector256<float> a7, Vector256<float> a8, void* sums, int p);
    }

    /// <summary>Plane p's sums reduced into the float64 totals[p·9 + tap] (sums: the double* totals).</summary>
    struct ToTotals : ISums
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Add(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3, Vector256<float> a4, Vector256<float> a5, Vector256<float> a6, Vector256<float> a7, Vector256<float> a8, void* sums, int p) =>
            Reduce(a0, a1, a2, a3, a4, a5, a6, a7, a8, (double*)sums + 9 * p);
    }

    /// <summary>One column strip's sums added into acc[tap·Lanes …] (sums: the float* acc; one plane).</summary>
    struct ToStrip : ISums
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Add(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3, Vector256<float> a4, Vector256<float> a5, Vector256<float> a6, Vector256<float> a7, Vector256<float> a8, void* sums, int p)
        {
            float* acc = (float*)sums;
            Vector256.Store(Vector256.Load(acc + 0 * Lanes) + a0, acc + 0 * Lanes);
            Vector256.Store(Vector256.Load(acc + 1 * Lanes) + a1, acc + 1 * Lanes);
            Vector256.Store(Vector256.Load(acc + 2 * Lanes) + a2, acc + 2 * Lanes);
            Vector256.Store(Vector256.Load(acc + 3 * Lanes) + a3, acc + 3 * Lanes);
            Vector256.Store(Vector256.Load(acc + 4 * Lanes) + a4, acc + 4 * Lanes);
            Vector256.Store(Vector256.Load(acc + 5 * Lanes) + a5, acc + 5 * Lanes);
            Vector256.Store(Vector256.Load(acc + 6 * Lanes) + a6, acc + 6 * Lanes);
            Vector256.Store(Vector256.Load(acc + 7 * Lanes) + a7, acc + 7 * Lanes);
            Vector256.Store(Vector256.Load(acc + 8 * Lanes) + a8, acc + 8 * Lanes);
        }
    }

    /// <summary>
    /// The rows of one column strip of planes p &lt; count (x + p·xStride, dy + p·dyStride): each plane's nine vector
    /// sums (blocks of output rows, then single rows) go to <typeparamref name="TSums"/> — the float64 totals for planes
    /// of one strip, the strip accumulators (count 1) for wider ones. Row stride <typeparamref name="TRows"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    static void Rows<TColumns, TRows, TSums>(TColumns columns, Vector256<float> keep, float* x, nint xStride, float* dyPlanes, nint dyStride, int count,
        int inH, int inW, int outH, int outW, int ph, void* sums)
        where TColumns : struct, IStripColumns<TColumns> where TRows : struct, IRowStride where TSums : struct, ISums
    {
        for (int p = 0; p < count; p++)
        {
            float* xc = x + p * xStride, dy = dyPlanes + p * dyStride;
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default;
            Vector256<float> a5 = default, a6 = default, a7 = default, a8 = default;
            int oh = 0;
            for (; oh + 2 <= outH; oh += 2)
            {
                float* d = dy + (nint)oh * outW;
                var d0 = TColumns.Dy(d, keep);
                var d1 = TColumns.Dy(d + 1 * (nint)outW, keep);
                int ih = oh * TRows.Value - ph;
                Vector256<float> t0, t1, t2;
                if (TRows.Value == 1)
                {
                    // Input row ih + i feeds output row oh + j through kernel row i − j.
                    RowTaps(columns, xc, ih, inH, inW, out t0, out t1, out t2);
                    a0 = Vector256.FusedMultiplyAdd(d0, t0, a0); a1 = Vector256.FusedMultiplyAdd(d0, t1, a1); a2 = Vector256.FusedMultiplyAdd(d0, t2, a2);
                    RowTaps(columns, xc, ih + 1, inH, inW, out t0, out t1, out t2);
                    a3 = Vector256.FusedMultiplyAdd(d0, t0, a3); a4 = Vector256.FusedMultiplyAdd(d0, t1, a4); a5 = Vector256.FusedMultiplyAdd(d0, t2, a5);
                    a0 = Vector256.FusedMultiplyAdd(d1, t0, a0); a1 = Vector256.FusedMultiplyAdd(d1, t1, a1); a2 = Vector256.FusedMultiplyAdd(d1, t2, a2);
                    RowTaps(columns, xc, ih + 2, inH, inW, out t0, out t1, out t2);
                    a6 = Vector256.FusedMultiplyAdd(d0, t0, a6); a7 = Vector256.FusedMultiplyAdd(d0, t1, a7); a8 = Vector256.FusedMultiplyAdd(d0, t2, a8);
                    a3 = Vector256.FusedMultiplyAdd(d1, t0, a3); a4 = Vector256.FusedMultiplyAdd(d1, t1, a4); a5 = Vector256.FusedMultiplyAdd(d1, t2, a5);
                    RowTaps(columns, xc, ih + 3, inH, inW, out t0, out t1, out t2);
                    a6 = Vector256.FusedMultiplyAdd(d1, t0, a6); a7 = Vector256.FusedMultiplyAdd(d1, t1, a7); a8 = Vector256.FusedMultiplyAdd(d1, t2, a8);
                }
                else
                {
                    // Input row ih + i feeds output row oh + j through kernel row i − 2j.
                    RowTaps(columns, xc, ih, inH, inW, out t0, out t1, out t2);
                    a0 = Vector256.FusedMultiplyAdd(d0, t0, a0); a1 = Vector256.FusedMultiplyAdd(d0, t1, a1); a2 = Vector256.FusedMultiplyAdd(d0, t2, a2);
                    RowTaps(columns, xc, ih + 1, inH, inW, out t0, out t1, out t2);
                    a3 = Vector256.FusedMultiplyAdd(d0, t0, a3); a4 = Vector256.FusedMultiplyAdd(d0, t1, a4); a5 = Vector256.FusedMultiplyAdd(d0, t2, a5);
                    RowTaps(columns, xc, ih + 2, inH, inW, out t0, out t1, out t2);
                    a6 = Vector256.FusedMultiplyAdd(d0, t0, a6); a7 = Vector256.FusedMultiplyAdd(d0, t1, a7); a8 = Vector256.FusedMultiplyAdd(d0, t2, a8);
                    a0 = Vector256.FusedMultiplyAdd(d1, t0, a0); a1 = Vector256.FusedMultiplyAdd(d1, t1, a1); a2 = Vector256.FusedMultiplyAdd(d1, t2, a2);
                    RowTaps(columns, xc, ih + 3, inH, inW, out t0, out t1, out t2);
                    a3 = Vector256.FusedMultiplyAdd(d1, t0, a3); a4 = Vector256.FusedMultiplyAdd(d1, t1, a4); a5 = Vector256.FusedMultiplyAdd(d1, t2, a5);
                    RowTaps(columns, xc, ih + 4, inH, inW, out t0, out t1, out t2);
                    a6 = Vector256.FusedMultiplyAdd(d1, t0, a6); a7 = Vector256.FusedMultiplyAdd(d1, t1, a7); a8 = Vector256.FusedMultiplyAdd(d1, t2, a8);
                }
            }
            for (; oh < outH; oh++)
            {
                var d0 = TColumns.Dy(dy + (nint)oh * outW, keep);
                int ih = oh * TRows.Value - ph;
                Vector256<float> t0, t1, t2;
                if ((uint)(ih) < (uint)inH)
                {
                    columns.Taps(xc + (nint)(ih) * inW, out t0, out t1, out t2);
                    a0 = Vector256.FusedMultiplyAdd(d0, t0, a0); a1 = Vector256.FusedMultiplyAdd(d0, t1, a1); a2 = Vector256.FusedMultiplyAdd(d0, t2, a2);
                }
                if ((uint)(ih + 1) < (uint)inH)
                {
                    columns.Taps(xc + (nint)(ih + 1) * inW, out t0, out t1, out t2);
                    a3 = Vector256.FusedMultiplyAdd(d0, t0, a3); a4 = Vector256.FusedMultiplyAdd(d0, t1, a4); a5 = Vector256.FusedMultiplyAdd(d0, t2, a5);
                }
                if ((uint)(ih + 2) < (uint)inH)
                {
                    columns.Taps(xc + (nint)(ih + 2) * inW, out t0, out t1, out t2);
                    a6 = Vector256.FusedMultiplyAdd(d0, t0, a6); a7 = Vector256.FusedMultiplyAdd(d0, t1, a7); a8 = Vector256.FusedMultiplyAdd(d0, t2, a8);
                }
            }
            TSums.Add(a0, a1, a2, a3, a4, a5, a6, a7, a8, sums, p);
        }
    }
}
