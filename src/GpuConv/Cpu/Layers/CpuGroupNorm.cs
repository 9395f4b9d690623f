using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.Layers;

/// <summary>
/// GroupNorm on host arrays: the definitions kernels/groupnorm.ptx matches bit for bit. Everything is fp32 in a fixed
/// order, so the result does not depend on the thread split or the vector width. A unit u = n·G + g is the contiguous
/// run of M = (C / G)·S values of sample n's group g; a channel c belongs to group c / (C / G).
/// <list type="bullet">
/// <item>A sum of a term f over a unit's M values (or over a channel's N·S values, position t = n·S + s) is
/// <see cref="Threads"/> partial sums, partial k = +0 + f(t = k) + f(t = k + 256) + … in turn, then a pairwise tree
/// (half = 128, …, 1: p[i] += p[i + half]) — one GPU block's order. Error (first order): each partial adds about
/// m/256 terms and the tree 8 more, so |error| ≤ (m/256 + 8)·2^-24·Σ|f| for m terms (a unit of 32 channels of 56·56:
/// m = 100,352, about 2.4e-5·Σ|f| at worst, typically far less) — the same bound as <see cref="CpuBatchNorm"/>.</item>
/// <item>Statistics (two passes, so no E[x²] − E[x]² cancellation): mean = Σx / M; sq = Σ(x − mean)² (product
/// rounded, then added); rstd = 1 / sqrt(sq / M + eps) — the biased variance, as PyTorch (M as fp32, sqrt and
/// divisions correctly rounded).</item>
/// <item>Normalisation: y = fma(x − mean, scale, shift), scale = gamma[c]·rstd (rstd without gamma), shift = beta[c] (+0 without).</item>
/// <item>Backward, per unit with g = gamma[c] (1 without): A = Σ g·dy, B = Σ (g·dy)·(x − mean);
/// dx = fma(x − mean, −k, g·dy − A/M)·rstd with k = B·rstd·rstd / M (multiplied, multiplied, divided in that order) —
/// PyTorch's dx = rstd·(g·dy − mean(g·dy) − x̂·mean(g·dy·x̂)), x̂ = (x − mean)·rstd, rearranged.</item>
/// <item>Affine gradients, per channel over its N·S values (t = n·S + s): dbias = Σ dy, dweight = Σ (dy·(x − mean_u))·rstd_u,
/// u the unit of (n, c).</item>
/// </list>
/// Units (and, for the affine gradients, channels) run in parallel for large tensors on the CPU backend's workers (a
/// struct loop, no allocation; each unit or channel is one thread's), the sums in Vector256 lanes where the hardware has
/// them (lanes are separate partial sums, so the same bits as scalar).
/// </summary>
internal static unsafe class CpuGroupNorm
{
    /// <summary>Partial sums per unit or channel: the threads of one GPU block.</summary>
    public const int Threads = 256;

    /// <summary>Elements below which a call stays on the calling thread.</summary>
    const long ParallelThreshold = 1 << 16;

    /// <summary>Elements a task holds at least (runs of whole units or channels).</summary>
    const int MinTaskElements = 4096;

    /// <summary>y, and each unit's mean and rstd ([N·G]), from x; gamma and beta null: 1 and 0.</summary>
    public static void Forward(float[] x, GroupNormShape shape, float eps, float[]? gamma, float[]? beta, float[] y, float[] mean, float[] rstd,
        CpuWorkers? workers = null, bool vector = true)
    {
        Check(x, shape, nameof(x));
        Check(y, shape, nameof(y));
        CheckUnits(mean, shape, nameof(mean));
        CheckUnits(rstd, shape, nameof(rstd));
        SplitLoop.Run(new Loop(Phase.Forward, shape, x, [], y, mean, rstd, gamma, beta, null, null, eps, Vec(vector), Tasks(shape, shape.Units, workers)), workers);
    }

    /// <summary>dx, and (when <paramref name="dGamma"/> and <paramref name="dBeta"/> are given) the affine gradients, from dy, x, the saved statistics and gamma (null: 1).</summary>
    public static void Backward(float[] dy, float[] x, GroupNormShape shape, float[] mean, float[] rstd, float[]? gamma,
        float[] dx, float[]? dGamma, float[]? dBeta, CpuWorkers? workers = null, bool vector = true)
    {
        Check(x, shape, nameof(x));
        Check(dy, shape, nameof(dy));
        Check(dx, shape, nameof(dx));
        CheckUnits(mean, shape, nameof(mean));
        CheckUnits(rstd, shape, nameof(rstd));
        SplitLoop.Run(new Loop(Phase.BackwardData, shape, x, dy, dx, mean, rstd, gamma, null, null, null, 0, Vec(vector), Tasks(shape, shape.Units, workers)), workers);
        if (dGamma is not null && dBeta is not null)
            SplitLoop.Run(new Loop(Phase.BackwardAffine, shape, x, dy, [], mean, rstd, null, null, dGamma, dBeta, 0, Vec(vector), Tasks(shape, shape.Channels, workers)), workers);
    }

    static bool Vec(bool vector) => vector && Vector256.IsHardwareAccelerated;

    static void Check(float[] a, GroupNormShape shape, string name)
    {
        if (a.Length != shape.Elements)
            throw new ArgumentException($"group norm: {name} has {a.Length} elements, [N, C, S] = [{shape.Batch}, {shape.Channels}, {shape.Spatial}] needs {shape.Elements}.", name);
    }

    static void CheckUnits(float[] a, GroupNormShape shape, string name)
    {
        if (a.Length != shape.Units)
            throw new ArgumentException($"group norm: {name} has {a.Length} elements, N·G = {shape.Batch}·{shape.Groups} needs {shape.Units}.", name);
    }

    static int Tasks(GroupNormShape shape, int items, CpuWorkers? workers) =>
        workers is not { Threads: > 1 } || shape.Elements < ParallelThreshold || items < 2
            ? 1 : (int)Math.Clamp(shape.Elements / MinTaskElements, 1, items);

    enum Phase { Forward, BackwardData, BackwardAffine }

    /// <summary>
    /// One task: a run of whole units (Forward, BackwardData) or channels (BackwardAffine). x and dy are the inputs,
    /// output is y or dx; mean and rstd are per unit.
    /// </summary>
    readonly struct Loop(Phase phase, GroupNormShape shape, float[] x, float[] dy, float[] output, float[] mean, float[] rstd,
        float[]? gamma, float[]? beta, float[]? dGamma, float[]? dBeta, float eps, bool vector, int tasks) : ISplitLoop
    {
        public int Tasks => tasks;

        [System.Runtime.CompilerServices.SkipLocalsInit]
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            int items = phase == Phase.BackwardAffine ? shape.Channels : shape.Units;
            int first = (int)((long)items * task / tasks), end = (int)((long)items * (task + 1) / tasks);
            float* partial = stackalloc float[2 * Threads];   // the backward's two sums side by side
            fixed (float* px = x, pdy = dy, po = output, pg = gamma, pb = beta)
                for (int item = first; item < end; item++)
                    switch (phase)
                    {
                        case Phase.Forward: ForwardOf(px, po, pg, pb, item, partial); break;
                        case Phase.BackwardData: BackwardDataOf(px, pdy, po, pg, item, partial); break;
                        default: AffineOf(px, pdy, item, partial); break;
                    }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
        void ForwardOf(float* x, float* y, float* gamma, float* beta, int unit, float* partial)
        {
            int size = shape.GroupSize;
            float mf = size;
            long start = (long)unit * size;
            float* ux = x + start;
            float m = Sum(ux, ux, 1, size, size, new Value(), partial, vector) / mf;
            float sq = Sum(ux, ux, 1, size, size, new SquaredDeviation(m), partial, vector);
            float r = 1f / MathF.Sqrt(sq / mf + eps);
            mean[unit] = m;
            rstd[unit] = r;

            int perGroup = shape.ChannelsPerGroup, firstChannel = unit % shape.Groups * perGroup, spatial = shape.Spatial;
            for (int j = 0; j < perGroup; j++)
            {
                int c = firstChannel + j;
                float scale = gamma is null ? r : gamma[c] * r;
                float shift = beta is null ? 0f : beta[c];
                float* px = ux + (long)j * spatial, py = y + start + (long)j * spatial;
                int i = 0;
                if (vector)
                {
                    Vector256<float> vm = Vector256.Create(m), vs = Vector256.Create(scale), vb = Vector256.Create(shift);
                    for (; i + 8 <= spatial; i += 8)
                        Vector256.FusedMultiplyAdd(Vector256.Load(px + i) - vm, vs, vb).Store(py + i);
                }
                for (; i < spatial; i++) py[i] = MathF.FusedMultiplyAdd(px[i] - m, scale, shift);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
        void BackwardDataOf(float* x, float* dy, float* dx, float* gamma, int unit, float* partial)
        {
            int size = shape.GroupSize, perGroup = shape.ChannelsPerGroup, spatial = shape.Spatial;
            float mf = size;
            long start = (long)unit * size;
            float* ux = x + start, udy = dy + start, udx = dx + start;
            float* unitGamma = gamma is null ? null : gamma + unit % shape.Groups * perGroup;
            float m = mean[unit], r = rstd[unit];
            var (a, b) = Sums(udy, ux, perGroup, spatial, spatial, new Scaled(unitGamma), new ScaledProductDeviation(unitGamma, m), partial, vector);
            float meanA = a / mf;
            float negK = -(b * r * r / mf);
            for (int j = 0; j < perGroup; j++)
            {
                float g = unitGamma is null ? 1f : unitGamma[j];
                float* px = ux + (long)j * spatial, pdy = udy + (long)j * spatial, pdx = udx + (long)j * spatial;
                int i = 0;
                if (vector)
                {
                    Vector256<float> vm = Vector256.Create(m), vk = Vector256.Create(negK), va = Vector256.Create(meanA),
                        vr = Vector256.Create(r), vg = Vector256.Create(g);
                    for (; i + 8 <= spatial; i += 8)
                        (Vector256.FusedMultiplyAdd(Vector256.Load(px + i) - vm, vk, vg * Vector256.Load(pdy + i) - va) * vr).Store(pdx + i);
                }
                for (; i < spatial; i++) pdx[i] = MathF.FusedMultiplyAdd(px[i] - m, negK, g * pdy[i] - meanA) * r;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
        void AffineOf(float* x, float* dy, int c, float* partial)
        {
            long offset = (long)c * shape.Spatial, rowStride = (long)shape.Channels * shape.Spatial;
            fixed (float* pm = mean, pr = rstd)
            {
                var term = new UnitProductDeviation(pm, pr, c / shape.ChannelsPerGroup, shape.Groups);
                (dBeta![c], dGamma![c]) = Sums(dy + offset, x + offset, shape.Batch, rowStride, shape.Spatial, new Value(), term, partial, vector);
            }
        }
    }

    /// <summary>a: the values themselves.</summary>
    readonly struct Value : IRowTerm
    {
        public void Params(int row, out float p, out float q) { p = 0f; q = 0f; }
        public float Of(float a, float b, float p, float q) => a;
        public Vector256<float> Of(Vector256<float> a, Vector256<float> b, Vector256<float> p, Vector256<float> q) => a;
    }

    /// <summary>(a − mean)², the product rounded before the sum (no fma, as the kernel's mul.rn then add.rn).</summary>
    readonly struct SquaredDeviation(float mean) : IRowTerm
    {
        public void Params(int row, out float p, out float q) { p = 0f; q = 0f; }
        public float Of(float a, float b, float p, float q) { float d = a - mean; return d * d; }
        public Vector256<float> Of(Vector256<float> a, Vector256<float> b, Vector256<float> p, Vector256<float> q) { var d = a - Vector256.Create(mean); return d * d; }
    }

    /// <summary>g·a with g = gamma[row] (1 without gamma): gamma·dy over a unit's channels.</summary>
    readonly unsafe struct Scaled(float* gamma) : IRowTerm
    {
        public void Params(int row, out float p, out float q) { p = gamma is null ? 1f : gamma[row]; q = 0f; }
        public float Of(float a, float b, float p, float q) => p * a;
        public Vector256<float> Of(Vector256<float> a, Vector256<float> b, Vector256<float> p, Vector256<float> q) => p * a;
    }

    /// <summary>(g·a)·(b − mean): (gamma·dy)·(x − mean) over a unit's channels.</summary>
    readonly unsafe struct ScaledProductDeviation(float* gamma, float mean) : IRowTerm
    {
        public void Params(int row, out float p, out float q) { p = gamma is null ? 1f : gamma[row]; q = 0f; }
        public float Of(float a, float b, float p, float q) => p * a * (b - mean);
        public Vector256<float> Of(Vector256<float> a, Vector256<float> b, Vector256<float> p, Vector256<float> q) => p * a * (b - Vector256.Create(mean));
    }

    /// <summary>(a·(b − mean_u))·rstd_u over a channel's rows n, u = n·G + group: dy·x̂ for dweight.</summary>
    readonly unsafe struct UnitProductDeviation(float* mean, float* rstd, int group, int groups) : IRowTerm
    {
        public void Params(int row, out float p, out float q) { int u = row * groups + group; p = mean[u]; q = rstd[u]; }
        public float Of(float a, float b, float p, float q) => a * (b - p) * q;
        public Vector256<float> Of(Vector256<float> a, Vector256<float> b, Vector256<float> p, Vector256<float> q) => a * (b - p) * q;
    }

    /// <summary>
    /// Σ term(a, b) over <paramref name="rows"/> rows of <paramref name="length"/> values, <paramref name="rowStride"/>
    /// apart, position t counting on across rows, in the order the class comment defines (<see cref="WaveSums"/> in
    /// vectors); <paramref name="partial"/> holds <see cref="Threads"/> floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
    static float Sum<T>(float* a, float* b, int rows, long rowStride, int length, T term, float* partial, bool vector) where T : struct, IRowTerm
    {
        if (vector && length >= WaveSums.MinRowLength)
            WaveSums.Run(a, b, rows, rowStride, length, term, new NoTerm(), partial, null);
        else
            OrderedWalk(a, b, rows, rowStride, length, term, new NoTerm(), partial, null);
        return PairwiseTree.Sum(partial, Threads, vector);
    }

    /// <summary>Two sums of the same pair (<see cref="Sum"/>'s order each); <paramref name="partial"/> holds 2·<see cref="Threads"/> floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
    static (float, float) Sums<TA, TB>(float* a, float* b, int rows, long rowStride, int length, TA termA, TB termB, float* partial, bool vector)
        where TA : struct, IRowTerm where TB : struct, IRowTerm
    {
        if (vector && length >= WaveSums.MinRowLength)
            WaveSums.Run(a, b, rows, rowStride, length, termA, termB, partial, partial + Threads);
        else
            OrderedWalk(a, b, rows, rowStride, length, termA, termB, partial, partial + Threads);
        return (PairwiseTree.Sum(partial, Threads, vector), PairwiseTree.Sum(partial + Threads, Threads, vector));
    }

    /// <summary>The definition: the positions in order, each term added to partial t mod <see cref="Threads"/> (termB's unless it is <see cref="NoTerm"/>).</summary>
    static void OrderedWalk<TA, TB>(float* a, float* b, int rows, long rowStride, int length, TA termA, TB termB, float* partialA, float* partialB)
        where TA : struct, IRowTerm where TB : struct, IRowTerm
    {
        bool two = typeof(TB) != typeof(NoTerm);
        new Span<float>(partialA, Threads).Clear();
        if (two) new Span<float>(partialB, Threads).Clear();
        int k = 0;   // t mod Threads
        for (int row = 0; row < rows; row++)
        {
            termA.Params(row, out float pa, out float qa);
            termB.Params(row, out float pb, out float qb);
            float* ra = a + row * rowStride, rb = b + row * rowStride;
            for (int i = 0; i < length; i++)
            {
                partialA[k] += termA.Of(ra[i], rb[i], pa, qa);
                if (two) partialB[k] += termB.Of(ra[i], rb[i], pb, qb);
                k = (k + 1) & (Threads - 1);
            }
        }
    }
}
