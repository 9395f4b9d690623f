using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Pooling;

/// <summary>
/// Max pooling's backward scatter with its windows' maxima found a vector of outputs at a time, each lane pointing at the
/// input the scalar <c>ArgMax</c> picks ("the first tap inside the input, then each tap with v &gt; m or v NaN"), and
/// the gradients then added one output at a time in ascending order, as the scalar scatter adds them. The taps are
/// <see cref="PoolRows"/>' forward rows (padding loaded as −∞, which v &gt; m never takes).
/// <para>
/// The first inside tap depends only on the geometry, so each lane starts with its index (−1 where the window has no
/// tap inside) and m = −∞: where that tap is −∞ the scalar loop takes it and m stays −∞, the same state. A vector first
/// runs the steps without the NaN clause — m = MAXPS(v, m), a two-cycle chain, beside the index blend — and sums its
/// taps; only a vector whose sum is NaN (a NaN tap, or ∞ beside −∞) is taken again with the NaN clause. ResNet-50's
/// 64 × 112 × 112 stem pool backward spent 7.5 ms on one thread in the scalar ArgMax.
/// </para>
/// </summary>
internal static unsafe partial class PoolRows
{
    /// <summary>One plane of max pooling's dx by the scatter on <paramref name="lanes"/> lanes (<see cref="LanesFor"/>: 16 or 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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
        // A run's maxima are stored first, then scattered: read right after its vector's store, each index waited for the
        // store (a 64-byte store does not forward to a 4-byte load), which cost as much as the argmax.
        int* run = stackalloc int[lanes + ScatterRun];
        var none = TVec.Splat(BitConverter.Int32BitsToSingle(-1));
        for (int od = 0; od < g.OutD; od++)
            for (int oh = 0; oh < g.OutH; oh++)
            {
                int n = WindowRows(g, od, oh, rows);
                float* dyrow = dyp + ((long)od * g.OutH + oh) * g.OutW;
                for (int r0 = 0; r0 < g.OutW; r0 += ScatterRun)
                {
                    int r1 = Math.Min(r0 + ScatterRun, g.OutW);
                    int* at = run + lanes - r0; // at[ow] for ow in [r0 − lanes, r1)
                    for (int ow0 = r0; ; ow0 += lanes)
                    {
                        if (ow0 + lanes > r1) ow0 = r1 - lanes; // overlaps the vector before it (or the run before): the same maxima
                        int col = ow0 * g.SW - g.PW;
                        var columns = TVec.Columns(col, g.SW); // lane j's first tap's column
                        var first = n > 0 ? TVec.FirstInside(columns, g.KW, g.InW, rows[0]) : none;
                        bool inside = ow0 >= lo && ow0 + lanes <= hi;
                        var probed = ArgMaxBlock<TV, TVec, ProbedArgMaxTaps<TV, TVec>>(g, xp, rows, n, col, columns, first, inside, widths, padding);
                        TVec.Store(probed.Clean ? probed.At : ArgMaxBlock<TV, TVec, ArgMaxTaps<TV, TVec>>(g, xp, rows, n, col, columns, first, inside, widths, padding).At, (float*)(at + ow0));
                        if (ow0 + lanes >= r1) break;
                    }
                    for (int ow = r0; ow < r1; ow++)
                        if (at[ow] >= 0) dxp[at[ow]] += dyrow[ow];
                }
            }
    }

    /// <summary>Outputs of a row whose maxima are found before they are scattered.</summary>
    const int ScatterRun = 256;

    /// <summary>The argmax of the outputs from column <paramref name="col"/> on of the output row whose window rows are <paramref name="rows"/>[0 … n − 1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TTaps ArgMaxBlock<TV, TVec, TTaps>(in PoolGeometry g, float* xp, int* rows, int n, int col, TV columns, TV first, bool inside, TV widths, TV padding)
        where TV : struct where TVec : struct, IPoolVector<TV> where TTaps : struct, IArgMaxTaps<TV>
    {
        var taps = default(TTaps);
        taps.Start(first);
        if (inside)
            for (int r = 0; r < n; r++)
            {
                taps.Row(TVec.AddInt(columns, rows[r]));
                RowTaps<TV, TVec, TTaps, Inside<TV, TVec>>(new Inside<TV, TVec>(xp + rows[r] + col), g.KW, g.SW, ref taps);
            }
        else
        {
            var elements = TVec.Columns(col, 1); // the masked loads' columns, element by element
            for (int r = 0; r < n; r++)
            {
                taps.Row(TVec.AddInt(columns, rows[r]));
                RowTaps<TV, TVec, TTaps, Clipped<TV, TVec>>(new Clipped<TV, TVec>(xp + rows[r] + col, elements, widths, padding), g.KW, g.SW, ref taps);
            }
        }
        return taps;
    }

    interface IArgMaxTaps<TV> : ITaps<TV> where TV : struct
    {
        /// <summary>m = −∞, at = each lane's first tap inside the input (−1 for none), int lanes.</summary>
        void Start(TV first);
        /// <summary>Starts a window row: its first tap's in-plane index per lane (the taps come in tw order, one column apart).</summary>
        void Row(TV index);
        /// <summary>The in-plane index of each lane's maximum, int lanes.</summary>
        TV At { get; }
    }

    /// <summary>The scalar rule, NaN clause and all: the retake of a vector whose probe is NaN.</summary>
    struct ArgMaxTaps<TV, TVec> : IArgMaxTaps<TV> where TV : struct where TVec : struct, IPoolVector<TV>
    {
        TV m, at, index;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Start(TV first)
        {
            m = TVec.Splat(float.NegativeInfinity);
            at = first;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Row(TV index) => this.index = index;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Take(TV v)
        {
            TVec.ArgMaxStep(v, index, ref m, ref at);
            index = TVec.AddInt(index, 1);
        }

        public readonly TV At
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => at;
        }
    }

    /// <summary>The steps without the NaN clause, beside a sum of the taps that is NaN where a tap was (or ∞ met −∞): when it is not, at is the scalar rule's.</summary>
    struct ProbedArgMaxTaps<TV, TVec> : IArgMaxTaps<TV> where TV : struct where TVec : struct, IPoolVector<TV>
    {
        TV m, at, index, probe;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Start(TV first)
        {
            m = TVec.Splat(float.NegativeInfinity);
            at = first;
            probe = TVec.Splat(0f);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Row(TV index) => this.index = index;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Take(TV v)
        {
            TVec.ArgMaxGreater(v, index, ref m, ref at);
            probe = TVec.Add(probe, v);
            index = TVec.AddInt(index, 1);
        }

        public readonly TV At
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => at;
        }

        public readonly bool Clean
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => !TVec.AnyNaN(probe);
        }
    }
}
