namespace GpuConv.Cpu;

/// <summary>
/// The pools on host arrays, the definitions kernels/pool.ptx matches bit for bit (see <see cref="PoolGeometry"/>
/// for max and average pooling, <see cref="GlobalAverage"/> for the global average's summation order).
/// Planes run in parallel for large tensors; each output is computed by one thread in the defined order, so the
/// result does not depend on the split.
/// </summary>
internal static class CpuPooling
{
    /// <summary>Threads of one global-average block on the GPU, and so the number of partial sums of the CPU definition.</summary>
    public const int GlobalAverageThreads = 256;

    /// <summary>Output elements below which a call stays on the calling thread.</summary>
    const long ParallelThreshold = 1 << 16;

    public static void Max(in PoolGeometry g, float[] x, float[] y) => Run(g, x, y, max: true);

    public static void Average(in PoolGeometry g, float[] x, float[] y) => Run(g, x, y, max: false);

    static void Run(PoolGeometry g, float[] x, float[] y, bool max)
    {
        if (x.Length != (long)g.Planes * g.PlaneSize || y.Length != g.OutputCount)
            throw new ArgumentException($"pool: x has {x.Length} elements (expected {(long)g.Planes * g.PlaneSize}) and y {y.Length} (expected {g.OutputCount}).", nameof(y));
        if (g.OutputCount < ParallelThreshold || g.Planes == 1)
            for (int plane = 0; plane < g.Planes; plane++) Plane(g, x, y, plane, max);
        else
            RunParallel(g, x, y, max);
    }

    // Its own method: a lambda's captures are allocated at the entry of the method holding it, so in Run the closure
    // would cost every serial (small, warm) call too.
    static void RunParallel(PoolGeometry g, float[] x, float[] y, bool max) =>
        Parallel.For(0, g.Planes, plane => Plane(g, x, y, plane, max));

    static void Plane(in PoolGeometry g, float[] x, float[] y, int plane, bool max)
    {
        int xb = plane * g.PlaneSize;
        long o = (long)plane * g.OutD * g.OutH * g.OutW;
        for (int od = 0; od < g.OutD; od++)
            for (int oh = 0; oh < g.OutH; oh++)
                for (int ow = 0; ow < g.OutW; ow++, o++)
                    y[o] = max ? MaxAt(g, x, xb, od, oh, ow) : AverageAt(g, x, xb, od, oh, ow);
    }

    static float MaxAt(in PoolGeometry g, float[] x, int xb, int od, int oh, int ow)
    {
        float m = float.NegativeInfinity;
        for (int td = 0, id = od * g.SD - g.PD; td < g.KD; td++, id += g.DlD)
        {
            if ((uint)id >= (uint)g.InD) continue;
            for (int th = 0, ih = oh * g.SH - g.PH; th < g.KH; th++, ih += g.DlH)
            {
                if ((uint)ih >= (uint)g.InH) continue;
                int row = xb + (id * g.InH + ih) * g.InW;
                for (int tw = 0, iw = ow * g.SW - g.PW; tw < g.KW; tw++, iw += g.DlW)
                {
                    if ((uint)iw >= (uint)g.InW) continue;
                    float v = x[row + iw];
                    // PyTorch's test: a NaN replaces the maximum and nothing replaces a NaN.
                    if (v > m || float.IsNaN(v)) m = v;
                }
            }
        }
        return m;
    }

    static float AverageAt(in PoolGeometry g, float[] x, int xb, int od, int oh, int ow)
    {
        var (d0, d1, sizeD) = Window(od, g.SD, g.PD, g.KD, g.InD);
        var (h0, h1, sizeH) = Window(oh, g.SH, g.PH, g.KH, g.InH);
        var (w0, w1, sizeW) = Window(ow, g.SW, g.PW, g.KW, g.InW);
        int divisor = g.CountIncludePad ? sizeD * sizeH * sizeW : (d1 - d0) * (h1 - h0) * (w1 - w0);
        float sum = 0f;
        for (int id = d0; id < d1; id++)
            for (int ih = h0; ih < h1; ih++)
            {
                int row = xb + (id * g.InH + ih) * g.InW;
                for (int iw = w0; iw < w1; iw++) sum += x[row + iw];
            }
        return sum / divisor;
    }

    /// <summary>PyTorch's average window: [start, end) clipped to the input, and its size clipped to the padded input only.</summary>
    static (int Start, int End, int PaddedSize) Window(int o, int s, int p, int k, int size)
    {
        int start = o * s - p;
        int end = Math.Min(start + k, size + p);
        int padded = end - start;
        return (Math.Max(start, 0), Math.Min(end, size), padded);
    }

    /// <summary>
    /// dx of max pooling: dx[i] = +0 plus dy[o] for every output o whose window's maximum is input i, in ascending o
    /// (PyTorch's scatter order, so the same bits). The maximum's position is recomputed from x as PyTorch's forward picks
    /// it: the first tap inside the input, then each tap with v &gt; m or v NaN. A window with no tap inside the input
    /// passes its gradient nowhere.
    /// </summary>
    public static void MaxBackward(in PoolGeometry g, float[] x, float[] dy, float[] dx) => RunBackward(g, x, dy, dx, max: true);

    /// <summary>
    /// dx of average pooling: dx[i] = +0 plus dy[o] / divisor(o) for every output o whose window holds input i, in
    /// ascending o (PyTorch's scatter order and its per-output quotient, so the same bits).
    /// </summary>
    public static void AverageBackward(in PoolGeometry g, float[] dy, float[] dx) => RunBackward(g, [], dy, dx, max: false);

    static void RunBackward(PoolGeometry g, float[] x, float[] dy, float[] dx, bool max)
    {
        long input = (long)g.Planes * g.PlaneSize;
        if (dx.Length != input || dy.Length != g.OutputCount || (max && x.Length != input))
            throw new ArgumentException($"pool backward: dx has {dx.Length} elements (expected {input}), dy {dy.Length} (expected {g.OutputCount}){(max ? $", x {x.Length}" : "")}.", nameof(dx));
        if (input < ParallelThreshold || g.Planes == 1)
            for (int plane = 0; plane < g.Planes; plane++) BackwardPlane(g, x, dy, dx, plane, max);
        else
            RunBackwardParallel(g, x, dy, dx, max);
    }

    // Its own method, as RunParallel: the closure is allocated only when the parallel branch runs.
    static void RunBackwardParallel(PoolGeometry g, float[] x, float[] dy, float[] dx, bool max) =>
        Parallel.For(0, g.Planes, plane => BackwardPlane(g, x, dy, dx, plane, max));

    static void BackwardPlane(in PoolGeometry g, float[] x, float[] dy, float[] dx, int plane, bool max)
    {
        int xb = plane * g.PlaneSize;
        long ob = (long)plane * g.OutD * g.OutH * g.OutW;
        for (int id = 0; id < g.InD; id++)
        {
            var (d0, d1) = Candidates(id, g.SD, g.PD, g.KD, g.DlD, g.OutD);
            for (int ih = 0; ih < g.InH; ih++)
            {
                var (h0, h1) = Candidates(ih, g.SH, g.PH, g.KH, g.DlH, g.OutH);
                for (int iw = 0; iw < g.InW; iw++)
                {
                    var (w0, w1) = Candidates(iw, g.SW, g.PW, g.KW, g.DlW, g.OutW);
                    int self = (id * g.InH + ih) * g.InW + iw;
                    float sum = 0f;
                    for (int od = d0; od <= d1; od++)
                    {
                        if ((id + g.PD - od * g.SD) % g.DlD != 0) continue;
                        for (int oh = h0; oh <= h1; oh++)
                        {
                            if ((ih + g.PH - oh * g.SH) % g.DlH != 0) continue;
                            for (int ow = w0; ow <= w1; ow++)
                            {
                                if ((iw + g.PW - ow * g.SW) % g.DlW != 0) continue;
                                long o = ob + ((long)od * g.OutH + oh) * g.OutW + ow;
                                if (!max) sum += dy[o] / AverageDivisor(g, od, oh, ow);
                                else if (ArgMax(g, x, xb, od, oh, ow) == self) sum += dy[o];
                            }
                        }
                    }
                    dx[xb + self] = sum;
                }
            }
        }
    }

    /// <summary>
    /// The outputs o whose window can hold input i in one dimension: o·s − p + t·dl = i for a tap t &lt; k, so
    /// o from ceil((i + p − (k − 1)·dl) / s) to floor((i + p) / s), clipped to [0, out − 1] (the caller checks dl divides).
    /// </summary>
    internal static (int First, int Last) Candidates(int i, int s, int p, int k, int dl, int outSize)
    {
        int reach = i + p - (k - 1) * dl;
        int first = reach <= 0 ? 0 : (reach + s - 1) / s;
        int last = Math.Min((i + p) / s, outSize - 1);
        return (first, last);
    }

    /// <summary>The in-plane index of window (od, oh, ow)'s maximum as PyTorch picks it; −1 when no tap is inside the input.</summary>
    static int ArgMax(in PoolGeometry g, float[] x, int xb, int od, int oh, int ow)
    {
        float m = float.NegativeInfinity;
        int at = -1;
        for (int td = 0, id = od * g.SD - g.PD; td < g.KD; td++, id += g.DlD)
        {
            if ((uint)id >= (uint)g.InD) continue;
            for (int th = 0, ih = oh * g.SH - g.PH; th < g.KH; th++, ih += g.DlH)
            {
                if ((uint)ih >= (uint)g.InH) continue;
                for (int tw = 0, iw = ow * g.SW - g.PW; tw < g.KW; tw++, iw += g.DlW)
                {
                    if ((uint)iw >= (uint)g.InW) continue;
                    int flat = (id * g.InH + ih) * g.InW + iw;
                    float v = x[xb + flat];
                    // PyTorch starts its index at the first tap inside the input, so a window of −∞ points there.
                    if (v > m || float.IsNaN(v) || at < 0)
                    {
                        m = v;
                        at = flat;
                    }
                }
            }
        }
        return at;
    }

    /// <summary>The average's divisor of output (od, oh, ow) (see <see cref="PoolGeometry"/>).</summary>
    static int AverageDivisor(in PoolGeometry g, int od, int oh, int ow)
    {
        var (d0, d1, sizeD) = Window(od, g.SD, g.PD, g.KD, g.InD);
        var (h0, h1, sizeH) = Window(oh, g.SH, g.PH, g.KH, g.InH);
        var (w0, w1, sizeW) = Window(ow, g.SW, g.PW, g.KW, g.InW);
        return g.CountIncludePad ? sizeD * sizeH * sizeW : (d1 - d0) * (h1 - h0) * (w1 - w0);
    }

    /// <summary>
    /// y[plane] = mean of x's <paramref name="spatial"/> elements of each plane, in the GPU block's order: partial sum t
    /// (t &lt; <paramref name="threads"/>, a power of two) adds elements t, t + threads, t + 2·threads, … in turn from +0;
    /// then a tree: for half = threads/2, threads/4, …, 1, partial[t] += partial[t + half] for t &lt; half; the mean is
    /// partial[0] / spatial (one IEEE division; spatial converted to float with round-to-nearest).
    /// </summary>
    public static void GlobalAverage(float[] x, float[] y, int planes, long spatial, int threads = GlobalAverageThreads)
    {
        if (threads < 1 || (threads & (threads - 1)) != 0) throw new ArgumentException($"threads must be a power of two, got {threads}.", nameof(threads));
        if (x.Length != planes * spatial || y.Length != planes)
            throw new ArgumentException($"global average: x has {x.Length} elements (expected {planes * spatial}) and y {y.Length} (expected {planes}).", nameof(y));
        if ((long)planes * spatial < ParallelThreshold)
            for (int p = 0; p < planes; p++) GlobalAveragePlane(x, y, p, spatial, threads);
        else
            GlobalAverageParallel(x, y, planes, spatial, threads);
    }

    // Its own method, as RunParallel: the closure is allocated only when the parallel branch runs.
    static void GlobalAverageParallel(float[] x, float[] y, int planes, long spatial, int threads) =>
        Parallel.For(0, planes, plane => GlobalAveragePlane(x, y, plane, spatial, threads));

    static void GlobalAveragePlane(float[] x, float[] y, int plane, long spatial, int threads)
    {
        Span<float> partial = stackalloc float[threads];
        long b = plane * spatial;
        for (int t = 0; t < threads; t++)
        {
            float sum = 0f;
            for (long s = t; s < spatial; s += threads) sum += x[b + s];
            partial[t] = sum;
        }
        for (int half = threads / 2; half > 0; half /= 2)
            for (int t = 0; t < half; t++) partial[t] += partial[t + half];
        y[plane] = partial[0] / (float)spatial;
    }
}
