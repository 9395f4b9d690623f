using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using GpuConv.Cpu.Elementwise;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.Layers;

/// <summary>
/// Softmax and LogSoftmax over one dimension, forward and backward, on host arrays seen as [Outer, Axis, Inner]
/// (<see cref="SoftmaxShape"/>): the definitions kernels/softmax.ptx matches bit for bit. fp32 throughout, every float
/// operation rounded once, reductions in a fixed order per slice, so the result depends neither on the thread split
/// nor on the vector width.
/// <list type="bullet">
/// <item>The order of a slice's reductions (its max and its sums) depends on Inner only. Inner = 1 (the slice is a
/// contiguous row): <see cref="Partials"/> partials, partial k folds positions k, k + 32, … in turn (a max from −∞, a
/// sum from +0), then a pairwise tree (half = 16, 8, …, 1: p[k] = op(p[k], p[k + half])) — one GPU warp's order, and
/// four Vector256 accumulators on the CPU. Inner &gt; 1: one sequential fold over a = 0 … Axis − 1 — one GPU thread per
/// slice, and eight neighbouring slices in the lanes of a Vector256 on the CPU.</item>
/// <item>max(p, v) is the select v &gt; p ? v : p (a NaN never wins; it reaches the result through the sum instead).</item>
/// <item>Forward: m = max x; e_a = e^(x_a − m) (<see cref="ExpMath"/>); s = Σ e_a ≥ 1. Softmax y_a = e_a / s;
/// LogSoftmax y_a = (x_a − m) − ln s (<see cref="LogMath"/>). torch's max-subtracted form: x = −∞ gives 0 (−∞ in log
/// space); a slice of −∞ only, or one holding +∞ or NaN, gives NaN throughout (−∞ − (−∞), ∞ − ∞, NaN in the sum), as
/// torch 1.13.</item>
/// <item>Backward (torch's _softmax_backward_data / _log_softmax_backward_data, from the forward's output y): softmax
/// S = Σ dy_a·y_a (products rounded, then added), dx_a = y_a·(dy_a − S); log-softmax S = Σ dy_a,
/// dx_a = fma(−e^(y_a), S, dy_a).</item>
/// <item>A NaN result is stored as the canonical NaN 0x7FFFFFFF (the GPU's; x86 keeps an operand's payload).</item>
/// </list>
/// Slices run in parallel for large tensors on the CPU backend's workers (a struct loop, no allocation): rows (Inner = 1)
/// or blocks of up to eight neighbouring slices (Inner &gt; 1), each one thread's.
/// </summary>
internal static unsafe class CpuSoftmax
{
    /// <summary>Partial reductions per row when Inner = 1: the lanes of one GPU warp.</summary>
    public const int Partials = 32;

    /// <summary>Elements below which a call stays on the calling thread.</summary>
    const long ParallelThreshold = 1 << 15;

    /// <summary>Elements a task holds at least.</summary>
    const int MinTaskElements = 4096;

    const int Lanes = 8;

    /// <summary>y = softmax(x) or log_softmax(x) over the shape's axis.</summary>
    public static void Forward(float[] x, SoftmaxShape shape, bool log, float[] y, CpuWorkers? workers = null, bool vector = true)
    {
        Check(x, shape, nameof(x));
        Check(y, shape, nameof(y));
        SplitLoop.Run(new Loop(false, log, shape, x, null, y, Vec(vector), Tasks(shape, workers)), workers);
    }

    /// <summary>dx from dy and the forward's output y (softmax's or log-softmax's, as <paramref name="log"/> says).</summary>
    public static void Backward(float[] dy, float[] y, SoftmaxShape shape, bool log, float[] dx, CpuWorkers? workers = null, bool vector = true)
    {
        Check(dy, shape, nameof(dy));
        Check(y, shape, nameof(y));
        Check(dx, shape, nameof(dx));
        SplitLoop.Run(new Loop(true, log, shape, y, dy, dx, Vec(vector), Tasks(shape, workers)), workers);
    }

    static bool Vec(bool vector) => vector && Vector256.IsHardwareAccelerated;

    static void Check(float[] a, SoftmaxShape shape, string name)
    {
        if (a.Length != shape.Elements)
            throw new ArgumentException($"softmax: {name} has {a.Length} elements, [outer, axis, inner] = [{shape.Outer}, {shape.Axis}, {shape.Inner}] needs {shape.Elements}.", name);
    }

    /// <summary>Rows (Inner = 1) or blocks of up to <see cref="Lanes"/> neighbouring slices (Inner &gt; 1).</summary>
    static long Items(SoftmaxShape s) => s.Inner == 1 ? s.Outer : (long)s.Outer * ((s.Inner + Lanes - 1) / Lanes);

    static int Tasks(SoftmaxShape shape, CpuWorkers? workers)
    {
        long items = Items(shape);
        return workers is not { Threads: > 1 } || shape.Elements < ParallelThreshold || items < 2
            ? 1 : (int)Math.Clamp(shape.Elements / MinTaskElements, 1, Math.Min(items, int.MaxValue));
    }

    /// <summary>
    /// One task: a run of whole items. Forward: a = x, output = y. Backward: a = y, b = dy, output = dx.
    /// </summary>
    readonly struct Loop(bool backward, bool log, SoftmaxShape shape, float[] a, float[]? b, float[] output, bool vector, int tasks) : ISplitLoop
    {
        public int Tasks => tasks;

        [SkipLocalsInit]
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            long items = Items(shape);
            long first = items * task / tasks, end = items * (task + 1) / tasks;
            float* partial = stackalloc float[Partials];
            int blocks = (shape.Inner + Lanes - 1) / Lanes;
            fixed (float* pa = a, pb = b, po = output)
                for (long item = first; item < end; item++)
                {
                    if (shape.Inner == 1)
                    {
                        long start = item * shape.Axis;
                        if (backward) BackwardRow(pa + start, pb + start, po + start, shape.Axis, log, partial, vector);
                        else ForwardRow(pa + start, po + start, shape.Axis, log, partial, vector);
                        continue;
                    }
                    long o = item / blocks;
                    int i0 = (int)(item % blocks) * Lanes, width = Math.Min(Lanes, shape.Inner - i0);
                    long start0 = o * shape.Axis * shape.Inner + i0;
                    if (vector && width == Lanes)
                    {
                        if (backward) BackwardColumns(pa + start0, pb + start0, po + start0, shape.Axis, shape.Inner, log);
                        else ForwardColumns(pa + start0, po + start0, shape.Axis, shape.Inner, log);
                    }
                    else
                        for (int i = 0; i < width; i++)
                        {
                            if (backward) BackwardColumn(pa + start0 + i, pb + start0 + i, po + start0 + i, shape.Axis, shape.Inner, log);
                            else ForwardColumn(pa + start0 + i, po + start0 + i, shape.Axis, shape.Inner, log);
                        }
                }
        }
    }

    // ---- the select and fold the class comment defines ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Max(float p, float v) => v > p ? v : p;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Max(Vector256<float> p, Vector256<float> v) => Vector256.ConditionalSelect(Vector256.GreaterThan(v, p), v, p);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float FoldMax(float* p)
    {
        for (int half = Partials / 2; half > 0; half >>= 1)
            for (int k = 0; k < half; k++) p[k] = Max(p[k], p[k + half]);
        return p[0];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float FoldSum(float* p)
    {
        for (int half = Partials / 2; half > 0; half >>= 1)
            for (int k = 0; k < half; k++) p[k] += p[k + half];
        return p[0];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Fill(float* p, float v)
    {
        for (int k = 0; k < Partials; k++) p[k] = v;
    }

    // ---- Inner = 1: contiguous rows, 32 partials ----

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
    static float RowMax(float* x, int n, float* p, bool vector)
    {
        Fill(p, float.NegativeInfinity);
        int a = 0;
        if (vector && n >= Partials)
        {
            Vector256<float> m0 = Vector256.Load(p), m1 = m0, m2 = m0, m3 = m0;
            for (; a + Partials <= n; a += Partials)
            {
                m0 = Max(m0, Vector256.Load(x + a));
                m1 = Max(m1, Vector256.Load(x + a + 8));
                m2 = Max(m2, Vector256.Load(x + a + 16));
                m3 = Max(m3, Vector256.Load(x + a + 24));
            }
            m0.Store(p); m1.Store(p + 8); m2.Store(p + 16); m3.Store(p + 24);
        }
        for (; a < n; a++) p[a & (Partials - 1)] = Max(p[a & (Partials - 1)], x[a]);
        return FoldMax(p);
    }

    /// <summary>Σ e^(x − m) in the row order; writes each e into <paramref name="e"/> unless it is null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
    static float RowExpSum(float* x, float* e, int n, float m, float* p, bool vector)
    {
        Fill(p, 0f);
        int a = 0;
        if (vector && n >= Partials)
        {
            var vm = Vector256.Create(m);
            Vector256<float> s0 = Vector256<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
            for (; a + Partials <= n; a += Partials)
            {
                var e0 = ExpMath.Exp(Vector256.Load(x + a) - vm);
                var e1 = ExpMath.Exp(Vector256.Load(x + a + 8) - vm);
                var e2 = ExpMath.Exp(Vector256.Load(x + a + 16) - vm);
                var e3 = ExpMath.Exp(Vector256.Load(x + a + 24) - vm);
                if (e is not null) { e0.Store(e + a); e1.Store(e + a + 8); e2.Store(e + a + 16); e3.Store(e + a + 24); }
                s0 += e0; s1 += e1; s2 += e2; s3 += e3;
            }
            s0.Store(p); s1.Store(p + 8); s2.Store(p + 16); s3.Store(p + 24);
        }
        for (; a < n; a++)
        {
            float v = ExpMath.Exp(x[a] - m);
            if (e is not null) e[a] = v;
            p[a & (Partials - 1)] += v;
        }
        return FoldSum(p);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
    static void ForwardRow(float* x, float* y, int n, bool log, float* p, bool vector)
    {
        float m = RowMax(x, n, p, vector);
        float s = RowExpSum(x, log ? null : y, n, m, p, vector);
        int a = 0;
        if (log)
        {
            float l = LogMath.Log(s);
            if (vector)
            {
                Vector256<float> vm = Vector256.Create(m), vl = Vector256.Create(l);
                for (; a + Lanes <= n; a += Lanes) SiluMath.Canonical(Vector256.Load(x + a) - vm - vl).Store(y + a);
            }
            for (; a < n; a++) y[a] = SiluMath.Canonical(x[a] - m - l);
        }
        else
        {
            if (vector)
            {
                var vs = Vector256.Create(s);
                for (; a + Lanes <= n; a += Lanes) SiluMath.Canonical(Vector256.Load(y + a) / vs).Store(y + a);
            }
            for (; a < n; a++) y[a] = SiluMath.Canonical(y[a] / s);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
    static void BackwardRow(float* y, float* dy, float* dx, int n, bool log, float* p, bool vector)
    {
        Fill(p, 0f);
        int a = 0;
        if (vector && n >= Partials)
        {
            Vector256<float> s0 = Vector256<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
            for (; a + Partials <= n; a += Partials)
                if (log)
                {
                    s0 += Vector256.Load(dy + a); s1 += Vector256.Load(dy + a + 8);
                    s2 += Vector256.Load(dy + a + 16); s3 += Vector256.Load(dy + a + 24);
                }
                else
                {
                    s0 += Vector256.Load(dy + a) * Vector256.Load(y + a);
                    s1 += Vector256.Load(dy + a + 8) * Vector256.Load(y + a + 8);
                    s2 += Vector256.Load(dy + a + 16) * Vector256.Load(y + a + 16);
                    s3 += Vector256.Load(dy + a + 24) * Vector256.Load(y + a + 24);
                }
            s0.Store(p); s1.Store(p + 8); s2.Store(p + 16); s3.Store(p + 24);
        }
        for (; a < n; a++) p[a & (Partials - 1)] += log ? dy[a] : dy[a] * y[a];
        float s = FoldSum(p);

        a = 0;
        if (vector)
        {
            var vs = Vector256.Create(s);
            for (; a + Lanes <= n; a += Lanes) GradientOf(Vector256.Load(y + a), Vector256.Load(dy + a), vs, log).Store(dx + a);
        }
        for (; a < n; a++) dx[a] = GradientOf(y[a], dy[a], s, log);
    }

    /// <summary>dx of one element from y, dy and the slice's sum S.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float GradientOf(float y, float dy, float s, bool log) =>
        SiluMath.Canonical(log ? MathF.FusedMultiplyAdd(-ExpMath.Exp(y), s, dy) : y * (dy - s));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> GradientOf(Vector256<float> y, Vector256<float> dy, Vector256<float> s, bool log) =>
        SiluMath.Canonical(log ? Vector256.FusedMultiplyAdd(Vector256.Xor(ExpMath.Exp(y), Vector256.Create(-0f)), s, dy) : y * (dy - s));

    // ---- Inner > 1: slices Inner apart, one sequential fold each ----

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
    static void ForwardColumn(float* x, float* y, int n, int stride, bool log)
    {
        float m = float.NegativeInfinity;
        for (int a = 0; a < n; a++) m = Max(m, x[(long)a * stride]);
        float s = 0f;
        for (int a = 0; a < n; a++)
        {
            float e = ExpMath.Exp(x[(long)a * stride] - m);
            if (!log) y[(long)a * stride] = e;
            s += e;
        }
        if (log)
        {
            float l = LogMath.Log(s);
            for (int a = 0; a < n; a++) y[(long)a * stride] = SiluMath.Canonical(x[(long)a * stride] - m - l);
        }
        else
            for (int a = 0; a < n; a++) y[(long)a * stride] = SiluMath.Canonical(y[(long)a * stride] / s);
    }

    /// <summary><see cref="ForwardColumn"/> on eight neighbouring slices at once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
    static void ForwardColumns(float* x, float* y, int n, int stride, bool log)
    {
        var m = Vector256.Create(float.NegativeInfinity);
        for (int a = 0; a < n; a++) m = Max(m, Vector256.Load(x + (long)a * stride));
        var s = Vector256<float>.Zero;
        for (int a = 0; a < n; a++)
        {
            var e = ExpMath.Exp(Vector256.Load(x + (long)a * stride) - m);
            if (!log) e.Store(y + (long)a * stride);
            s += e;
        }
        if (log)
        {
            var l = LogMath.Log(s);
            for (int a = 0; a < n; a++) SiluMath.Canonical(Vector256.Load(x + (long)a * stride) - m - l).Store(y + (long)a * stride);
        }
        else
            for (int a = 0; a < n; a++) SiluMath.Canonical(Vector256.Load(y + (long)a * stride) / s).Store(y + (long)a * stride);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
    static void BackwardColumn(float* y, float* dy, float* dx, int n, int stride, bool log)
    {
        float s = 0f;
        for (int a = 0; a < n; a++) s += log ? dy[(long)a * stride] : dy[(long)a * stride] * y[(long)a * stride];
        for (int a = 0; a < n; a++) dx[(long)a * stride] = GradientOf(y[(long)a * stride], dy[(long)a * stride], s, log);
    }

    /// <summary><see cref="BackwardColumn"/> on eight neighbouring slices at once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
    static void BackwardColumns(float* y, float* dy, float* dx, int n, int stride, bool log)
    {
        var s = Vector256<float>.Zero;
        for (int a = 0; a < n; a++)
        {
            var d = Vector256.Load(dy + (long)a * stride);
            s += log ? d : d * Vector256.Load(y + (long)a * stride);
        }
        for (int a = 0; a < n; a++)
            GradientOf(Vector256.Load(y + (long)a * stride), Vector256.Load(dy + (long)a * stride), s, log).Store(dx + (long)a * stride);
    }
}
