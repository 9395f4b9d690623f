using System.Runtime.CompilerServices;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.Pooling;

/// <summary>
/// Adaptive max and average pooling on host arrays, the definitions kernels/adaptive_pool.ptx matches bit for bit (see
/// <see cref="AdaptivePoolGeometry"/>). Planes run in parallel for large tensors on the CPU backend's workers, split as
/// <see cref="CpuPooling"/> splits them; each output (each dx element) is computed by one thread in the defined
/// order, so the result does not depend on the split.
/// </summary>
internal static class CpuAdaptivePooling
{
    /// <summary>Adaptive max pooling of every plane into <paramref name="y"/>.</summary>
    public static void Max(in AdaptivePoolGeometry g, float[] x, float[] y, CpuWorkers? workers = null) => Run(g, x, y, max: true, workers);

    /// <summary>Adaptive average pooling of every plane into <paramref name="y"/>.</summary>
    public static void Average(in AdaptivePoolGeometry g, float[] x, float[] y, CpuWorkers? workers = null) => Run(g, x, y, max: false, workers);

    static void Run(in AdaptivePoolGeometry g, float[] x, float[] y, bool max, CpuWorkers? workers)
    {
        if (x.Length != (long)g.Planes * g.PlaneSize || y.Length != g.OutputCount)
            throw new ArgumentException($"adaptive pool: x has {x.Length} elements (expected {(long)g.Planes * g.PlaneSize}) and y {y.Length} (expected {g.OutputCount}).", nameof(y));
        var loop = new Loop(g, x, y, [], max, backward: false, CpuPooling.Tasks(g.Planes, g.OutputCount, workers));
        CpuPooling.Split(loop.Tasks, loop, workers);
    }

    /// <summary>dx of adaptive max pooling: each dy to its window's maximum (recomputed from x as the forward picks it), summed in ascending output order.</summary>
    public static void MaxBackward(in AdaptivePoolGeometry g, float[] x, float[] dy, float[] dx, CpuWorkers? workers = null) => RunBackward(g, x, dy, dx, max: true, workers);

    /// <summary>dx of adaptive average pooling: dx[i] = +0 plus dy[o] / kd / kh / kw over the windows o holding i, in ascending o.</summary>
    public static void AverageBackward(in AdaptivePoolGeometry g, float[] dy, float[] dx, CpuWorkers? workers = null) => RunBackward(g, [], dy, dx, max: false, workers);

    static void RunBackward(in AdaptivePoolGeometry g, float[] x, float[] dy, float[] dx, bool max, CpuWorkers? workers)
    {
        long input = (long)g.Planes * g.PlaneSize;
        if (dx.Length != input || dy.Length != g.OutputCount || (max && x.Length != input))
            throw new ArgumentException($"adaptive pool backward: dx has {dx.Length} elements (expected {input}), dy {dy.Length} (expected {g.OutputCount}){(max ? $", x {x.Length}" : "")}.", nameof(dx));
        var loop = new Loop(g, x, dy, dx, max, backward: true, CpuPooling.Tasks(g.Planes, input, workers));
        CpuPooling.Split(loop.Tasks, loop, workers);
    }

    /// <summary>One task: its run of planes, forward (x → y) or backward (dy → dx, x for max).</summary>
    readonly struct Loop(AdaptivePoolGeometry g, float[] x, float[] y, float[] dx, bool max, bool backward, int tasks) : ICpuLoop
    {
        public int Tasks => tasks;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            var (first, end) = CpuPooling.PlanesOf(task, tasks, g.Planes);
            for (int plane = first; plane < end; plane++)
                if (backward) BackwardPlane(g, x, y, dx, plane, max);
                else ForwardPlane(g, x, y, plane, max);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ForwardPlane(in AdaptivePoolGeometry g, float[] x, float[] y, int plane, bool max)
    {
        int xb = plane * g.PlaneSize, yb = plane * g.OutPlaneSize;
        for (int od = 0; od < g.OutD; od++)
            for (int oh = 0; oh < g.OutH; oh++)
                for (int ow = 0; ow < g.OutW; ow++)
                    y[yb + (od * g.OutH + oh) * g.OutW + ow] = max
                        ? x[xb + ArgMax(g, x, xb, od, oh, ow)]
                        : Average(g, x, xb, od, oh, ow);
    }

    /// <summary>The in-plane index of output (od, oh, ow)'s maximum, as <see cref="AdaptivePoolGeometry"/> defines it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int ArgMax(in AdaptivePoolGeometry g, float[] x, int xb, int od, int oh, int ow)
    {
        int d0 = AdaptivePoolGeometry.Start(od, g.InD, g.OutD), d1 = AdaptivePoolGeometry.End(od, g.InD, g.OutD);
        int h0 = AdaptivePoolGeometry.Start(oh, g.InH, g.OutH), h1 = AdaptivePoolGeometry.End(oh, g.InH, g.OutH);
        int w0 = AdaptivePoolGeometry.Start(ow, g.InW, g.OutW), w1 = AdaptivePoolGeometry.End(ow, g.InW, g.OutW);
        float m = float.NegativeInfinity;
        int at = (d0 * g.InH + h0) * g.InW + w0;
        for (int d = d0; d < d1; d++)
            for (int h = h0; h < h1; h++)
            {
                int row = (d * g.InH + h) * g.InW;
                for (int w = w0; w < w1; w++)
                {
                    float v = x[xb + row + w];
                    if (v > m || float.IsNaN(v)) { m = v; at = row + w; }
                }
            }
        return at;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Average(in AdaptivePoolGeometry g, float[] x, int xb, int od, int oh, int ow)
    {
        int d0 = AdaptivePoolGeometry.Start(od, g.InD, g.OutD), d1 = AdaptivePoolGeometry.End(od, g.InD, g.OutD);
        int h0 = AdaptivePoolGeometry.Start(oh, g.InH, g.OutH), h1 = AdaptivePoolGeometry.End(oh, g.InH, g.OutH);
        int w0 = AdaptivePoolGeometry.Start(ow, g.InW, g.OutW), w1 = AdaptivePoolGeometry.End(ow, g.InW, g.OutW);
        float sum = 0f;
        for (int d = d0; d < d1; d++)
            for (int h = h0; h < h1; h++)
            {
                int row = xb + (d * g.InH + h) * g.InW;
                for (int w = w0; w < w1; w++) sum += x[row + w];
            }
        return Divide(sum, g, od, oh, ow);
    }

    /// <summary>
    /// v / kd / kh / kw, three IEEE divisions by the window's extents in turn (each converted to fp32 as the kernel's
    /// cvt.rn does): PyTorch's CPU order, which a single division by their product does not always match.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Divide(float v, in AdaptivePoolGeometry g, int od, int oh, int ow)
    {
        v /= AdaptivePoolGeometry.End(od, g.InD, g.OutD) - AdaptivePoolGeometry.Start(od, g.InD, g.OutD);
        v /= AdaptivePoolGeometry.End(oh, g.InH, g.OutH) - AdaptivePoolGeometry.Start(oh, g.InH, g.OutH);
        v /= AdaptivePoolGeometry.End(ow, g.InW, g.OutW) - AdaptivePoolGeometry.Start(ow, g.InW, g.OutW);
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void BackwardPlane(in AdaptivePoolGeometry g, float[] x, float[] dy, float[] dx, int plane, bool max)
    {
        int xb = plane * g.PlaneSize, ob = plane * g.OutPlaneSize;
        if (max)
        {
            // Scatter in ascending output order: each dx element then receives +0 and its windows' dy in ascending o,
            // the same sum, in the same order, as the kernel's gather.
            Array.Clear(dx, xb, g.PlaneSize);
            for (int od = 0; od < g.OutD; od++)
                for (int oh = 0; oh < g.OutH; oh++)
                    for (int ow = 0; ow < g.OutW; ow++)
                        dx[xb + ArgMax(g, x, xb, od, oh, ow)] += dy[ob + (od * g.OutH + oh) * g.OutW + ow];
            return;
        }
        for (int id = 0; id < g.InD; id++)
        {
            int d0 = AdaptivePoolGeometry.FirstOutput(id, g.InD, g.OutD), d1 = AdaptivePoolGeometry.EndOutput(id, g.InD, g.OutD);
            for (int ih = 0; ih < g.InH; ih++)
            {
                int h0 = AdaptivePoolGeometry.FirstOutput(ih, g.InH, g.OutH), h1 = AdaptivePoolGeometry.EndOutput(ih, g.InH, g.OutH);
                for (int iw = 0; iw < g.InW; iw++)
                {
                    int w0 = AdaptivePoolGeometry.FirstOutput(iw, g.InW, g.OutW), w1 = AdaptivePoolGeometry.EndOutput(iw, g.InW, g.OutW);
                    float sum = 0f;
                    for (int od = d0; od < d1; od++)
                        for (int oh = h0; oh < h1; oh++)
                            for (int ow = w0; ow < w1; ow++)
                                sum += Divide(dy[ob + (od * g.OutH + oh) * g.OutW + ow], g, od, oh, ow);
                    dx[xb + (id * g.InH + ih) * g.InW + iw] = sum;
                }
            }
        }
    }
}
