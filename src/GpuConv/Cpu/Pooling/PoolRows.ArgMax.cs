using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Pooling;

/// <summary>
/// Max pooling's backward scatter with its windows' maxima found a vector of outputs at a time: each lane keeps the
/// scalar <c>ArgMax</c>'s state (m and its input's index) and takes its taps in the scalar order with the scalar test
/// "v &gt; m, or v NaN, or no tap inside taken yet", so every lane points at the input the scalar loop picks; the
/// gradients are then added one output at a time in ascending order, as the scalar scatter adds them. The taps are
/// <see cref="PoolRows"/>' forward rows (padding loaded as −∞, which only the "none taken yet" clause could take, and
/// it asks whether the lane's tap is inside). ResNet-50's 64 × 112 × 112 stem pool backward spent 9 ms on one thread
/// in the scalar ArgMax.
/// </summary>
internal static unsafe partial class PoolRows
{
    /// <summary>One plane of max pooling's dx by the scatter on <paramref name="lanes"/> lanes (<see cref="LanesFor"/>: 16 or 8).</summary>
    public static void MaxScatterPlane(in PoolGeometry g, float[] x, float[] dy, float[] dx, int plane, int lanes)
    {
        if (lanes == 16) MaxScatterPlane<Vector512<float>, PoolVector512>(g, x, dy, dx, plane);
        else MaxScatterPlane<Vector256<float>, PoolVector256>(g, x, dy, dx, plane);
    }

    /// <summary><see cref="MaxScatterPlane(in PoolGeometry, float[], float[], float[], int, int)"/> on a given tier (the tests run each tier the machine has).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MaxScatterPlane<TV, TVec>(in PoolGeometry g, float[] x, float[] dy, float[] dx, int plane)
        where TV : struct where TVec : struct, IPoolVector<TV>
    {
        int xb = plane * g.PlaneSize;
        long ob = (long)plane * g.OutD * g.OutH * g.OutW;
        Array.Clear(dx, xb, g.PlaneSize);
        fixed (float* px = x, pdy = dy, pdx = dx) MaxScatter<TV, TVec>(g, px + xb, pdy + ob, pdx + xb);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MaxScatter<TV, TVec>(in PoolGeometry g, float* xp, float* dyp, float* dxp)
        where TV : struct where TVec : struct, IPoolVector<TV>
    {
        int lanes = TVec.Lanes;
        var (lo, hi) = InteriorColumns(g);
        var padding = TVec.Splat(float.NegativeInfinity);
        var widths = TVec.Splat(BitConverter.Int32BitsToSingle(g.InW));
        int* rows = stackalloc int[g.KD * g.KH];
        int* at = stackalloc int[lanes];
        for (int od = 0; od < g.OutD; od++)
            for (int oh = 0; oh < g.OutH; oh++)
            {
                int n = WindowRows(g, od, oh, rows);
                float* dyrow = dyp + ((long)od * g.OutH + oh) * g.OutW;
                int done = 0; // outputs of this row already scattered (the last vector overlaps the one before it)
                for (int ow0 = 0; ; ow0 += lanes)
                {
                    if (ow0 + lanes > g.OutW) ow0 = g.OutW - lanes;
                    int col = ow0 * g.SW - g.PW;
                    var taps = new ArgMaxTaps<TV, TVec>(widths);
                    var columns = TVec.Columns(col, g.SW); // lane j's first tap's column
                    if (ow0 >= lo && ow0 + lanes <= hi)
                        for (int r = 0; r < n; r++)
                        {
                            taps.Row(rows[r], columns);
                            RowTaps<TV, TVec, ArgMaxTaps<TV, TVec>, Inside<TV, TVec>>(new Inside<TV, TVec>(xp + rows[r] + col), g.KW, g.SW, ref taps);
                        }
                    else
                    {
                        var elements = TVec.Columns(col, 1); // the masked loads' columns, element by element
                        for (int r = 0; r < n; r++)
                        {
                            taps.Row(rows[r], columns);
                            RowTaps<TV, TVec, ArgMaxTaps<TV, TVec>, Clipped<TV, TVec>>(new Clipped<TV, TVec>(xp + rows[r] + col, elements, widths, padding), g.KW, g.SW, ref taps);
                        }
                    }
                    TVec.Store(taps.At, (float*)at);
                    for (int j = done - ow0; j < lanes; j++)
                        if (at[j] >= 0) dxp[at[j]] += dyrow[ow0 + j];
                    done = ow0 + lanes;
                    if (done >= g.OutW) break;
                }
            }
    }

    /// <summary>
    /// The scalar ArgMax's state per lane: m, and at, the in-plane index of the input m came from (−1 before any tap inside
    /// was taken), as int bits; the current tap's index and column advance by one each tap, as the row's taps come in tw order.
    /// </summary>
    struct ArgMaxTaps<TV, TVec> : ITaps<TV> where TV : struct where TVec : struct, IPoolVector<TV>
    {
        TV m, at, index, column;
        readonly TV widths;

        public ArgMaxTaps(TV widths)
        {
            this.widths = widths;
            m = TVec.Splat(float.NegativeInfinity);
            at = TVec.Splat(BitConverter.Int32BitsToSingle(-1));
            index = column = m;
        }

        /// <summary>Starts window row <paramref name="offset"/> (its in-plane offset), lane j's first tap at column <paramref name="columns"/>[j].</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Row(int offset, TV columns)
        {
            column = columns;
            index = TVec.AddInt(columns, offset);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Take(TV v)
        {
            TVec.ArgMaxStep(v, index, column, widths, ref m, ref at);
            index = TVec.AddInt(index, 1);
            column = TVec.AddInt(column, 1);
        }

        public readonly TV At
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => at;
        }
    }
}
