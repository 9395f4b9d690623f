using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Pooling;

/// <summary>
/// Average pooling's backward with a vector of inputs at a time: each lane adds to its dx, from +0, the quotients
/// q = dy / divisor of the outputs whose windows hold it, in ascending output order — the terms, the order and the
/// rounding of the scalar scatter (<c>CpuPooling.ScatterPlane</c>), so the same bits.
/// <para>
/// An input row's candidate output rows (od, oh) are the same for every lane; for each in ascending order the row of
/// quotients is computed (one IEEE division per output, the divisor the scalar int product) and each lane adds its
/// candidate columns' quotients ow = first … last in order. A lane's first candidate column never runs more than a
/// column ahead of its left neighbour's, so the t-th terms of a vector lie within one vector of the quotient row from
/// the first lane's first + t: one load and a permute, and +0 in the lanes with fewer than t + 1 candidates, which
/// leaves a sum begun at +0 unchanged (it is never −0). ResNet-50's stem pool (3x3/2/1 on 64 × 112 × 112) took 4.5–6 ms
/// on one thread with the scalar scatter.
/// </para>
/// </summary>
internal static unsafe partial class PoolRows
{
    /// <summary>Widest input or output row the vector average backward takes (its column tables and quotient row live on the stack).</summary>
    internal const int MaxAverageScatterWidth = 4096;

    /// <summary>Whether <see cref="AverageScatterPlane(in PoolGeometry, float[], float[], int, int)"/> takes <paramref name="g"/> on a tier of <paramref name="lanes"/> lanes.</summary>
    internal static bool CoversAverageScatter(in PoolGeometry g, int lanes) =>
        lanes > 0 && g.InW <= MaxAverageScatterWidth && g.OutW <= MaxAverageScatterWidth && g.DlD == 1 && g.DlH == 1 && g.DlW == 1;

    /// <summary>One plane of average pooling's dx on <paramref name="lanes"/> lanes (<see cref="Lanes"/>: 16 or 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AverageScatterPlane(in PoolGeometry g, float[] dy, float[] dx, int plane, int lanes)
    {
        if (lanes == 16) AverageScatterPlane<Vector512<float>, PoolVector512>(g, dy, dx, plane);
        else AverageScatterPlane<Vector256<float>, PoolVector256>(g, dy, dx, plane);
    }

    /// <summary><see cref="AverageScatterPlane(in PoolGeometry, float[], float[], int, int)"/> on a given tier (the tests run each tier the machine has).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AverageScatterPlane<TV, TVec>(in PoolGeometry g, float[] dy, float[] dx, int plane)
        where TV : struct where TVec : struct, IPoolVector<TV>
    {
        int xb = plane * g.PlaneSize;
        long ob = (long)plane * g.OutD * g.OutH * g.OutW;
        Array.Clear(dx, xb, g.PlaneSize);
        fixed (float* pdy = dy, pdx = dx) AverageScatter<TV, TVec>(g, pdy + ob, pdx + xb);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void AverageScatter<TV, TVec>(in PoolGeometry g, float* dyp, float* dxp)
        where TV : struct where TVec : struct, IPoolVector<TV>
    {
        int lanes = TVec.Lanes;
        // Per input column: its first candidate output column (at most OutW, so the loads below stay in the quotient
        // row's padding) and how many there are; the lanes past the row repeat the last first with none.
        int* first = stackalloc int[g.InW + lanes];
        int* count = stackalloc int[g.InW + lanes];
        int most = 0;
        for (int iw = 0; iw < g.InW; iw++)
        {
            var (f, l) = CpuPooling.Candidates(iw, g.SW, g.PW, g.KW, 1, g.OutW);
            first[iw] = Math.Min(f, g.OutW);
            count[iw] = Math.Max(l - f + 1, 0);
            most = Math.Max(most, count[iw]);
        }
        for (int iw = g.InW; iw < g.InW + lanes; iw++)
        {
            first[iw] = first[g.InW - 1];
            count[iw] = 0;
        }
        // Quotient rows, kept while consecutive input rows share them (a 3x3/1 pool's output row serves three): slot
        // (od mod depths, oh mod rows) holds row (od, oh). An input is in the windows of at most ⌈k / s⌉ consecutive
        // outputs a dimension, so an input row's candidates never share a slot. Where the slots would take more than
        // QuotientFloats of stack, one slot, refilled for each candidate.
        int rowFloats = g.OutW + most + lanes; // a row and room for its last vector's loads
        int depths = (g.KD + g.SD - 1) / g.SD, rows = (g.KH + g.SH - 1) / g.SH;
        if ((long)depths * rows * rowFloats > QuotientFloats) depths = rows = 1;
        float* q = stackalloc float[depths * rows * rowFloats];
        long* held = stackalloc long[depths * rows];
        for (int i = 0; i < depths * rows; i++) held[i] = -1;
        for (int id = 0; id < g.InD; id++)
        {
            var (d0, d1) = CpuPooling.Candidates(id, g.SD, g.PD, g.KD, 1, g.OutD);
            for (int ih = 0; ih < g.InH; ih++)
            {
                var (h0, h1) = CpuPooling.Candidates(ih, g.SH, g.PH, g.KH, 1, g.OutH);
                float* dxrow = dxp + (id * g.InH + ih) * g.InW;
                for (int od = d0; od <= d1; od++)
                    for (int oh = h0; oh <= h1; oh++)
                    {
                        long row = (long)od * g.OutH + oh;
                        int slot = od % depths * rows + oh % rows;
                        float* qrow = q + slot * rowFloats;
                        if (held[slot] != row)
                        {
                            QuotientRow<TV, TVec>(g, dyp + row * g.OutW, od, oh, qrow);
                            held[slot] = row;
                        }
                        for (int iw0 = 0; iw0 < g.InW; iw0 += lanes)
                        {
                            int n = Math.Min(lanes, g.InW - iw0), f0 = first[iw0];
                            var relative = TVec.AddInt(TVec.Load((float*)(first + iw0)), -f0);
                            var counts = TVec.Load((float*)(count + iw0));
                            var sum = n == lanes ? TVec.Load(dxrow + iw0) : TVec.LoadFirst(dxrow + iw0, n);
                            for (int t = 0; t < most; t++) sum = TVec.Add(sum, TVec.TakeBelow(qrow + f0 + t, relative, counts, t));
                            if (n == lanes) TVec.Store(sum, dxrow + iw0);
                            else TVec.StoreFirst(sum, dxrow + iw0, n);
                        }
                    }
            }
        }
    }

    /// <summary>Floats of quotient rows kept on the stack at most (64 KiB).</summary>
    const int QuotientFloats = 16384;

    /// <summary>q[ow] = dy[ow] / divisor(od, oh, ow) for output row (od, oh): the row's d·h factor times each column's w factor, the scalar int product.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void QuotientRow<TV, TVec>(in PoolGeometry g, float* dyrow, int od, int oh, float* q)
        where TV : struct where TVec : struct, IPoolVector<TV>
    {
        int lanes = TVec.Lanes;
        var rowFactor = TVec.Splat(RowFactor(g, CpuPooling.Window(od, g.SD, g.PD, g.KD, g.InD), CpuPooling.Window(oh, g.SH, g.PH, g.KH, g.InH)));
        for (int ow0 = 0; ow0 < g.OutW; ow0 += lanes)
        {
            int n = Math.Min(lanes, g.OutW - ow0);
            var divisor = Divisors<TV, TVec>(g, rowFactor, ow0 * g.SW - g.PW);
            if (n == lanes) TVec.Store(TVec.Divide(TVec.Load(dyrow + ow0), divisor), q + ow0);
            else TVec.StoreFirst(TVec.Divide(TVec.LoadFirst(dyrow + ow0, n), divisor), q + ow0, n); // lanes past the row may divide by 0: not stored
        }
    }
}
