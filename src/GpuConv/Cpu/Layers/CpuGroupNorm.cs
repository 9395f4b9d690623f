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
/// them (lanes are separate partial sums, so the same bits as scalar). Where a group has at most
/// <see cref="MaxFusedChannels"/> channels the backward runs by groups instead and takes the affine sums in its dx pass,
/// each channel's partials carried across the batch in the same order (<see cref="FusesAffine"/>).
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
        bool affine = dGamma is not null && dBeta is not null;
        if (affine && FusesAffine(shape, workers))
        {
            SplitLoop.Run(new Loop(Phase.BackwardFused, shape, x, dy, dx, mean, rstd, gamma, null, dGamma, dBeta, 0, Vec(vector), Tasks(shape, shape.Groups, workers)), workers);
            return;
        }
        SplitLoop.Run(new Loop(Phase.BackwardData, shape, x, dy, dx, mean, rstd, gamma, null, null, null, 0, Vec(vector), Tasks(shape, shape.Units, workers)), workers);
        if (affine)
            SplitLoop.Run(new Loop(Phase.BackwardAffine, shape, x, dy, [], mean, rstd, null, null, dGamma, dBeta, 0, Vec(vector), Tasks(shape, shape.Channels, workers)), workers);
    }

    /// <summary>Channels a group may have for its affine partials (2·256 floats a channel) to sit on a task's stack.</summary>
    internal const int MaxFusedChannels = 16;

    /// <summary>
    /// Whether the backward takes the affine sums in its dx pass, a task per run of groups (one pass over x and dy fewer):
    /// where a group's channels' partials fit the stack and there are groups enough for every worker.
    /// </summary>
    internal static bool FusesAffine(GroupNormShape shape, CpuWorkers? workers) =>
        shape.ChannelsPerGroup <= MaxFusedChannels && (workers is not { Threads: > 1 } || shape.Groups >= workers.Threads);

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

    enum Phase { Forward, BackwardData, BackwardAffine, BackwardFused }

    /// <summary>
    /// One task: a run of whole units (Forward, BackwardData), channels (BackwardAffine) or groups (BackwardFused). x
    /// and dy are the inputs, output is y or dx; mean and rstd are per unit.
    /// </summary>
    readonly struct Loop(Phase phase, GroupNormShape shape, float[] x, float[] dy, float[] output, float[] mean, float[] rstd,
        float[]? gamma, float[]? beta, float[]? dGamma, float[]? dBeta, float eps, bool vector, int tasks) : ISplitLoop
    {
        public int Tasks => tasks;

        [System.Runtime.CompilerServices.SkipLocalsInit]
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            int items = phase switch { Phase.BackwardAffine => shape.Channels, Phase.BackwardFused => shape.Groups, _ => shape.Units };
            int first = (int)((long)items * task / tasks), end = (int)((long)items * (task + 1) / tasks);
            float* partial = stackalloc float[2 * Threads];   // the backward's two sums side by side
            float* affine = stackalloc float[phase == Phase.BackwardFused ? 2 * Threads * shape.ChannelsPerGroup : 0];
            fixed (float* px = x, pdy = dy, po = output, pg = gamma, pb = beta)
                for (int item = first; item < end; item++)
                    switch (phase)
                    {
                        case Phase.Forward: ForwardOf(px, po, pg, pb, item, partial); break;
                        case Phase.BackwardData: BackwardDataOf(px, pdy, po, pg, item, partial); break;
                        case Phase.BackwardFused: FusedOf(px, pdy, po, pg, item, partial, affine); break;
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
            var value = new Value();
            float m = Sum(ux, ux, 1, 0, size, ref value, partial, vector) / mf;
            var squared = new SquaredDeviation(m);
            float sq = Sum(ux, ux, 1, 0, size, ref squared, partial, vector);
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

        /// <summary>Unit u's dx coefficients: A/M and −k (the class comment's backward), from its two sums.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        (float MeanA, float NegK) Coefficients(float* ux, float* udy, float* unitGamma, int unit, float* partial)
        {
            int perGroup = shape.ChannelsPerGroup, spatial = shape.Spatial;
            float mf = shape.GroupSize;
            float m = mean[unit], r = rstd[unit];
            var scaled = new Scaled(unitGamma);
            var product = new ScaledProductDeviation(unitGamma, m);
            var (a, b) = Sums(udy, ux, perGroup, spatial, spatial, ref scaled, ref product, partial, vector);
            return (a / mf, -(b * r * r / mf));
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
        void BackwardDataOf(float* x, float* dy, float* dx, float* gamma, int unit, float* partial)
        {
            int perGroup = shape.ChannelsPerGroup, spatial = shape.Spatial;
            long start = (long)unit * shape.GroupSize;
            float* ux = x + start, udy = dy + start, udx = dx + start;
            float* unitGamma = gamma is null ? null : gamma + unit % shape.Groups * perGroup;
            float m = mean[unit], r = rstd[unit];
            var (meanA, negK) = Coefficients(ux, udy, unitGamma, unit, partial);
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

        /// <summary>
        /// Group g's dx (as <see cref="BackwardDataOf"/>, unit by unit in n's order) and, in the same pass, its channels'
        /// affine sums (as <see cref="AffineOf"/>: channel c's position t = n·S + s goes to partial t mod 256, n ascending),
        /// in <paramref name="affine"/>: 2·<see cref="Threads"/> floats a channel, dbias's partials then dweight's.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
        void FusedOf(float* x, float* dy, float* dx, float* gamma, int group, float* partial, float* affine)
        {
            int perGroup = shape.ChannelsPerGroup, spatial = shape.Spatial;
            new Span<float>(affine, 2 * Threads * perGroup).Clear();
            float* groupGamma = gamma is null ? null : gamma + group * perGroup;
            int rowStart = 0;   // (n·S) mod 256: where sample n's positions start in every channel's partials
            for (int n = 0; n < shape.Batch; n++)
            {
                int unit = n * shape.Groups + group;
                long start = (long)unit * shape.GroupSize;
                float* ux = x + start, udy = dy + start, udx = dx + start;
                float m = mean[unit], r = rstd[unit];
                var (meanA, negK) = Coefficients(ux, udy, groupGamma, unit, partial);
                for (int j = 0; j < perGroup; j++)
                {
                    float g = groupGamma is null ? 1f : groupGamma[j];
                    float* px = ux + (long)j * spatial, pdy = udy + (long)j * spatial, pdx = udx + (long)j * spatial;
                    float* pBias = affine + 2 * Threads * j, pWeight = pBias + Threads;
                    int p = rowStart;
                    for (int i = 0; i < spatial;)
                    {
                        // Positions i… go to partials p…, contiguous until the partial index wraps past 255.
                        int run = Math.Min(spatial - i, Threads - p), k = 0;
                        float* rx = px + i, rdy = pdy + i, rdx = pdx + i, sb = pBias + p, sw = pWeight + p;
                        if (vector)
                        {
                            Vector256<float> vm = Vector256.Create(m), vk = Vector256.Create(negK), va = Vector256.Create(meanA),
                                vr = Vector256.Create(r), vg = Vector256.Create(g);
                            for (; k + 8 <= run; k += 8)
                            {
                                Vector256<float> vx = Vector256.Load(rx + k), vdy = Vector256.Load(rdy + k);
                                (Vector256.FusedMultiplyAdd(vx - vm, vk, vg * vdy - va) * vr).Store(rdx + k);
                                (Vector256.Load(sb + k) + vdy).Store(sb + k);
                                (Vector256.Load(sw + k) + vdy * (vx - vm) * vr).Store(sw + k);
                            }
                        }
                        for (; k < run; k++)
                        {
                            float vx = rx[k], vdy = rdy[k];
                            rdx[k] = MathF.FusedMultiplyAdd(vx - m, negK, g * vdy - meanA) * r;
                            sb[k] += vdy;
                            sw[k] += vdy * (vx - m) * r;
                        }
                        i += run;
                        p = (p + run) & (Threads - 1);
                    }
                }
                rowStart = (int)((rowStart + (long)spatial) & (Threads - 1));
            }
            for (int j = 0; j < perGroup; j++)
            {
                float* pBias = affine + 2 * Threads * j;
                dBeta![group * perGroup + j] = PairwiseTree.Sum(pBias, Threads, vector);
                dGamma![group * perGroup + j] = PairwiseTree.Sum(pBias + Threads, Threads, vector);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
        void AffineOf(float* x, float* dy, int c, float* partial)
        {
            long offset = (long)c * shape.Spatial, rowStride = (long)shape.Channels * shape.Spatial;
            var value = new Value();
            fixed (float* pm = mean, pr = rstd)
            {
                var term = new UnitProductDeviation(pm, pr, c / shape.ChannelsPerGroup, shape.Groups);
                (dBeta![c], dGamma![c]) = Sums(dy + offset, x + offset, shape.Batch, rowStride, shape.Spatial, ref value, ref term, partial, vector);
            }
        }
    }

    /// <summary>A term of a sum, of the element pair (a, b) at one position; <see cref="Row"/> is called before each row's positions.</summary>
    interface ITerm
    {
        void Row(int row);
        float Of(float a, float b);
        Vector256<float> Of(Vector256<float> a, Vector256<float> b);
    }

    struct Value : ITerm
    {
        public void Row(int row) { }
        public float Of(float a, float b) => a;
        public Vector256<float> Of(Vector256<float> a, Vector256<float> b) => a;
    }

    /// <summary>(a − mean)², the product rounded before the sum (no fma, as the kernel's mul.rn then add.rn).</summary>
    struct SquaredDeviation(float mean) : ITerm
    {
        public void Row(int row) { }
        public float Of(float a, float b) { float d = a - mean; return d * d; }
        public Vector256<float> Of(Vector256<float> a, Vector256<float> b) { var d = a - Vector256.Create(mean); return d * d; }
    }

    /// <summary>g·a with g = gamma[row] (1 without gamma): gamma·dy over a unit's channels.</summary>
    unsafe struct Scaled(float* gamma) : ITerm
    {
        float g;
        public void Row(int row) => g = gamma is null ? 1f : gamma[row];
        public float Of(float a, float b) => g * a;
        public Vector256<float> Of(Vector256<float> a, Vector256<float> b) => Vector256.Create(g) * a;
    }

    /// <summary>(g·a)·(b − mean): (gamma·dy)·(x − mean) over a unit's channels.</summary>
    unsafe struct ScaledProductDeviation(float* gamma, float mean) : ITerm
    {
        float g;
        public void Row(int row) => g = gamma is null ? 1f : gamma[row];
        public float Of(float a, float b) => g * a * (b - mean);
        public Vector256<float> Of(Vector256<float> a, Vector256<float> b) => Vector256.Create(g) * a * (b - Vector256.Create(mean));
    }

    /// <summary>(a·(b − mean_u))·rstd_u over a channel's rows n, u = n·G + group: dy·x̂ for dweight.</summary>
    unsafe struct UnitProductDeviation(float* mean, float* rstd, int group, int groups) : ITerm
    {
        float m, r;
        public void Row(int row) { int u = row * groups + group; m = mean[u]; r = rstd[u]; }
        public float Of(float a, float b) => a * (b - m) * r;
        public Vector256<float> Of(Vector256<float> a, Vector256<float> b) => a * (b - Vector256.Create(m)) * Vector256.Create(r);
    }

    /// <summary>
    /// Σ term(a, b) over <paramref name="rows"/> rows of <paramref name="length"/> values, <paramref name="rowStride"/>
    /// apart, position t counting on across rows, in the order the class comment defines; <paramref name="partial"/> holds <see cref="Threads"/> floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
    static float Sum<T>(float* a, float* b, int rows, long rowStride, int length, ref T term, float* partial, bool vector) where T : struct, ITerm
    {
        new Span<float>(partial, Threads).Clear();
        long t = 0;
        for (int row = 0; row < rows; row++)
        {
            term.Row(row);
            float* pa = a + row * rowStride, pb = b + row * rowStride;
            int i = 0;
            while (i < length)
            {
                // Positions i… go to partials p…, contiguous until the partial index wraps past 255.
                int p = (int)(t & (Threads - 1));
                int run = Math.Min(length - i, Threads - p);
                int j = 0;
                if (vector)
                    for (; j + 8 <= run; j += 8)
                        (Vector256.Load(partial + p + j) + term.Of(Vector256.Load(pa + i + j), Vector256.Load(pb + i + j))).Store(partial + p + j);
                for (; j < run; j++) partial[p + j] += term.Of(pa[i + j], pb[i + j]);
                i += run;
                t += run;
            }
        }
        return PairwiseTree.Sum(partial, Threads, vector);
    }

    /// <summary>
    /// Two sums of the same pair in one walk (<see cref="Sum"/>'s order for each, in its own partials: the same bits as
    /// two walks); <paramref name="partial"/> holds 2·<see cref="Threads"/> floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
    static (float, float) Sums<TA, TB>(float* a, float* b, int rows, long rowStride, int length, ref TA termA, ref TB termB, float* partial, bool vector)
        where TA : struct, ITerm where TB : struct, ITerm
    {
        float* partialA = partial, partialB = partial + Threads;
        new Span<float>(partial, 2 * Threads).Clear();
        int p = 0;   // t mod Threads
        for (int row = 0; row < rows; row++)
        {
            termA.Row(row);
            termB.Row(row);
            float* pa = a + row * rowStride, pb = b + row * rowStride;
            for (int i = 0; i < length;)
            {
                int run = Math.Min(length - i, Threads - p);
                float* sa = partialA + p, sb = partialB + p, ra = pa + i, rb = pb + i;
                int j = 0;
                if (vector)
                    for (; j + 8 <= run; j += 8)
                    {
                        Vector256<float> va = Vector256.Load(ra + j), vb = Vector256.Load(rb + j);
                        (Vector256.Load(sa + j) + termA.Of(va, vb)).Store(sa + j);
                        (Vector256.Load(sb + j) + termB.Of(va, vb)).Store(sb + j);
                    }
                for (; j < run; j++)
                {
                    sa[j] += termA.Of(ra[j], rb[j]);
                    sb[j] += termB.Of(ra[j], rb[j]);
                }
                i += run;
                p = (p + run) & (Threads - 1);
            }
        }
        return (PairwiseTree.Sum(partialA, Threads, vector), PairwiseTree.Sum(partialB, Threads, vector));
    }
}
