using System.Runtime.CompilerServices;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// The vector width of the planar depthwise 3x3 weight-gradient kernels as a type (<see cref="DepthwiseFilterGradient3x3"/>:
/// Vector512, 4 output rows a block; <see cref="DepthwiseFilterGradient3x3Avx2"/>: Vector256, 2 rows, the registers AVX2
/// has), so <see cref="DepthwiseFilterGradientStrips"/> is written once: the JIT compiles one copy per width, the
/// members inlined and the other width's blocks dropped.
/// </summary>
internal unsafe interface IStripWidth<TV> where TV : struct
{
    static abstract int Lanes { get; }
    /// <summary>4 or 2 output rows per block.</summary>
    static abstract int BlockRows { get; }
    /// <summary>Whether full strips inside the row take the columns type's plain-load twin (TInterior).</summary>
    static abstract bool PlainInterior { get; }
    /// <summary>Lanes first … first + Lanes − 1 inside [0, limit), as a load mask.</summary>
    static abstract TV InRange(int first, int limit);
    static abstract TV Load(float* p);
    static abstract void Store(TV v, float* p);
    static abstract TV Add(TV a, TV b);
    /// <summary>a·b + c, fused.</summary>
    static abstract TV Fma(TV a, TV b, TV c);
    /// <summary>totals[tap] += the nine vector sums' lanes, in float64.</summary>
    static abstract void Reduce(TV a0, TV a1, TV a2, TV a3, TV a4, TV a5, TV a6, TV a7, TV a8, double* totals);
}

/// <summary>The three tap vectors (kernel columns 0, 1, 2) of one input row of a column strip, and dy's outputs in their lane order.</summary>
internal unsafe interface IStripColumns<TSelf, TV> where TSelf : struct, IStripColumns<TSelf, TV> where TV : struct
{
    /// <summary>The strip whose first output lane reads input column <paramref name="first"/> at kernel column 0, <paramref name="valid"/> output lanes.</summary>
    static abstract TSelf At(int first, int inW, int valid);
    void Taps(float* row, out TV t0, out TV t1, out TV t2);
    /// <summary>dy's outputs at p (lanes outside <paramref name="keep"/> zero), in the lane order of the taps.</summary>
    static abstract TV Dy(float* p, TV keep);
}

/// <summary>
/// The strip and row loops of both planar depthwise 3x3 weight-gradient kernels (see <see cref="DepthwiseFilterGradient3x3"/>),
/// generic over the width (<c>TW</c>: <see cref="IStripWidth{TV}"/>) and the columns (<c>TColumns</c>: stride-1 or stride-2 taps).
/// </summary>
internal static unsafe class DepthwiseFilterGradientStrips
{
    /// <summary>
    /// Column strips of <c>TW.Lanes</c> outputs. Planes of one strip run together (<see cref="Rows"/> into the totals:
    /// masks computed and the method called once for all of them); wider ones strip by strip, each strip's nine vector
    /// sums added into acc. The rows of a strip run in their own method: with all loops in one method the JIT kept the
    /// accumulators on the stack (4–6× slower). Rows outside the plane read as zeros in the blocks of rows: a block's
    /// rows are all valid outputs, so that only happens with padding, where dy is finite (a non-finite dy with padding
    /// runs by the reference).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Strips<TV, TW, TColumns, TInterior>(in Geometry g, float* x, nint xStride, float* dy, nint dyStride, int count, double* totals)
        where TV : struct where TW : struct, IStripWidth<TV>
        where TColumns : struct, IStripColumns<TColumns, TV> where TInterior : struct, IStripColumns<TInterior, TV>
    {
        int lanes = TW.Lanes;
        int inH = g.InH, inW = g.InW, outH = g.OutH, outW = g.OutW;
        if (outW <= lanes)
        {
            int first = -g.PW;
            var columns1 = TColumns.At(first, inW, outW);
            var keep1 = TW.InRange(0, outW);
            if (g.SH == 1) Rows<TV, TW, TColumns, RowStride1, ToTotals>(columns1, keep1, x + first, xStride, dy, dyStride, count, inH, inW, outH, outW, g.PH, totals);
            else Rows<TV, TW, TColumns, RowStride2, ToTotals>(columns1, keep1, x + first, xStride, dy, dyStride, count, inH, inW, outH, outW, g.PH, totals);
            return;
        }
        float* acc = stackalloc float[9 * 16];
        for (int p = 0; p < count; p++, totals += 9)
        {
            new Span<float>(acc, 9 * lanes).Clear();
            float* xp = x + p * xStride, dyp = dy + p * dyStride;
            for (int ow0 = 0; ow0 < outW; ow0 += lanes)
            {
                int b = ow0 * g.SW - g.PW;     // input column of kernel column 0 for lane 0
                int valid = Math.Min(lanes, outW - ow0);
                var keep = TW.InRange(0, valid);
                if (TW.PlainInterior && valid == lanes && b >= 0 && b + 2 + g.SW * lanes <= inW)
                {
                    if (g.SH == 1) Rows<TV, TW, TInterior, RowStride1, ToStrip>(default, keep, xp + b, 0, dyp + ow0, 0, 1, inH, inW, outH, outW, g.PH, acc);
                    else Rows<TV, TW, TInterior, RowStride2, ToStrip>(default, keep, xp + b, 0, dyp + ow0, 0, 1, inH, inW, outH, outW, g.PH, acc);
                    continue;
                }
                var columns = TColumns.At(b, inW, valid);
                if (g.SH == 1) Rows<TV, TW, TColumns, RowStride1, ToStrip>(columns, keep, xp + b, 0, dyp + ow0, 0, 1, inH, inW, outH, outW, g.PH, acc);
                else Rows<TV, TW, TColumns, RowStride2, ToStrip>(columns, keep, xp + b, 0, dyp + ow0, 0, 1, inH, inW, outH, outW, g.PH, acc);
            }
            TW.Reduce(TW.Load(acc), TW.Load(acc + lanes), TW.Load(acc + 2 * lanes), TW.Load(acc + 3 * lanes), TW.Load(acc + 4 * lanes),
                TW.Load(acc + 5 * lanes), TW.Load(acc + 6 * lanes), TW.Load(acc + 7 * lanes), TW.Load(acc + 8 * lanes), totals);
        }
    }

    /// <summary>Where <see cref="Rows"/> puts plane p's nine vector sums: the float64 totals[p·9 + tap], or (one plane) a wide plane's strip accumulators acc[tap·Lanes …].</summary>
    interface ISumsTarget
    {
        static abstract bool Totals { get; }
    }

    struct ToTotals : ISumsTarget
    {
        public static bool Totals => true;
    }

    struct ToStrip : ISumsTarget
    {
        public static bool Totals => false;
    }

    /// <summary>An input row's taps, zero for rows outside the plane (the padding).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void RowTaps<TV, TColumns>(in TColumns columns, float* xc, int ih, int inH, int inW, out TV t0, out TV t1, out TV t2)
        where TV : struct where TColumns : struct, IStripColumns<TColumns, TV>
    {
        if ((uint)ih < (uint)inH) columns.Taps(xc + (nint)ih * inW, out t0, out t1, out t2);
        else t0 = t1 = t2 = default;
    }

    /// <summary>
    /// The rows of one column strip of planes p &lt; count (x + p·xStride, dy + p·dyStride): each plane's nine vector
    /// sums (blocks of <c>TW.BlockRows</c> output rows, then single rows) go to <typeparamref name="TSums"/> — the float64
    /// totals for planes of one strip, the strip accumulators (count 1) for wider ones. Row stride <typeparamref name="TRows"/>.
    /// Each accumulator takes its products in output-row order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    static void Rows<TV, TW, TColumns, TRows, TSums>(TColumns columns, TV keep, float* x, nint xStride, float* dyPlanes, nint dyStride, int count,
        int inH, int inW, int outH, int outW, int ph, void* sums)
        where TV : struct where TW : struct, IStripWidth<TV>
        where TColumns : struct, IStripColumns<TColumns, TV> where TRows : struct, IRowStride where TSums : struct, ISumsTarget
    {
        for (int p = 0; p < count; p++)
        {
            float* xc = x + p * xStride, dy = dyPlanes + p * dyStride;
            TV a0 = default, a1 = default, a2 = default, a3 = default, a4 = default;
            TV a5 = default, a6 = default, a7 = default, a8 = default;
            int oh = 0;
            if (TW.BlockRows == 4)
            {
                for (; oh + 4 <= outH; oh += 4)
                {
                    float* d = dy + (nint)oh * outW;
                    var d0 = TColumns.Dy(d, keep);
                    var d1 = TColumns.Dy(d + 1 * (nint)outW, keep);
                    var d2 = TColumns.Dy(d + 2 * (nint)outW, keep);
                    var d3 = TColumns.Dy(d + 3 * (nint)outW, keep);
                    int ih = oh * TRows.Value - ph;
                    TV t0, t1, t2;
                    if (TRows.Value == 1)
                    {
                        // Input row ih + i feeds output row oh + j through kernel row i − j.
                        RowTaps(columns, xc, ih, inH, inW, out t0, out t1, out t2);
                        a0 = TW.Fma(d0, t0, a0); a1 = TW.Fma(d0, t1, a1); a2 = TW.Fma(d0, t2, a2);
                        RowTaps(columns, xc, ih + 1, inH, inW, out t0, out t1, out t2);
                        a3 = TW.Fma(d0, t0, a3); a4 = TW.Fma(d0, t1, a4); a5 = TW.Fma(d0, t2, a5);
                        a0 = TW.Fma(d1, t0, a0); a1 = TW.Fma(d1, t1, a1); a2 = TW.Fma(d1, t2, a2);
                        RowTaps(columns, xc, ih + 2, inH, inW, out t0, out t1, out t2);
                        a6 = TW.Fma(d0, t0, a6); a7 = TW.Fma(d0, t1, a7); a8 = TW.Fma(d0, t2, a8);
                        a3 = TW.Fma(d1, t0, a3); a4 = TW.Fma(d1, t1, a4); a5 = TW.Fma(d1, t2, a5);
                        a0 = TW.Fma(d2, t0, a0); a1 = TW.Fma(d2, t1, a1); a2 = TW.Fma(d2, t2, a2);
                        RowTaps(columns, xc, ih + 3, inH, inW, out t0, out t1, out t2);
                        a6 = TW.Fma(d1, t0, a6); a7 = TW.Fma(d1, t1, a7); a8 = TW.Fma(d1, t2, a8);
                        a3 = TW.Fma(d2, t0, a3); a4 = TW.Fma(d2, t1, a4); a5 = TW.Fma(d2, t2, a5);
                        a0 = TW.Fma(d3, t0, a0); a1 = TW.Fma(d3, t1, a1); a2 = TW.Fma(d3, t2, a2);
                        RowTaps(columns, xc, ih + 4, inH, inW, out t0, out t1, out t2);
                        a6 = TW.Fma(d2, t0, a6); a7 = TW.Fma(d2, t1, a7); a8 = TW.Fma(d2, t2, a8);
                        a3 = TW.Fma(d3, t0, a3); a4 = TW.Fma(d3, t1, a4); a5 = TW.Fma(d3, t2, a5);
                        RowTaps(columns, xc, ih + 5, inH, inW, out t0, out t1, out t2);
                        a6 = TW.Fma(d3, t0, a6); a7 = TW.Fma(d3, t1, a7); a8 = TW.Fma(d3, t2, a8);
                    }
                    else
                    {
                        // Input row ih + i feeds output row oh + j through kernel row i − 2j.
                        RowTaps(columns, xc, ih, inH, inW, out t0, out t1, out t2);
                        a0 = TW.Fma(d0, t0, a0); a1 = TW.Fma(d0, t1, a1); a2 = TW.Fma(d0, t2, a2);
                        RowTaps(columns, xc, ih + 1, inH, inW, out t0, out t1, out t2);
                        a3 = TW.Fma(d0, t0, a3); a4 = TW.Fma(d0, t1, a4); a5 = TW.Fma(d0, t2, a5);
                        RowTaps(columns, xc, ih + 2, inH, inW, out t0, out t1, out t2);
                        a6 = TW.Fma(d0, t0, a6); a7 = TW.Fma(d0, t1, a7); a8 = TW.Fma(d0, t2, a8);
                        a0 = TW.Fma(d1, t0, a0); a1 = TW.Fma(d1, t1, a1); a2 = TW.Fma(d1, t2, a2);
                        RowTaps(columns, xc, ih + 3, inH, inW, out t0, out t1, out t2);
                        a3 = TW.Fma(d1, t0, a3); a4 = TW.Fma(d1, t1, a4); a5 = TW.Fma(d1, t2, a5);
                        RowTaps(columns, xc, ih + 4, inH, inW, out t0, out t1, out t2);
                        a6 = TW.Fma(d1, t0, a6); a7 = TW.Fma(d1, t1, a7); a8 = TW.Fma(d1, t2, a8);
                        a0 = TW.Fma(d2, t0, a0); a1 = TW.Fma(d2, t1, a1); a2 = TW.Fma(d2, t2, a2);
                        RowTaps(columns, xc, ih + 5, inH, inW, out t0, out t1, out t2);
                        a3 = TW.Fma(d2, t0, a3); a4 = TW.Fma(d2, t1, a4); a5 = TW.Fma(d2, t2, a5);
                        RowTaps(columns, xc, ih + 6, inH, inW, out t0, out t1, out t2);
                        a6 = TW.Fma(d2, t0, a6); a7 = TW.Fma(d2, t1, a7); a8 = TW.Fma(d2, t2, a8);
                        a0 = TW.Fma(d3, t0, a0); a1 = TW.Fma(d3, t1, a1); a2 = TW.Fma(d3, t2, a2);
                        RowTaps(columns, xc, ih + 7, inH, inW, out t0, out t1, out t2);
                        a3 = TW.Fma(d3, t0, a3); a4 = TW.Fma(d3, t1, a4); a5 = TW.Fma(d3, t2, a5);
                        RowTaps(columns, xc, ih + 8, inH, inW, out t0, out t1, out t2);
                        a6 = TW.Fma(d3, t0, a6); a7 = TW.Fma(d3, t1, a7); a8 = TW.Fma(d3, t2, a8);
                    }
                }
            }
            else
            {
                for (; oh + 2 <= outH; oh += 2)
                {
                    float* d = dy + (nint)oh * outW;
                    var d0 = TColumns.Dy(d, keep);
                    var d1 = TColumns.Dy(d + 1 * (nint)outW, keep);
                    int ih = oh * TRows.Value - ph;
                    TV t0, t1, t2;
                    if (TRows.Value == 1)
                    {
                        // Input row ih + i feeds output row oh + j through kernel row i − j.
                        RowTaps(columns, xc, ih, inH, inW, out t0, out t1, out t2);
                        a0 = TW.Fma(d0, t0, a0); a1 = TW.Fma(d0, t1, a1); a2 = TW.Fma(d0, t2, a2);
                        RowTaps(columns, xc, ih + 1, inH, inW, out t0, out t1, out t2);
                        a3 = TW.Fma(d0, t0, a3); a4 = TW.Fma(d0, t1, a4); a5 = TW.Fma(d0, t2, a5);
                        a0 = TW.Fma(d1, t0, a0); a1 = TW.Fma(d1, t1, a1); a2 = TW.Fma(d1, t2, a2);
                        RowTaps(columns, xc, ih + 2, inH, inW, out t0, out t1, out t2);
                        a6 = TW.Fma(d0, t0, a6); a7 = TW.Fma(d0, t1, a7); a8 = TW.Fma(d0, t2, a8);
                        a3 = TW.Fma(d1, t0, a3); a4 = TW.Fma(d1, t1, a4); a5 = TW.Fma(d1, t2, a5);
                        RowTaps(columns, xc, ih + 3, inH, inW, out t0, out t1, out t2);
                        a6 = TW.Fma(d1, t0, a6); a7 = TW.Fma(d1, t1, a7); a8 = TW.Fma(d1, t2, a8);
                    }
                    else
                    {
                        // Input row ih + i feeds output row oh + j through kernel row i − 2j.
                        RowTaps(columns, xc, ih, inH, inW, out t0, out t1, out t2);
                        a0 = TW.Fma(d0, t0, a0); a1 = TW.Fma(d0, t1, a1); a2 = TW.Fma(d0, t2, a2);
                        RowTaps(columns, xc, ih + 1, inH, inW, out t0, out t1, out t2);
                        a3 = TW.Fma(d0, t0, a3); a4 = TW.Fma(d0, t1, a4); a5 = TW.Fma(d0, t2, a5);
                        RowTaps(columns, xc, ih + 2, inH, inW, out t0, out t1, out t2);
                        a6 = TW.Fma(d0, t0, a6); a7 = TW.Fma(d0, t1, a7); a8 = TW.Fma(d0, t2, a8);
                        a0 = TW.Fma(d1, t0, a0); a1 = TW.Fma(d1, t1, a1); a2 = TW.Fma(d1, t2, a2);
                        RowTaps(columns, xc, ih + 3, inH, inW, out t0, out t1, out t2);
                        a3 = TW.Fma(d1, t0, a3); a4 = TW.Fma(d1, t1, a4); a5 = TW.Fma(d1, t2, a5);
                        RowTaps(columns, xc, ih + 4, inH, inW, out t0, out t1, out t2);
                        a6 = TW.Fma(d1, t0, a6); a7 = TW.Fma(d1, t1, a7); a8 = TW.Fma(d1, t2, a8);
                    }
                }
            }
            for (; oh < outH; oh++)
            {
                var d0 = TColumns.Dy(dy + (nint)oh * outW, keep);
                int ih = oh * TRows.Value - ph;
                TV t0, t1, t2;
                if ((uint)(ih) < (uint)inH)
                {
                    columns.Taps(xc + (nint)(ih) * inW, out t0, out t1, out t2);
                    a0 = TW.Fma(d0, t0, a0); a1 = TW.Fma(d0, t1, a1); a2 = TW.Fma(d0, t2, a2);
                }
                if ((uint)(ih + 1) < (uint)inH)
                {
                    columns.Taps(xc + (nint)(ih + 1) * inW, out t0, out t1, out t2);
                    a3 = TW.Fma(d0, t0, a3); a4 = TW.Fma(d0, t1, a4); a5 = TW.Fma(d0, t2, a5);
                }
                if ((uint)(ih + 2) < (uint)inH)
                {
                    columns.Taps(xc + (nint)(ih + 2) * inW, out t0, out t1, out t2);
                    a6 = TW.Fma(d0, t0, a6); a7 = TW.Fma(d0, t1, a7); a8 = TW.Fma(d0, t2, a8);
                }
            }
            if (TSums.Totals) TW.Reduce(a0, a1, a2, a3, a4, a5, a6, a7, a8, (double*)sums + 9 * p);
            else
            {
                float* acc = (float*)sums;
                int lanes = TW.Lanes;
                TW.Store(TW.Add(TW.Load(acc + 0 * lanes), a0), acc + 0 * lanes);
                TW.Store(TW.Add(TW.Load(acc + 1 * lanes), a1), acc + 1 * lanes);
                TW.Store(TW.Add(TW.Load(acc + 2 * lanes), a2), acc + 2 * lanes);
                TW.Store(TW.Add(TW.Load(acc + 3 * lanes), a3), acc + 3 * lanes);
                TW.Store(TW.Add(TW.Load(acc + 4 * lanes), a4), acc + 4 * lanes);
                TW.Store(TW.Add(TW.Load(acc + 5 * lanes), a5), acc + 5 * lanes);
                TW.Store(TW.Add(TW.Load(acc + 6 * lanes), a6), acc + 6 * lanes);
                TW.Store(TW.Add(TW.Load(acc + 7 * lanes), a7), acc + 7 * lanes);
                TW.Store(TW.Add(TW.Load(acc + 8 * lanes), a8), acc + 8 * lanes);
            }
        }
    }
}
