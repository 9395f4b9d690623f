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
            Parallel.For(0, g.Planes, plane => Plane(g, x, y, plane, max));
    }

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
        void One(int plane)
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
        if ((long)planes * spatial < ParallelThreshold) for (int p = 0; p < planes; p++) One(p);
        else Parallel.For(0, planes, One);
    }
}
