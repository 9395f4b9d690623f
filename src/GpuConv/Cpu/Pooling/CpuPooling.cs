using System.Runtime.CompilerServices;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.Pooling;

/// <summary>
/// The pools on host arrays, the definitions kernels/pool.ptx matches bit for bit (see <see cref="PoolGeometry"/>
/// for max and average pooling, <see cref="GlobalAverage"/> for the global average's summation order).
/// Planes run in parallel for large tensors, on the CPU backend's workers (struct loop bodies: a warm call allocates
/// nothing on any thread); each output is computed by one thread in the defined order, so the result does not depend
/// on the split. Without workers (an engine with no CPU backend, the tests' direct calls) every plane runs on the
/// calling thread.
/// </summary>
internal static unsafe class CpuPooling
{
    /// <summary>Threads of one global-average block on the GPU, and so the number of partial sums of the CPU definition.</summary>
    public const int GlobalAverageThreads = 256;

    /// <summary>Elements (outputs; inputs for the backward) below which a call stays on the calling thread.</summary>
    internal const long ParallelThreshold = 1 << 16;

    /// <summary>
    /// Elements (outputs; inputs for the backward) a task holds at least, where planes are that small: otherwise a task
    /// is one plane, as Parallel.For's iterations were (a 56 × 56 max-pool plane: some 75 µs on one core with the scalar loops, 5–7 µs with the vector rows), so that a
    /// late or preempted worker holds up the caller for little work; a 7 × 7 global-average plane (0.2 µs) would be
    /// hardly more than the claim, so such planes go in runs.
    /// </summary>
    const int MinTaskElements = 2048;

    /// <summary>
    /// Max pooling of every plane. <paramref name="vector"/> false runs the scalar definition everywhere (the tests'
    /// and benchmarks' reference); true (the engine) runs <see cref="PoolRows"/> where it applies, with the same bits.
    /// </summary>
    public static void Max(in PoolGeometry g, float[] x, float[] y, CpuWorkers? workers = null, bool vector = true) => Run(g, x, y, max: true, workers, vector);

    /// <summary>Average pooling of every plane; <paramref name="vector"/> as for <see cref="Max"/>.</summary>
    public static void Average(in PoolGeometry g, float[] x, float[] y, CpuWorkers? workers = null, bool vector = true) => Run(g, x, y, max: false, workers, vector);

    static void Run(in PoolGeometry g, float[] x, float[] y, bool max, CpuWorkers? workers, bool vector)
    {
        if (x.Length != (long)g.Planes * g.PlaneSize || y.Length != g.OutputCount)
            throw new ArgumentException($"pool: x has {x.Length} elements (expected {(long)g.Planes * g.PlaneSize}) and y {y.Length} (expected {g.OutputCount}).", nameof(y));
        var loop = new ForwardLoop(g, x, y, max, vector ? PoolRows.LanesFor(g) : 0, Tasks(g.Planes, g.OutputCount, workers));
        Split(loop.Tasks, loop, workers);
    }

    /// <summary>
    /// How many tasks <paramref name="planes"/> planes of <paramref name="elements"/> elements in all are cut into: 1
    /// (the calling thread) below <see cref="ParallelThreshold"/>, with one plane or without workers; else one plane
    /// each, or runs of whole planes of about <see cref="MinTaskElements"/> elements where planes are smaller.
    /// </summary>
    internal static int Tasks(int planes, long elements, CpuWorkers? workers) =>
        workers is not { Threads: > 1 } || elements < ParallelThreshold || planes < 2 ? 1 : (int)Math.Min(planes, elements / MinTaskElements);

    /// <summary>Task t of <paramref name="tasks"/>'s planes: [t·planes/tasks, (t+1)·planes/tasks).</summary>
    internal static (int First, int End) PlanesOf(int task, int tasks, int planes) =>
        ((int)((long)planes * task / tasks), (int)((long)planes * (task + 1) / tasks));

    /// <summary>Runs the loop's tasks: on the calling thread when there is one, else on the workers (the struct is copied, no allocation).</summary>
    internal static void Split<T>(int tasks, T loop, CpuWorkers? workers) where T : struct, ICpuLoop
    {
        if (tasks == 1 || workers is null) for (int t = 0; t < tasks; t++) loop.Run(t, null!);
        else workers.For(tasks, loop);
    }

    /// <summary>The forward pools' task: its run of planes, each output in the defined order.</summary>
    /// <remarks><paramref name="lanes"/>: <see cref="PoolRows.LanesFor"/>'s, or 0 for the scalar definition.</remarks>
    readonly struct ForwardLoop(PoolGeometry g, float[] x, float[] y, bool max, int lanes, int tasks) : ICpuLoop
    {
        public int Tasks => tasks;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            var (first, end) = PlanesOf(task, tasks, g.Planes);
            for (int plane = first; plane < end; plane++)
                if (lanes > 0) PoolRows.Plane(g, x, y, plane, max, lanes);
                else Plane(g, x, y, plane, max);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Plane(in PoolGeometry g, float[] x, float[] y, int plane, bool max)
    {
        int xb = plane * g.PlaneSize;
        long o = (long)plane * g.OutD * g.OutH * g.OutW;
        for (int od = 0; od < g.OutD; od++)
            for (int oh = 0; oh < g.OutH; oh++)
                for (int ow = 0; ow < g.OutW; ow++, o++)
                    y[o] = max ? MaxAt(g, x, xb, od, oh, ow) : AverageAt(g, x, xb, od, oh, ow);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float MaxAt(in PoolGeometry g, float[] x, int xb, int od, int oh, int ow)
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float AverageAt(in PoolGeometry g, float[] x, int xb, int od, int oh, int ow)
    {
        var (d0, d1, sizeD) = Window(od, g.SD, g.PD, g.KD, g.InD);
        var (h0, h1, sizeH) = Window(oh, g.SH, g.PH, g.KH, g.InH);
        var (w0, w1, sizeW) = Window(ow, g.SW, g.PW, g.KW, g.InW);
        int divisor = Divisor(g, (d0, d1, sizeD), (h0, h1, sizeH), (w0, w1, sizeW));
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (int Start, int End, int PaddedSize) Window(int o, int s, int p, int k, int size)
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
    /// <remarks>
    /// <paramref name="gather"/> true runs the definition as written, input by input (the tests' reference: every
    /// candidate output's maximum recomputed, 67 ms for ResNet-50's 64 × 112 × 112 stem pool on one thread); false (the
    /// engine) scatters instead, with the same bits: dx = +0, then for each output in ascending order its maximum's
    /// position found once and dy added there, so each dx element gets its terms in the same order from +0. The
    /// maxima are found a vector of outputs at a time where <see cref="PoolRows.LanesFor"/> covers the pool
    /// (<see cref="PoolRows.MaxScatterPlane(in PoolGeometry, float[], float[], float[], int, int)"/>, the same positions);
    /// <paramref name="vector"/> false keeps the scalar argmax (the benchmarks' base).
    /// </remarks>
    public static void MaxBackward(in PoolGeometry g, float[] x, float[] dy, float[] dx, CpuWorkers? workers = null, bool gather = false, bool vector = true) =>
        RunBackward(g, x, dy, dx, max: true, workers, gather, vector);

    /// <summary>
    /// dx of average pooling: dx[i] = +0 plus dy[o] / divisor(o) for every output o whose window holds input i, in
    /// ascending o (PyTorch's scatter order and its per-output quotient, so the same bits).
    /// </summary>
    /// <remarks><paramref name="gather"/> as for <see cref="MaxBackward"/>: the scatter adds each output's quotient, computed once,
    /// to its clipped window's inputs in ascending output order; where <see cref="PoolRows.CoversAverageScatter"/> takes the
    /// pool a vector of inputs adds its quotients at a time, in the same order (<paramref name="vector"/> false: the
    /// scalar scatter, the benchmarks' base).</remarks>
    public static void AverageBackward(in PoolGeometry g, float[] dy, float[] dx, CpuWorkers? workers = null, bool gather = false, bool vector = true) =>
        RunBackward(g, [], dy, dx, max: false, workers, gather, vector);

    static void RunBackward(in PoolGeometry g, float[] x, float[] dy, float[] dx, bool max, CpuWorkers? workers, bool gather, bool vector)
    {
        long input = (long)g.Planes * g.PlaneSize;
        if (dx.Length != input || dy.Length != g.OutputCount || (max && x.Length != input))
            throw new ArgumentException($"pool backward: dx has {dx.Length} elements (expected {input}), dy {dy.Length} (expected {g.OutputCount}){(max ? $", x {x.Length}" : "")}.", nameof(dx));
        int lanes = gather || !vector ? 0 : max ? PoolRows.LanesFor(g) : PoolRows.CoversAverageScatter(g, PoolRows.Lanes) ? PoolRows.Lanes : 0;
        var loop = new BackwardLoop(g, x, dy, dx, max, gather, lanes, Tasks(g.Planes, input, workers));
        Split(loop.Tasks, loop, workers);
    }

    /// <summary>The backward pools' task: its run of planes of dx, by the gather definition or the scatter.</summary>
    /// <remarks><paramref name="lanes"/>: max pooling's vector argmax (<see cref="PoolRows.MaxScatterPlane(in PoolGeometry, float[], float[], float[], int, int)"/>)
    /// where <see cref="PoolRows.LanesFor"/> covers it, average pooling's vector rows (<see cref="PoolRows.AverageScatterPlane(in PoolGeometry, float[], float[], int, int)"/>)
    /// where <see cref="PoolRows.CoversAverageScatter"/> does; else 0.</remarks>
    readonly struct BackwardLoop(PoolGeometry g, float[] x, float[] dy, float[] dx, bool max, bool gather, int lanes, int tasks) : ICpuLoop
    {
        public int Tasks => tasks;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            var (first, end) = PlanesOf(task, tasks, g.Planes);
            for (int plane = first; plane < end; plane++)
                if (gather) BackwardPlane(g, x, dy, dx, plane, max);
                else if (lanes > 0 && max) PoolRows.MaxScatterPlane(g, x, dy, dx, plane, lanes);
                else if (lanes > 0) PoolRows.AverageScatterPlane(g, dy, dx, plane, lanes);
                else ScatterPlane(g, x, dy, dx, plane, max);
        }
    }

    /// <summary>
    /// One plane of dx by scattering: +0 everywhere, then for each output o in ascending order dy[o] added to its
    /// maximum's input (none when no tap is inside the input), or dy[o] / divisor(o) added to each input of its clipped
    /// window. Each dx element so adds the same terms, in the same order, from the same +0 as <see cref="BackwardPlane"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ScatterPlane(in PoolGeometry g, float[] x, float[] dy, float[] dx, int plane, bool max)
    {
        int xb = plane * g.PlaneSize;
        Array.Clear(dx, xb, g.PlaneSize);
        long o = (long)plane * g.OutD * g.OutH * g.OutW;
        for (int od = 0; od < g.OutD; od++)
            for (int oh = 0; oh < g.OutH; oh++)
                for (int ow = 0; ow < g.OutW; ow++, o++)
                {
                    if (max)
                    {
                        int at = ArgMax(g, x, xb, od, oh, ow);
                        if (at >= 0) dx[xb + at] += dy[o];
                        continue;
                    }
                    var d = Window(od, g.SD, g.PD, g.KD, g.InD);
                    var h = Window(oh, g.SH, g.PH, g.KH, g.InH);
                    var w = Window(ow, g.SW, g.PW, g.KW, g.InW);
                    float q = dy[o] / Divisor(g, d, h, w);
                    for (int id = d.Start; id < d.End; id++)
                        for (int ih = h.Start; ih < h.End; ih++)
                        {
                            int row = xb + (id * g.InH + ih) * g.InW;
                            for (int iw = w.Start; iw < w.End; iw++) dx[row + iw] += q;
                        }
                }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (int First, int Last) Candidates(int i, int s, int p, int k, int dl, int outSize)
    {
        int reach = i + p - (k - 1) * dl;
        int first = reach <= 0 ? 0 : (reach + s - 1) / s;
        int last = Math.Min((i + p) / s, outSize - 1);
        return (first, last);
    }

    /// <summary>The in-plane index of window (od, oh, ow)'s maximum as PyTorch picks it; −1 when no tap is inside the input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int AverageDivisor(in PoolGeometry g, int od, int oh, int ow) =>
        Divisor(g, Window(od, g.SD, g.PD, g.KD, g.InD), Window(oh, g.SH, g.PH, g.KH, g.InH), Window(ow, g.SW, g.PW, g.KW, g.InW));

    /// <summary>The average's divisor from the output's three <see cref="Window"/>s: their padded sizes or their clipped ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int Divisor(in PoolGeometry g, (int Start, int End, int PaddedSize) d, (int Start, int End, int PaddedSize) h, (int Start, int End, int PaddedSize) w) =>
        g.CountIncludePad ? d.PaddedSize * h.PaddedSize * w.PaddedSize : (d.End - d.Start) * (h.End - h.Start) * (w.End - w.Start);

    /// <summary>
    /// y[plane] = mean of x's <paramref name="spatial"/> elements of each plane, in the GPU block's order: partial sum t
    /// (t &lt; <paramref name="threads"/>, a power of two) adds elements t, t + threads, t + 2·threads, … in turn from +0;
    /// then a tree: for half = threads/2, threads/4, …, 1, partial[t] += partial[t + half] for t &lt; half; the mean is
    /// partial[0] / spatial (one IEEE division; spatial converted to float with round-to-nearest).
    /// </summary>
    /// <remarks><paramref name="vector"/> false runs the scalar loops (the tests' and benchmarks' reference); true takes
    /// <see cref="PoolRows.GlobalAverageTotal"/>'s vector lanes where there are at least a vector's worth of partial sums.</remarks>
    public static void GlobalAverage(float[] x, float[] y, int planes, long spatial, int threads = GlobalAverageThreads, CpuWorkers? workers = null, bool vector = true)
    {
        if (threads < 1 || (threads & (threads - 1)) != 0) throw new ArgumentException($"threads must be a power of two, got {threads}.", nameof(threads));
        if (x.Length != planes * spatial || y.Length != planes)
            throw new ArgumentException($"global average: x has {x.Length} elements (expected {planes * spatial}) and y {y.Length} (expected {planes}).", nameof(y));
        int lanes = PoolRows.Lanes;
        var loop = new GlobalAverageLoop(x, y, planes, spatial, threads, vector && lanes > 0 && threads >= lanes, Tasks(planes, planes * spatial, workers));
        Split(loop.Tasks, loop, workers);
    }

    /// <summary>The global average's task: the means of its run of planes.</summary>
    readonly struct GlobalAverageLoop(float[] x, float[] y, int planes, long spatial, int threads, bool lanes, int tasks) : ICpuLoop
    {
        public int Tasks => tasks;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            var (first, end) = PlanesOf(task, tasks, planes);
            if (lanes) GlobalAverageLanes(x, y, first, end, spatial, threads);
            else
                for (int plane = first; plane < end; plane++) GlobalAveragePlane(x, y, plane, spatial, threads);
        }
    }

    // No zeroing of the scratch: the lanes write every partial sum they read (PoolRows.GlobalAverageTotal).
    [System.Runtime.CompilerServices.SkipLocalsInit]
    static void GlobalAverageLanes(float[] x, float[] y, int first, int end, long spatial, int threads)
    {
        float* partial = stackalloc float[threads];
        fixed (float* px = x, py = y) PoolRows.GlobalAverages(px + first * spatial, py + first, end - first, spatial, threads, partial);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
