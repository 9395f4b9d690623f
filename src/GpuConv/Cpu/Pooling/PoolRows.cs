using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Pooling;

/// <summary>
/// The forward pools and the global average's partial sums with one output (one partial sum) per vector lane, giving the
/// scalar definitions' bits (<see cref="PoolGeometry"/>, <see cref="CpuPooling.GlobalAverage"/>): each lane takes its own
/// taps in the scalar order with the scalar operations.
/// <para>
/// Forward: every output row goes a vector at a time, the last vector overlapping the one before it rather than leaving
/// a scalar tail. Rows (and depth slices) in the padding are skipped for all lanes alike, as the scalar loops skip them.
/// Stride 1 loads each tap's inputs contiguously; stride 2 splits 2·lanes consecutive inputs into even and odd columns.
/// Max keeps m = MAXPS(v, m), which is exactly the scalar v &gt; m step (equal values, −0 against +0 included, keep the
/// earlier), beside a sum of the taps that is NaN only where a tap was NaN (or ∞ met −∞); a vector whose sum is a
/// number is m, and the rare other is taken again keeping the last NaN taken as well: that NaN where there was one,
/// else m — the scalar rule "v &gt; m or v NaN". Both pools reach the border columns too: a vector
/// there loads its taps in the padding as −∞ for max, which the v &gt; m step never takes, and as +0 for average, which
/// leaves the sum unchanged, exactly as the scalar loops skip those taps (masked loads: nothing outside the row is
/// read). ResNet-50's 64 × 112 × 112 pool 3x3/2 took 0.30 ms on one thread with scalar border columns and the NaN vector
/// kept on every tap, 0.19 now. Average adds the taps to +0 in the scalar order and divides, one IEEE division per lane,
/// a border lane by its own divisor.
/// </para>
/// </summary>
internal static unsafe partial class PoolRows
{
    /// <summary>Lanes of the active tier: 16 with AVX-512, 8 with AVX2, 0 where neither runs (the scalar definitions do).</summary>
    public static int Lanes => PoolVector512.IsSupported ? 16 : PoolVector256.IsSupported ? 8 : 0;

    /// <summary>
    /// The lanes <see cref="Plane"/> runs <paramref name="g"/> with: the tier's, or AVX2's 8 on AVX-512 where rows are too
    /// narrow for 16 (a 28-wide input pooled 3x3/2 has 14 output columns; 64 × 32 × 32 max-pooled ran 0.50 ms on the
    /// scalar loop, 0.03–0.05 on 8 lanes); 0 where neither covers it.
    /// </summary>
    public static int LanesFor(in PoolGeometry g) =>
        Covers(g, Lanes) ? Lanes : Lanes == 16 && Covers(g, 8) ? 8 : 0;

    /// <summary>
    /// Whether <see cref="Plane"/> takes <paramref name="g"/> on a tier of <paramref name="lanes"/> lanes: undilated w,
    /// stride 1 (any kernel) or 2 (kernel ≥ 2: a stride-2 kernel of 1 would read one float before its first tap), a
    /// vector's worth of output columns, and at most <see cref="MaxWindowRows"/> window rows (their offsets live on the stack).
    /// </summary>
    internal static bool Covers(in PoolGeometry g, int lanes) =>
        lanes > 0 && g.DlW == 1 && (g.SW == 1 || (g.SW == 2 && g.KW >= 2)) && g.OutW >= lanes && (long)g.KD * g.KH <= MaxWindowRows;

    /// <summary>Window rows (kernel d × h) a plane's vectors take at most: 16 KiB of row offsets on the stack.</summary>
    internal const int MaxWindowRows = 4096;

    /// <summary>
    /// The output columns [Lo, Hi) whose windows lie wholly inside the input along w (dilation 1): ow·s − p ≥ 0 and
    /// ow·s − p + k ≤ in. Their windows are unclipped, so an average's w factor is k for padded and clipped sizes alike.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // into the planes' optimized loops (see WindowRows)
    public static (int Lo, int Hi) InteriorColumns(in PoolGeometry g)
    {
        int lo = (g.PW + g.SW - 1) / g.SW;
        int last = g.InW - g.KW + g.PW;
        int hi = last < 0 ? 0 : Math.Min(g.OutW, last / g.SW + 1);
        return (lo, Math.Max(hi, lo));
    }

    /// <summary>One plane of the forward pool on <paramref name="lanes"/> lanes (<see cref="LanesFor"/>: 16 or 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Plane(in PoolGeometry g, float[] x, float[] y, int plane, bool max, int lanes)
    {
        if (lanes == 16) Plane<Vector512<float>, PoolVector512>(g, x, y, plane, max);
        else Plane<Vector256<float>, PoolVector256>(g, x, y, plane, max);
    }

    /// <summary><see cref="Plane(in PoolGeometry, float[], float[], int, bool, int)"/> on a given tier (the tests run each tier the machine has).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Plane<TV, TVec>(in PoolGeometry g, float[] x, float[] y, int plane, bool max)
        where TV : struct where TVec : struct, IPoolVector<TV>
    {
        int xb = plane * g.PlaneSize;
        long ob = (long)plane * g.OutD * g.OutH * g.OutW;
        fixed (float* px = x, py = y)
        {
            if (!max) AveragePlane<TV, TVec>(g, px + xb, py + ob);
            else MaxPlane<TV, TVec>(g, px + xb, py + ob);
        }
    }

    /// <summary>A plane of max pooling, every column in vectors; a vector reaching the border loads its padding as −∞.</summary>
    /// <remarks>Compiled optimized at once, as <see cref="Plane{TV, TVec}"/> is (its stack array keeps it from being inlined there).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MaxPlane<TV, TVec>(in PoolGeometry g, float* xp, float* yp)
        where TV : struct where TVec : struct, IPoolVector<TV>
    {
        int lanes = TVec.Lanes;
        var (lo, hi) = InteriorColumns(g);
        var padding = TVec.Splat(float.NegativeInfinity);
        var widths = TVec.Splat(BitConverter.Int32BitsToSingle(g.InW)); // the int in every lane, for the masked loads' compares
        // The window rows inside the input are the same for every vector of an output row: found once per row.
        int* rows = stackalloc int[g.KD * g.KH];
        for (int od = 0; od < g.OutD; od++)
            for (int oh = 0; oh < g.OutH; oh++)
            {
                int n = WindowRows(g, od, oh, rows);
                float* yrow = yp + ((long)od * g.OutH + oh) * g.OutW;
                for (int ow0 = 0; ; ow0 += lanes)
                {
                    if (ow0 + lanes > g.OutW) ow0 = g.OutW - lanes; // the last vector overlaps: the same outputs, the same bits
                    bool inside = ow0 >= lo && ow0 + lanes <= hi;
                    var probed = MaxBlock<TV, TVec, ProbedMaxTaps<TV, TVec>>(g, xp, rows, n, ow0, inside, widths, padding);
                    var m = probed.Clean ? probed.Result : MaxBlock<TV, TVec, MaxTaps<TV, TVec>>(g, xp, rows, n, ow0, inside, widths, padding).Result;
                    TVec.Store(m, yrow + ow0);
                    if (ow0 + lanes >= g.OutW) break;
                }
            }
    }

    /// <summary>Outputs ow0 … ow0 + lanes − 1 of the output row whose window rows are <paramref name="rows"/>[0 … n − 1], taken into <typeparamref name="TTaps"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TTaps MaxBlock<TV, TVec, TTaps>(in PoolGeometry g, float* xp, int* rows, int n, int ow0, bool inside, TV widths, TV padding)
        where TV : struct where TVec : struct, IPoolVector<TV> where TTaps : struct, IMaxTaps<TV>
    {
        var taps = default(TTaps);
        taps.Start();
        int col = ow0 * g.SW - g.PW;
        if (inside)
            for (int r = 0; r < n; r++) RowTaps<TV, TVec, TTaps, Inside<TV, TVec>>(new Inside<TV, TVec>(xp + rows[r] + col), g.KW, g.SW, ref taps);
        else
        {
            var columns = TVec.Columns(col, 1);
            for (int r = 0; r < n; r++)
                RowTaps<TV, TVec, TTaps, Clipped<TV, TVec>>(new Clipped<TV, TVec>(xp + rows[r] + col, columns, widths, padding), g.KW, g.SW, ref taps);
        }
        return taps;
    }

    /// <summary>The in-plane offsets of output row (od, oh)'s window rows inside the input, in the scalar order; returns their count.</summary>
    /// <remarks>
    /// Inlined into the planes' optimized loops: called apart, once an output row, it ran in its first JIT tier (each
    /// geometry field a call) for the process's first second or so, and ResNet-50's stem max pool took 0.39–0.41 ms
    /// there against 0.16–0.19 once it was rejitted.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int WindowRows(in PoolGeometry g, int od, int oh, int* rows)
    {
        int n = 0;
        for (int td = 0, id = od * g.SD - g.PD; td < g.KD; td++, id += g.DlD)
        {
            if ((uint)id >= (uint)g.InD) continue;
            for (int th = 0, ih = oh * g.SH - g.PH; th < g.KH; th++, ih += g.DlH)
                if ((uint)ih < (uint)g.InH) rows[n++] = (id * g.InH + ih) * g.InW;
        }
        return n;
    }

    /// <summary>
    /// A plane of average pooling, every column in vectors. A vector reaching the border loads its padding as +0, which
    /// leaves a sum begun at +0 unchanged (it is never −0), and divides each lane by its own divisor: the row's d·h factor
    /// times the lane's w factor (<see cref="IPoolVector{TV}.Overlaps"/>), exactly the scalar int product converted
    /// (both small integers).
    /// </summary>
    /// <remarks>Compiled apart from <see cref="Plane{TV, TVec}"/>: inlined there, 128 × 56 × 56 pooled 2x2/2 ran 82 µs rather than 68.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void AveragePlane<TV, TVec>(in PoolGeometry g, float* xp, float* yp)
        where TV : struct where TVec : struct, IPoolVector<TV>
    {
        int lanes = TVec.Lanes;
        var (lo, hi) = InteriorColumns(g);
        var padding = TVec.Splat(0f);
        var widths = TVec.Splat(BitConverter.Int32BitsToSingle(g.InW)); // the int in every lane, for the masked loads' compares
        int* rows = stackalloc int[g.KD * g.KH];
        bool borders = lo > 0 || hi < g.OutW;
        for (int od = 0; od < g.OutD; od++)
            for (int oh = 0; oh < g.OutH; oh++)
            {
                int n = borders ? WindowRows(g, od, oh, rows) : 0; // for the border vectors' masked loads
                float* yrow = yp + ((long)od * g.OutH + oh) * g.OutW;
                var d = CpuPooling.Window(od, g.SD, g.PD, g.KD, g.InD);
                var h = CpuPooling.Window(oh, g.SH, g.PH, g.KH, g.InH);
                int rowFactor = RowFactor(g, d, h);
                var interiorDivisor = TVec.Splat(rowFactor * g.KW); // the scalar code's int product, converted once
                for (int ow0 = 0; ; ow0 += lanes)
                {
                    if (ow0 + lanes > g.OutW) ow0 = g.OutW - lanes; // the last vector overlaps: the same outputs, the same bits
                    var taps = new SumTaps<TV, TVec> { Sum = TVec.Splat(0f) };
                    int col = ow0 * g.SW - g.PW;
                    TV divisor;
                    if (ow0 >= lo && ow0 + lanes <= hi)
                    {
                        for (int id = d.Start; id < d.End; id++)
                            for (int ih = h.Start; ih < h.End; ih++)
                                RowTaps<TV, TVec, SumTaps<TV, TVec>, Inside<TV, TVec>>(new Inside<TV, TVec>(xp + (id * g.InH + ih) * g.InW + col), g.KW, g.SW, ref taps);
                        divisor = interiorDivisor;
                    }
                    else
                    {
                        var columns = TVec.Columns(col, 1);
                        for (int r = 0; r < n; r++)
                            RowTaps<TV, TVec, SumTaps<TV, TVec>, Clipped<TV, TVec>>(new Clipped<TV, TVec>(xp + rows[r] + col, columns, widths, padding), g.KW, g.SW, ref taps);
                        divisor = Divisors<TV, TVec>(g, TVec.Splat(rowFactor), col);
                    }
                    TVec.Store(TVec.Divide(taps.Sum, divisor), yrow + ow0);
                    if (ow0 + lanes >= g.OutW) break;
                }
            }
    }

    /// <summary>The average's d·h factor of an output row from its d and h <see cref="CpuPooling.Window"/>s: their padded sizes with count_include_pad, else their clipped ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int RowFactor(in PoolGeometry g, (int Start, int End, int PaddedSize) d, (int Start, int End, int PaddedSize) h) =>
        g.CountIncludePad ? d.PaddedSize * h.PaddedSize : (d.End - d.Start) * (h.End - h.Start);

    /// <summary>
    /// Per lane, the average's divisor of the outputs whose windows start at columns col, col + s, …: the row's factor
    /// times the window's columns inside the padded row (count_include_pad) or the row — the scalar int product (both
    /// small integers, so their float product is exact).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TV Divisors<TV, TVec>(in PoolGeometry g, TV rowFactor, int col) where TV : struct where TVec : struct, IPoolVector<TV>
    {
        int from = g.CountIncludePad ? -g.PW : 0, to = g.CountIncludePad ? g.InW + g.PW : g.InW;
        return TVec.Multiply(rowFactor, TVec.Overlaps(TVec.Columns(col, g.SW), g.KW, from, to));
    }

    /// <summary>
    /// Takes one window row's taps tw = 0 … k − 1 in order, lane j's tap tw being the row's element at offset j·s + tw
    /// from the block's first column. Reads nothing past the last lane's last tap: stride 2 splits pairs at offset tw for
    /// even tw below k − 1, and an odd kernel's last tap is the odd half of the pair at offset k − 2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void RowTaps<TV, TVec, TTaps, TLoad>(TLoad load, int k, int s, ref TTaps taps)
        where TV : struct where TVec : struct, IPoolVector<TV> where TTaps : struct, ITaps<TV> where TLoad : struct, IRowLoad<TV>
    {
        int lanes = TVec.Lanes;
        if (s == 2 && k == 3)
        {
            // ResNet's stem pool, spelled out: the loops below with their counts known.
            TVec.Split(load.At(0), load.At(lanes), out var even, out var odd);
            taps.Take(even);
            taps.Take(odd);
            taps.Take(TVec.OddsOf(load.At(1), load.At(1 + lanes)));
            return;
        }
        if (s == 1)
        {
            for (int tw = 0; tw < k; tw++) taps.Take(load.At(tw));
            return;
        }
        int t = 0;
        for (; t + 1 < k; t += 2)
        {
            TVec.Split(load.At(t), load.At(t + lanes), out var even, out var odd);
            taps.Take(even);
            taps.Take(odd);
        }
        if (t < k) taps.Take(TVec.OddsOf(load.At(t - 1), load.At(t - 1 + lanes)));
    }

    /// <summary>The vector of a window row's elements from an offset relative to the block's first column.</summary>
    interface IRowLoad<TV> where TV : struct
    {
        TV At(int offset);
    }

    /// <summary>A block whose taps all lie inside the row: plain loads from its first column.</summary>
    readonly struct Inside<TV, TVec>(float* first) : IRowLoad<TV> where TV : struct where TVec : struct, IPoolVector<TV>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV At(int offset) => TVec.Load(first + offset);
    }

    /// <summary>
    /// A block reaching the row's border: masked loads from its first column on, <paramref name="padding"/> for the
    /// columns outside [0, width) (<paramref name="columns"/>: the lanes' columns at offset 0; <paramref name="widths"/>:
    /// the row's width in every lane, both as <see cref="IPoolVector{TV}.Columns"/>' bits).
    /// </summary>
    [method: MethodImpl(MethodImplOptions.AggressiveInlining)]
    readonly struct Clipped<TV, TVec>(float* first, TV columns, TV widths, TV padding) : IRowLoad<TV> where TV : struct where TVec : struct, IPoolVector<TV>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV At(int offset) => TVec.LoadInside(first + offset, columns, offset, widths, padding);
    }

    interface ITaps<TV> where TV : struct
    {
        void Take(TV v);
    }

    interface IMaxTaps<TV> : ITaps<TV> where TV : struct
    {
        /// <summary>Sets the state before the first tap: m = −∞, no NaN taken.</summary>
        void Start();
        /// <summary>The window's maximum by the scalar rule.</summary>
        TV Result { get; }
    }

    /// <summary>The max's two running vectors: m by the v &gt; m rule, and the last NaN taken (+0 while there is none).</summary>
    struct MaxTaps<TV, TVec> : IMaxTaps<TV> where TV : struct where TVec : struct, IPoolVector<TV>
    {
        TV m, nan;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Start()
        {
            m = TVec.Splat(float.NegativeInfinity);
            nan = TVec.Splat(0f);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Take(TV v)
        {
            m = TVec.GreaterOrKeep(v, m);
            nan = TVec.NaNOrKeep(v, nan);
        }

        public readonly TV Result
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => TVec.NaNOrKeep(nan, m);
        }
    }

    /// <summary>m by the v &gt; m rule, and a sum of the taps that is NaN where a tap was (or ∞ met −∞): when it is not, m is the result.</summary>
    struct ProbedMaxTaps<TV, TVec> : IMaxTaps<TV> where TV : struct where TVec : struct, IPoolVector<TV>
    {
        TV m, probe;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Start()
        {
            m = TVec.Splat(float.NegativeInfinity);
            probe = TVec.Splat(0f);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Take(TV v)
        {
            m = TVec.GreaterOrKeep(v, m);
            probe = TVec.Add(probe, v);
        }

        public readonly TV Result
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => m;
        }

        public readonly bool Clean
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => !TVec.AnyNaN(probe);
        }
    }

    struct SumTaps<TV, TVec> : ITaps<TV> where TV : struct where TVec : struct, IPoolVector<TV>
    {
        public TV Sum;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Take(TV v) => Sum = TVec.Add(Sum, v);
    }

    /// <summary>
    /// The means of planes [0, <paramref name="planes"/>) of the global average (see <see cref="CpuPooling.GlobalAverage"/>):
    /// y[p] = the total of plane p divided by (float)spatial. Planes of at most <paramref name="threads"/> elements
    /// (squeeze-and-excitation pools on 7 × 7 and 14 × 14 planes, a classifier's pool) take
    /// <see cref="SmallTotal{TV, TVec}"/> on either tier, inlined into the planes' loop so that consecutive planes overlap
    /// in the core: on AVX-512 the partial sums' scratch round trip cost 3× the sums themselves (EfficientNet-B0's
    /// 1152 × 7 × 7 pools, 19.5 µs in the network against ONNX Runtime's 6). Larger planes take
    /// <see cref="GlobalAverageTotal{TV, TVec}"/> (four chains of partial sums where every one is live) on AVX-512 and
    /// <see cref="GlobalAverageTotal256"/> on AVX2.
    /// <paramref name="partial"/> holds <paramref name="threads"/> floats of scratch; needs <paramref name="threads"/> ≥ <see cref="Lanes"/>.
    /// </summary>
    /// <remarks>
    /// Compiled optimized at once: a network calls its head pool once a run, so tiering would leave it in its first
    /// forms for dozens of runs (ResNet-50's 2048 × 7 × 7 pool took 1.5–2.7 ms in its OSR form after 2 s of runs, 8–13 µs
    /// optimized).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GlobalAverages(float* x, float* y, int planes, long spatial, int threads, float* partial)
    {
        float count = spatial;
        if (PoolVector512.IsSupported)
        {
            if (IsSmall(spatial, threads, PoolVector512.Lanes))
            {
                int n = (int)spatial;
                for (int p = 0; p < planes; p++) y[p] = SmallTotal<Vector512<float>, PoolVector512>(x + (long)p * n, n) / count;
                return;
            }
            for (int p = 0; p < planes; p++) y[p] = GlobalAverageTotal<Vector512<float>, PoolVector512>(x + p * spatial, spatial, threads, partial) / count;
            return;
        }
        if (IsSmall(spatial, threads, PoolVector256.Lanes))
        {
            int n = (int)spatial;
            for (int p = 0; p < planes; p++) y[p] = SmallTotal<Vector256<float>, PoolVector256>(x + (long)p * n, n) / count;
            return;
        }
        for (int p = 0; p < planes; p++) y[p] = GlobalAverageTotal256(x + p * spatial, spatial, threads, partial) / count;
    }

    /// <summary>Whether a plane takes <see cref="SmallTotal{TV, TVec}"/>: one element per partial sum at most, 32 vectors of them at most.</summary>
    static bool IsSmall(long spatial, int threads, int lanes) => spatial <= threads && spatial <= 32 * lanes;

    /// <summary>
    /// The global average's partial sums then its tree, returning the plane's total (see
    /// <see cref="CpuPooling.GlobalAverage"/>): partial sums t … t + lanes − 1 are one vector, adding x[r·threads + t …]
    /// for r = 0, 1, … in turn; in the last round, lanes past the plane add +0 (a masked load), which leaves a partial
    /// sum unchanged, since a sum begun at +0 is never −0. The tree's levels with half ≥ lanes are vector adds of
    /// partial[t …] and partial[t + half …], skipping those whose second operand lies wholly in partial sums that are
    /// still +0 (t ≥ spatial had no element: adding them changes nothing, by the same rule); the last levels are
    /// <see cref="IPoolVector{TV}.Tree"/>. <paramref name="partial"/> holds <paramref name="threads"/> floats of scratch.
    /// Needs <paramref name="threads"/> ≥ <see cref="Lanes"/> (both powers of two).
    /// </summary>
    public static float GlobalAverageTotal(float* x, long spatial, int threads, float* partial) =>
        PoolVector512.IsSupported
            ? GlobalAverageTotal<Vector512<float>, PoolVector512>(x, spatial, threads, partial)
            : GlobalAverageTotal256(x, spatial, threads, partial);

    /// <summary>
    /// <see cref="GlobalAverageTotal(float*, long, int, float*)"/> on AVX2: small planes take <see cref="SmallTotal{TV, TVec}"/>,
    /// the others <see cref="GlobalAverageTotal{TV, TVec}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float GlobalAverageTotal256(float* x, long spatial, int threads, float* partial) =>
        IsSmall(spatial, threads, PoolVector256.Lanes)
            ? SmallTotal<Vector256<float>, PoolVector256>(x, (int)spatial)
            : GlobalAverageTotal<Vector256<float>, PoolVector256>(x, spatial, threads, partial);

    /// <summary>
    /// The partial sums and the whole tree where every partial sum is live (spatial ≥ threads ≥ 4·lanes): four vectors of
    /// partial sums at a time, four independent chains each adding in its own order (one chain a vector, every element a
    /// load of its own, ran 32 × 112 × 112 at ~40 GB/s from L2). The four chains leave their loop together, when the
    /// group's last round would pass the plane; each then takes at most one more element, whole, masked or none (+0,
    /// which leaves a sum begun at +0 unchanged), exactly the rounds the one-chain loop takes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float FourChainTotal<TV, TVec>(float* x, long spatial, int threads, float* partial)
        where TV : struct where TVec : struct, IPoolVector<TV>
    {
        int lanes = TVec.Lanes, group = 4 * lanes;
        for (int t0 = 0; t0 < threads; t0 += group)
        {
            TV a0 = TVec.Splat(0f), a1 = a0, a2 = a0, a3 = a0;
            long s = t0;
            for (; s + group <= spatial; s += threads)
            {
                a0 = TVec.Add(a0, TVec.Load(x + s));
                a1 = TVec.Add(a1, TVec.Load(x + s + lanes));
                a2 = TVec.Add(a2, TVec.Load(x + s + 2 * lanes));
                a3 = TVec.Add(a3, TVec.Load(x + s + 3 * lanes));
            }
            if (s < spatial)
            {
                a0 = TVec.Add(a0, Part<TV, TVec>(x, s, spatial));
                a1 = TVec.Add(a1, Part<TV, TVec>(x, s + lanes, spatial));
                a2 = TVec.Add(a2, Part<TV, TVec>(x, s + 2 * lanes, spatial));
                a3 = TVec.Add(a3, Part<TV, TVec>(x, s + 3 * lanes, spatial));
            }
            TVec.Store(a0, partial + t0);
            TVec.Store(a1, partial + t0 + lanes);
            TVec.Store(a2, partial + t0 + 2 * lanes);
            TVec.Store(a3, partial + t0 + 3 * lanes);
        }
        for (int half = threads / 2; half >= lanes; half /= 2)
            for (int t = 0; t < half; t += lanes)
                TVec.Store(TVec.Add(TVec.Load(partial + t), TVec.Load(partial + t + half)), partial + t);
        return TVec.Tree(TVec.Load(partial));
    }

    /// <summary>x[s …] for the lanes inside the plane, +0 past it (nothing read there).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TV Part<TV, TVec>(float* x, long s, long spatial) where TV : struct where TVec : struct, IPoolVector<TV> =>
        s + TVec.Lanes <= spatial ? TVec.Load(x + s) : s < spatial ? TVec.LoadFirst(x + s, (int)(spatial - s)) : TVec.Splat(0f);

    /// <summary>
    /// The total of a plane of n ≤ threads elements, n ≤ 32·lanes, held in registers: partial sum t is +0 + x[t] for
    /// t &lt; n and +0 beyond, so in vectors P_k = x[k·lanes …] (the last one masked, +0 past the plane), V of them, the
    /// vector levels of the tree that do anything are Q_k = P_k + P_k+H for the largest power of two H &lt; V (k + H &lt; V;
    /// Q_k = P_k for the other k &lt; H), then every level over the H vectors Q, then <see cref="IPoolVector{TV}.Tree"/>:
    /// the adds of <see cref="GlobalAverageTotal{TV, TVec}"/>, operands in the same order. The +0 that starts each
    /// partial sum is added once, to the root vector, not to each x: a sum in round-to-nearest is −0 only when both
    /// operands are −0, so a tree of the raw x gives, at every node, the bits of the tree of the +0-started ones except
    /// −0 where those give +0; +0 + root maps the one to the other.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float SmallTotal<TV, TVec>(float* x, int n) where TV : struct where TVec : struct, IPoolVector<TV>
    {
        int v = (n + TVec.Lanes - 1) / TVec.Lanes;
        TV root;
        if (v <= 1) root = Leaf<TV, TVec>(x, 0, n);
        else if (v == 2) root = TVec.Add(Leaf<TV, TVec>(x, 0, n), Leaf<TV, TVec>(x, 1, n));
        else
        {
            // Over H leaves the tree's level half pairs k with k + half, so its root is, in quarters of H,
            // (Q_o + Q_o+H/2) + (Q_o+H/4 + Q_o+3H/4) for o = 0 (H = 4), then o = 0, 1 (H = 8), then o = 0, 2, 1, 3 (H = 16).
            int h = v <= 4 ? 2 : v <= 8 ? 4 : v <= 16 ? 8 : 16;
            if (h == 2) root = TVec.Add(Q<TV, TVec>(x, 0, h, v, n), Q<TV, TVec>(x, 1, h, v, n));
            else if (h == 4) root = Quad<TV, TVec>(x, 0, h, v, n);
            else if (h == 8) root = TVec.Add(Quad<TV, TVec>(x, 0, h, v, n), Quad<TV, TVec>(x, 1, h, v, n));
            else root = TVec.Add(TVec.Add(Quad<TV, TVec>(x, 0, h, v, n), Quad<TV, TVec>(x, 2, h, v, n)),
                                 TVec.Add(Quad<TV, TVec>(x, 1, h, v, n), Quad<TV, TVec>(x, 3, h, v, n)));
        }
        return TVec.Tree(TVec.Add(TVec.Splat(0f), root));
    }

    /// <summary>The subtree of the H leaves Q whose index is o modulo H/4: (Q_o + Q_o+H/2) + (Q_o+H/4 + Q_o+3H/4).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TV Quad<TV, TVec>(float* x, int o, int h, int v, int n) where TV : struct where TVec : struct, IPoolVector<TV> =>
        TVec.Add(TVec.Add(Q<TV, TVec>(x, o, h, v, n), Q<TV, TVec>(x, o + h / 2, h, v, n)),
                 TVec.Add(Q<TV, TVec>(x, o + h / 4, h, v, n), Q<TV, TVec>(x, o + 3 * h / 4, h, v, n)));

    /// <summary>Q_k = P_k + P_k+H where vector k + H is in the plane, else P_k (the first live level of the tree).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TV Q<TV, TVec>(float* x, int k, int h, int v, int n) where TV : struct where TVec : struct, IPoolVector<TV> =>
        k + h < v ? TVec.Add(Leaf<TV, TVec>(x, k, n), Leaf<TV, TVec>(x, k + h, n)) : Leaf<TV, TVec>(x, k, n);

    /// <summary>Vector k of a small plane: x[k·lanes …], masked (+0 past the plane) where the plane ends inside it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TV Leaf<TV, TVec>(float* x, int k, int n) where TV : struct where TVec : struct, IPoolVector<TV>
    {
        int at = k * TVec.Lanes;
        return at + TVec.Lanes <= n ? TVec.Load(x + at) : TVec.LoadFirst(x + at, n - at);
    }

    /// <summary><see cref="GlobalAverageTotal(float*, long, int, float*)"/> on a given tier.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float GlobalAverageTotal<TV, TVec>(float* x, long spatial, int threads, float* partial)
        where TV : struct where TVec : struct, IPoolVector<TV>
    {
        int lanes = TVec.Lanes;
        if (spatial >= threads && threads >= 4 * lanes) return FourChainTotal<TV, TVec>(x, spatial, threads, partial);
        // Partial sums from `live` on hold +0 (no element reached them), so vectors there are not even written.
        long live = Math.Min(spatial, threads);
        for (int t0 = 0; t0 < live; t0 += lanes)
        {
            var sum = TVec.Splat(0f);
            long s = t0;
            for (; s + lanes <= spatial; s += threads) sum = TVec.Add(sum, TVec.Load(x + s));
            if (s < spatial) sum = TVec.Add(sum, TVec.LoadFirst(x + s, (int)(spatial - s)));
            TVec.Store(sum, partial + t0);
        }
        int half = threads / 2;
        for (; half >= lanes; half /= 2)
        {
            for (int t = 0; t < half && t + half < live; t += lanes)
                TVec.Store(TVec.Add(TVec.Load(partial + t), TVec.Load(partial + t + half)), partial + t);
            live = Math.Min(live, half);
        }
        return TVec.Tree(live > 0 ? TVec.Load(partial) : TVec.Splat(0f));
    }
}
