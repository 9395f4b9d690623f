using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static GpuConv.Cpu.Depthwise.LaneMasks;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// Backward-filter of a depthwise 3x3 convolution (2-D, stride 1 or 2, no dilation, any padding, any channel
/// multiplier) read straight from the NCHW planes of x and dy (AVX-512): dW[tap] = Σ dy[oh, ow] · x[oh·sh − ph + kh,
/// ow·sw − pw + kw]. No padded copy, no channel-last transpose, no tables and no per-task setup — those had cost
/// more than the sums on MobileNetV2's planes (the copying kernels ran 2–8× the forward at batch 1). Column strips
/// of 16 outputs, down the rows inside a strip: one masked dy load per output row and nine accumulators; the tap
/// columns are masked loads (stride-2 columns picked from two loads by two-source permutes, as in
/// <see cref="Depthwise3x3"/>), input rows outside the plane (the padding) are skipped. The load masks keep only
/// the input columns that the strip's valid output lanes read, so a non-finite x that no output of a tap reads
/// (a padding-side column, the part of a row past the last output) never meets a zero dy lane: the sums are
/// the direct sums. Each (image, output plane) gives nine float32 sums, added into float64 totals in image order.
/// </summary>
internal static unsafe class DepthwiseFilterGradient3x3
{
    const int Lanes = 16;

    /// <summary>The shapes both planar kernels take (this one on the Vector512 tier, <see cref="DepthwiseFilterGradient3x3Avx2"/> on Vector256).</summary>
    public static bool Fits(in Geometry g) =>
        g.InD == 1 && g.OutD == 1 && g.KD == 1 && g.KH == 3 && g.KW == 3 && g.DH == 1 && g.DW == 1 &&
        g.SH is 1 or 2 && g.SW is 1 or 2 &&
        // the column arithmetic stays in int
        (long)g.InW + 2L * g.OutW + 2L * g.PW + 64 < int.MaxValue;

    public static bool Applies(in Geometry g) => Avx512F.IsSupported && Fits(g);

    /// <summary>
    /// totals[p·9 + tap] += Σ over plane p of dy · x at the tap, for the planes x + p·xStride, dy + p·dyStride, p &lt; count
    /// (xStride 0: one input plane for several output planes, a channel multiplier above 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Planes(in Geometry g, float* x, nint xStride, float* dy, nint dyStride, int count, double* totals)
    {
        if (g.SW == 1) Strips<Stride1Columns>(g, x, xStride, dy, dyStride, count, totals);
        else Strips<Stride2Columns>(g, x, xStride, dy, dyStride, count, totals);
    }

    /// <summary>The three tap vectors (kernel columns 0, 1, 2 of 16 outputs) of one input row of a column strip.</summary>
    interface IStripColumns<TSelf> where TSelf : struct, IStripColumns<TSelf>
    {
        /// <summary>The strip whose first output lane reads input column <paramref name="first"/> at kernel column 0, <paramref name="valid"/> output lanes.</summary>
        static abstract TSelf At(int first, int inW, int valid);
        void Taps(float* row, out Vector512<float> t0, out Vector512<float> t1, out Vector512<float> t2);
    }

    /// <summary>Lanes of columns first … first + 15 inside [0, limit) (a negative limit keeps none).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Columns(int first, int limit) => InRange(first, Math.Max(limit, 0));

    /// <summary>Stride-1 columns: three shifted masked loads; lane i of tap k reads column first + k + i, i &lt; valid.</summary>
    struct Stride1Columns : IStripColumns<Stride1Columns>
    {
        Vector512<float> _m0, _m1, _m2;

        public static Stride1Columns At(int first, int inW, int valid) => new()
        {
            _m0 = Columns(first, Math.Min(inW, first + valid)),
            _m1 = Columns(first + 1, Math.Min(inW, first + 1 + valid)),
            _m2 = Columns(first + 2, Math.Min(inW, first + 2 + valid)),
        };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Taps(float* r, out Vector512<float> t0, out Vector512<float> t1, out Vector512<float> t2)
        {
            t0 = Load(r, _m0);
            t1 = Load(r + 1, _m1);
            t2 = Load(r + 2, _m2);
        }
    }

    /// <summary>
    /// Stride-2 columns r[2i], r[2i + 1], r[2i + 2] picked from 32-column loads with two-source permutes. Lane i
    /// &lt; valid reads columns up to first + 2·valid; the masks stop there, so lanes past valid read zeros.
    /// </summary>
    struct Stride2Columns : IStripColumns<Stride2Columns>
    {
        Vector512<float> _lo, _hi, _lo2, _hi2;

        static Vector512<int> Even => Vector512<int>.Indices * 2;
        static Vector512<int> Odd => Vector512<int>.Indices * 2 + Vector512<int>.One;

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
        public readonly void Taps(float* r, out Vector512<float> t0, out Vector512<float> t1, out Vector512<float> t2)
        {
            var lo = Load(r, _lo);
            var hi = Load(r + Lanes, _hi);
            t0 = Avx512F.PermuteVar16x32x2(lo, Even, hi);
            t1 = Avx512F.PermuteVar16x32x2(lo, Odd, hi);
            t2 = Avx512F.PermuteVar16x32x2(Load(r + 2, _lo2), Even, Load(r + 2 + Lanes, _hi2));
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

    /// <summary>
    /// Column strips of 16 outputs. Planes of one strip run together (<see cref="Rows"/> into <see cref="ToTotals"/>: masks computed and the method
    /// called once for all of them); wider ones strip by strip, each strip's nine vector sums added into acc. The rows of
    /// a strip run in their own method: with all loops in one method the JIT kept the accumulators on the stack (4–6×
    /// slower). Rows outside the plane read as zeros in the blocks of rows: a block's rows are all valid outputs, so that
    /// only happens with padding, where dy is finite (a non-finite dy with padding runs by the reference).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Strips<TColumns>(in Geometry g, float* x, nint xStride, float* dy, nint dyStride, int count, double* totals)
        where TColumns : struct, IStripColumns<TColumns>
    {
        int inH = g.InH, inW = g.InW, outH = g.OutH, outW = g.OutW;
        if (outW <= Lanes)
        {
            int first = -g.PW;
            var columns1 = TColumns.At(first, inW, outW);
            var keep1 = InRange(0, outW);
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
                var columns = TColumns.At(b, inW, valid);
                var keep = InRange(0, valid);
                if (g.SH == 1) Rows<TColumns, RowStride1, ToStrip>(columns, keep, xp + b, 0, dyp + ow0, 0, 1, inH, inW, outH, outW, g.PH, acc);
                else Rows<TColumns, RowStride2, ToStrip>(columns, keep, xp + b, 0, dyp + ow0, 0, 1, inH, inW, outH, outW, g.PH, acc);
            }
            Reduce(Vector512.Load(acc), Vector512.Load(acc + Lanes), Vector512.Load(acc + 2 * Lanes), Vector512.Load(acc + 3 * Lanes), Vector512.Load(acc + 4 * Lanes),
                Vector512.Load(acc + 5 * Lanes), Vector512.Load(acc + 6 * Lanes), Vector512.Load(acc + 7 * Lanes), Vector512.Load(acc + 8 * Lanes), totals);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Reduce(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3, Vector512<float> a4, Vector512<float> a5, Vector512<float> a6, Vector512<float> a7, Vector512<float> a8, double* totals) =>
        DepthwiseFilterGradientSums.Add(a0, a1, a2, a3, a4, a5, a6, a7, a8, totals);

    /// <summary>Where the nine vector sums of plane p go (<see cref="Rows"/>'s <c>sums</c>).</summary>
    interface ISums
    {
        static abstract void Add(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3, Vector512<float> a4, Vector512<float> a5, Vector512<float> a6, Vector512<float> a7, Vector512<float> a8, void* sums, int p);
    }

    /// <summary>Plane p's sums reduced into the float64 totals[p·9 + tap] (sums: the double* totals).</summary>
    struct ToTotals : ISums
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Add(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3, Vector512<float> a4, Vector512<float> a5, Vector512<float> a6, Vector512<float> a7, Vector512<float> a8, void* sums, int p) =>
            Reduce(a0, a1, a2, a3, a4, a5, a6, a7, a8, (double*)sums + 9 * p);
    }

    /// <summary>One column strip's sums added into acc[tap·Lanes …] (sums: the float* acc; one plane).</summary>
    struct ToStrip : ISums
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Add(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3, Vector512<float> a4, Vector512<float> a5, Vector512<float> a6, Vector512<float> a7, Vector512<float> a8, void* sums, int p)
        {
            float* acc = (float*)sums;
            Vector512.Store(Vector512.Load(acc + 0 * Lanes) + a0, acc + 0 * Lanes);
            Vector512.Store(Vector512.Load(acc + 1 * Lanes) + a1, acc + 1 * Lanes);
            Vector512.Store(Vector512.Load(acc + 2 * Lanes) + a2, acc + 2 * Lanes);
            Vector512.Store(Vector512.Load(acc + 3 * Lanes) + a3, acc + 3 * Lanes);
            Vector512.Store(Vector512.Load(acc + 4 * Lanes) + a4, acc + 4 * Lanes);
            Vector512.Store(Vector512.Load(acc + 5 * Lanes) + a5, acc + 5 * Lanes);
            Vector512.Store(Vector512.Load(acc + 6 * Lanes) + a6, acc + 6 * Lanes);
            Vector512.Store(Vector512.Load(acc + 7 * Lanes) + a7, acc + 7 * Lanes);
            Vector512.Store(Vector512.Load(acc + 8 * Lanes) + a8, acc + 8 * Lanes);
        }
    }

    /// <summary>
    /// The rows of one column strip of planes p &lt; count (x + p·xStride, dy + p·dyStride): each plane's nine vector
    /// sums (blocks of output rows, then single rows) go to <typeparamref name="TSums"/> — the float64 totals for planes
    /// of one strip, the strip accumulators (count 1) for wider ones. Row stride <typeparamref name="TRows"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    static void Rows<TColumns, TRows, TSums>(TColumns columns, Vector512<float> keep, float* x, nint xStride, float* dyPlanes, nint dyStride, int count,
        int inH, int inW, int outH, int outW, int ph, void* sums)
        where TColumns : struct, IStripColumns<TColumns> where TRows : struct, IRowStride where TSums : struct, ISums
    {
        for (int p = 0; p < count; p++)
        {
            float* xc = x + p * xStride, dy = dyPlanes + p * dyStride;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default;
            Vector512<float> a5 = default, a6 = default, a7 = default, a8 = default;
            int oh = 0;
            for (; oh + 4 <= outH; oh += 4)
            {
                float* d = dy + (nint)oh * outW;
                var d0 = Load(d, keep);
                var d1 = Load(d + 1 * (nint)outW, keep);
                var d2 = Load(d + 2 * (nint)outW, keep);
                var d3 = Load(d + 3 * (nint)outW, keep);
                int ih = oh * TRows.Value - ph;
                Vector512<float> t0, t1, t2;
                if (TRows.Value == 1)
                {
                    // Input row ih + i feeds output row oh + j through kernel row i − j.
                    RowTaps(columns, xc, ih, inH, inW, out t0, out t1, out t2);
                    a0 = Vector512.FusedMultiplyAdd(d0, t0, a0); a1 = Vector512.FusedMultiplyAdd(d0, t1, a1); a2 = Vector512.FusedMultiplyAdd(d0, t2, a2);
                    RowTaps(columns, xc, ih + 1, inH, inW, out t0, out t1, out t2);
                    a3 = Vector512.FusedMultiplyAdd(d0, t0, a3); a4 = Vector512.FusedMultiplyAdd(d0, t1, a4); a5 = Vector512.FusedMultiplyAdd(d0, t2, a5);
                    a0 = Vector512.FusedMultiplyAdd(d1, t0, a0); a1 = Vector512.FusedMultiplyAdd(d1, t1, a1); a2 = Vector512.FusedMultiplyAdd(d1, t2, a2);
                    RowTaps(columns, xc, ih + 2, inH, inW, out t0, out t1, out t2);
                    a6 = Vector512.FusedMultiplyAdd(d0, t0, a6); a7 = Vector512.FusedMultiplyAdd(d0, t1, a7); a8 = Vector512.FusedMultiplyAdd(d0, t2, a8);
                    a3 = Vector512.FusedMultiplyAdd(d1, t0, a3); a4 = Vector512.FusedMultiplyAdd(d1, t1, a4); a5 = Vector512.FusedMultiplyAdd(d1, t2, a5);
                    a0 = Vector512.FusedMultiplyAdd(d2, t0, a0); a1 = Vector512.FusedMultiplyAdd(d2, t1, a1); a2 = Vector512.FusedMultiplyAdd(d2, t2, a2);
                    RowTaps(columns, xc, ih + 3, inH, inW, out t0, out t1, out t2);
                    a6 = Vector512.FusedMultiplyAdd(d1, t0, a6); a7 = Vector512.FusedMultiplyAdd(d1, t1, a7); a8 = Vector512.FusedMultiplyAdd(d1, t2, a8);
                    a3 = Vector512.FusedMultiplyAdd(d2, t0, a3); a4 = Vector512.FusedMultiplyAdd(d2, t1, a4); a5 = Vector512.FusedMultiplyAdd(d2, t2, a5);
                    a0 = Vector512.FusedMultiplyAdd(d3, t0, a0); a1 = Vector512.FusedMultiplyAdd(d3, t1, a1); a2 = Vector512.FusedMultiplyAdd(d3, t2, a2);
                    RowTaps(columns, xc, ih + 4, inH, inW, out t0, out t1, out t2);
                    a6 = Vector512.FusedMultiplyAdd(d2, t0, a6); a7 = Vector512.FusedMultiplyAdd(d2, t1, a7); a8 = Vector512.FusedMultiplyAdd(d2, t2, a8);
                    a3 = Vector512.FusedMultiplyAdd(d3, t0, a3); a4 = Vector512.FusedMultiplyAdd(d3, t1, a4); a5 = Vector512.FusedMultiplyAdd(d3, t2, a5);
                    RowTaps(columns, xc, ih + 5, inH, inW, out t0, out t1, out t2);
                    a6 = Vector512.FusedMultiplyAdd(d3, t0, a6); a7 = Vector512.FusedMultiplyAdd(d3, t1, a7); a8 = Vector512.FusedMultiplyAdd(d3, t2, a8);
                }
                else
                {
                    // Input row ih + i feeds output row oh + j through kernel row i − 2j.
                    RowTaps(columns, xc, ih, inH, inW, out t0, out t1, out t2);
                    a0 = Vector512.FusedMultiplyAdd(d0, t0, a0); a1 = Vector512.FusedMultiplyAdd(d0, t1, a1); a2 = Vector512.FusedMultiplyAdd(d0, t2, a2);
                    RowTaps(columns, xc, ih + 1, inH, inW, out t0, out t1, out t2);
                    a3 = Vector512.FusedMultiplyAdd(d0, t0, a3); a4 = Vector512.FusedMultiplyAdd(d0, t1, a4); a5 = Vector512.FusedMultiplyAdd(d0, t2, a5);
                    RowTaps(columns, xc, ih + 2, inH, inW, out t0, out t1, out t2);
                    a6 = Vector512.FusedMultiplyAdd(d0, t0, a6); a7 = Vector512.FusedMultiplyAdd(d0, t1, a7); a8 = Vector512.FusedMultiplyAdd(d0, t2, a8);
                    a0 = Vector512.FusedMultiplyAdd(d1, t0, a0); a1 = Vector512.FusedMultiplyAdd(d1, t1, a1); a2 = Vector512.FusedMultiplyAdd(d1, t2, a2);
                    RowTaps(columns, xc, ih + 3, inH, inW, out t0, out t1, out t2);
                    a3 = Vector512.FusedMultiplyAdd(d1, t0, a3); a4 = Vector512.FusedMultiplyAdd(d1, t1, a4); a5 = Vector512.FusedMultiplyAdd(d1, t2, a5);
                    RowTaps(columns, xc, ih + 4, inH, inW, out t0, out t1, out t2);
                    a6 = Vector512.FusedMultiplyAdd(d1, t0, a6); a7 = Vector512.FusedMultiplyAdd(d1, t1, a7); a8 = Vector512.FusedMultiplyAdd(d1, t2, a8);
                    a0 = Vector512.FusedMultiplyAdd(d2, t0, a0); a1 = Vector512.FusedMultiplyAdd(d2, t1, a1); a2 = Vector512.FusedMultiplyAdd(d2, t2, a2);
                    RowTaps(columns, xc, ih + 5, inH, inW, out t0, out t1, out t2);
                    a3 = Vector512.FusedMultiplyAdd(d2, t0, a3); a4 = Vector512.FusedMultiplyAdd(d2, t1, a4); a5 = Vector512.FusedMultiplyAdd(d2, t2, a5);
                    RowTaps(columns, xc, ih + 6, inH, inW, out t0, out t1, out t2);
                    a6 = Vector512.FusedMultiplyAdd(d2, t0, a6); a7 = Vector512.FusedMultiplyAdd(d2, t1, a7); a8 = Vector512.FusedMultiplyAdd(d2, t2, a8);
                    a0 = Vector512.FusedMultiplyAdd(d3, t0, a0); a1 = Vector512.FusedMultiplyAdd(d3, t1, a1); a2 = Vector512.FusedMultiplyAdd(d3, t2, a2);
                    RowTaps(columns, xc, ih + 7, inH, inW, out t0, out t1, out t2);
                    a3 = Vector512.FusedMultiplyAdd(d3, t0, a3); a4 = Vector512.FusedMultiplyAdd(d3, t1, a4); a5 = Vector512.FusedMultiplyAdd(d3, t2, a5);
                    RowTaps(columns, xc, ih + 8, inH, inW, out t0, out t1, out t2);
                    a6 = Vector512.FusedMultiplyAdd(d3, t0, a6); a7 = Vector512.FusedMultiplyAdd(d3, t1, a7); a8 = Vector512.FusedMultiplyAdd(d3, t2, a8);
                }
            }
            for (; oh < outH; oh++)
            {
                var d0 = Load(dy + (nint)oh * outW, keep);
                int ih = oh * TRows.Value - ph;
                Vector512<float> t0, t1, t2;
                if ((uint)(ih) < (uint)inH)
                {
                    columns.Taps(xc + (nint)(ih) * inW, out t0, out t1, out t2);
                    a0 = Vector512.FusedMultiplyAdd(d0, t0, a0); a1 = Vector512.FusedMultiplyAdd(d0, t1, a1); a2 = Vector512.FusedMultiplyAdd(d0, t2, a2);
                }
                if ((uint)(ih + 1) < (uint)inH)
                {
                    columns.Taps(xc + (nint)(ih + 1) * inW, out t0, out t1, out t2);
                    a3 = Vector512.FusedMultiplyAdd(d0, t0, a3); a4 = Vector512.FusedMultiplyAdd(d0, t1, a4); a5 = Vector512.FusedMultiplyAdd(d0, t2, a5);
                }
                if ((uint)(ih + 2) < (uint)inH)
                {
                    columns.Taps(xc + (nint)(ih + 2) * inW, out t0, out t1, out t2);
                    a6 = Vector512.FusedMultiplyAdd(d0, t0, a6); a7 = Vector512.FusedMultiplyAdd(d0, t1, a7); a8 = Vector512.FusedMultiplyAdd(d0, t2, a8);
                }
            }
            TSums.Add(a0, a1, a2, a3, a4, a5, a6, a7, a8, sums, p);
        }
    }
}
