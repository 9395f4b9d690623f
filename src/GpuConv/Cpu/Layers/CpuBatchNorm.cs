using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.Layers;

/// <summary>
/// BatchNorm on host arrays: the definitions kernels/batchnorm.ptx matches bit for bit. Everything is fp32 in a fixed
/// order, so the result does not depend on the thread split or the vector width:
/// <list type="bullet">
/// <item>A channel's sum of a term f over its n = N·S values (t = n'·S + s in order) is <see cref="Threads"/> partial sums,
/// partial k = +0 + f(t = k) + f(t = k + 256) + … in turn, then a pairwise tree (half = 128, …, 1: p[i] += p[i + half]) —
/// one GPU block's order. Error: each partial adds about n/256 terms, the tree 8 more, so |error| ≤ (n/256 + 8)·2^-24·Σ|f|
/// (a first-order bound; for a ResNet layer of N·S = 32·56·56 about 2.4e-5·Σ|f|, typically far less).</item>
/// <item>Statistics (two passes, so no E[x²] − E[x]² cancellation): mean = Σx / n; sq = Σ(x − mean)²; var_b = sq / n;
/// invstd = 1 / sqrt(var_b + eps) (n as fp32, sqrt and divisions correctly rounded); running_mean = keep·running_mean
/// + momentum·mean, running_var = keep·running_var + momentum·(sq / (n − 1)), keep = fp32(1 − momentum).</item>
/// <item>Normalisation: y = fma(x − mean, scale, shift), scale = gamma·invstd (invstd without gamma), shift = beta (+0 without);
/// in eval mode invstd = 1 / sqrt(running_var + eps) and mean = running_mean.</item>
/// <item>Backward: dbeta = Σdy, dgamma = Σ(dy·(x − mean))·invstd; dx = fma(x − mean, −k, dy − dbeta/n)·coef with
/// k = dgamma·invstd / n and coef = gamma·invstd — PyTorch's dx = invstd·gamma/n·(n·dy − Σdy − x̂·Σ(dy·x̂)) rearranged.</item>
/// </list>
/// Channels run in parallel for large tensors on the CPU backend's workers (a struct loop; each channel is one thread's),
/// the sums in Vector256 lanes where the hardware has them (lanes are separate partial sums, so the same bits as scalar).
/// </summary>
internal static unsafe class CpuBatchNorm
{
    /// <summary>Partial sums per channel: the threads of one GPU block.</summary>
    public const int Threads = 256;

    /// <summary>Elements below which a call stays on the calling thread.</summary>
    const long ParallelThreshold = 1 << 16;

    /// <summary>Elements a task holds at least (runs of whole channels), so that small channels go in runs.</summary>
    const int MinTaskElements = 4096;

    /// <summary>Training statistics: mean and invstd of each channel, and the running statistics' update when given.</summary>
    public static void Statistics(float[] x, BatchNormShape shape, float eps, float[] mean, float[] invStd,
        float[]? runningMean, float[]? runningVar, float momentum, float keep, CpuWorkers? workers = null, bool vector = true)
    {
        Check(x, shape, nameof(x));
        Run(shape, new Loop(Phase.Statistics, shape, x, [], [], mean, invStd, null, null, runningMean, runningVar, eps, momentum, keep, false, vector && Vector256.IsHardwareAccelerated, Tasks(shape, workers)), workers);
    }

    /// <summary>
    /// y from per-channel statistics: <paramref name="statistic"/> is invstd (training) or, with
    /// <paramref name="fromVariance"/>, the running variance (eval), whose invstd is 1 / sqrt(var + eps).
    /// </summary>
    public static void Normalize(float[] x, float[] y, BatchNormShape shape, float[] mean, float[] statistic, bool fromVariance, float eps,
        float[]? gamma, float[]? beta, CpuWorkers? workers = null, bool vector = true)
    {
        Check(x, shape, nameof(x));
        Check(y, shape, nameof(y));
        Run(shape, new Loop(Phase.Normalize, shape, x, [], y, mean, statistic, gamma, beta, null, null, eps, 0, 0, fromVariance, vector && Vector256.IsHardwareAccelerated, Tasks(shape, workers)), workers);
    }

    /// <summary>dx, dgamma and dbeta from dy, x, the saved mean and invstd, and gamma (null: 1).</summary>
    public static void Backward(float[] dy, float[] x, BatchNormShape shape, float[] mean, float[] invStd, float[]? gamma,
        float[] dx, float[] dGamma, float[] dBeta, CpuWorkers? workers = null, bool vector = true)
    {
        Check(x, shape, nameof(x));
        Check(dy, shape, nameof(dy));
        Check(dx, shape, nameof(dx));
        Run(shape, new Loop(Phase.Backward, shape, x, dy, dx, mean, invStd, gamma, null, dGamma, dBeta, 0, 0, 0, false, vector && Vector256.IsHardwareAccelerated, Tasks(shape, workers)), workers);
    }

    static void Check(float[] a, BatchNormShape shape, string name)
    {
        if (a.Length != shape.Elements)
            throw new ArgumentException($"batch norm: {name} has {a.Length} elements, [N, C, S] = [{shape.Batch}, {shape.Channels}, {shape.Spatial}] needs {shape.Elements}.", name);
    }

    static int Tasks(BatchNormShape shape, CpuWorkers? workers) =>
        workers is not { Threads: > 1 } || shape.Elements < ParallelThreshold || shape.Channels < 2
            ? 1 : (int)Math.Clamp(shape.Elements / MinTaskElements, 1, shape.Channels);

    static void Run(BatchNormShape shape, Loop loop, CpuWorkers? workers)
    {
        if (loop.Tasks == 1 || workers is null) for (int t = 0; t < loop.Tasks; t++) loop.Run(t, null!);
        else workers.For(loop.Tasks, loop);
    }

    enum Phase { Statistics, Normalize, Backward }

    /// <summary>
    /// One task: a run of whole channels. Statistics: a = x, out1 = mean, out2 = invstd, extra1/2 = running mean/var.
    /// Normalize: a = x, c = y, out1 = mean, out2 = invstd or running var. Backward: a = x, b = dy, c = dx, out1 = mean,
    /// out2 = invstd, extra1 = dgamma, extra2 = dbeta.
    /// </summary>
    readonly struct Loop(Phase phase, BatchNormShape shape, float[] a, float[] b, float[] c, float[] out1, float[] out2,
        float[]? gamma, float[]? beta, float[]? extra1, float[]? extra2, float eps, float momentum, float keep, bool fromVariance, bool vector, int tasks) : ICpuLoop
    {
        public int Tasks => tasks;

        [System.Runtime.CompilerServices.SkipLocalsInit]
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            int first = (int)((long)shape.Channels * task / tasks), end = (int)((long)shape.Channels * (task + 1) / tasks);
            float* partial = stackalloc float[2 * Threads];   // the backward's two sums side by side
            fixed (float* pa = a, pb = b, pc = c)
                for (int ch = first; ch < end; ch++)
                    switch (phase)
                    {
                        case Phase.Statistics: StatisticsOf(pa, ch, partial); break;
                        case Phase.Normalize: NormalizeOf(pa, pc, ch); break;
                        default: BackwardOf(pa, pb, pc, ch, partial); break;
                    }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
        void StatisticsOf(float* x, int ch, float* partial)
        {
            float n = shape.PerChannel;
            float m = ChannelSum(x, x, shape, ch, new Value(), partial, vector) / n;
            float sq = ChannelSum(x, x, shape, ch, new SquaredDeviation(m), partial, vector);
            out1[ch] = m;
            out2[ch] = 1f / MathF.Sqrt(sq / n + eps);
            if (extra1 is not null) extra1[ch] = keep * extra1[ch] + momentum * m;
            if (extra2 is not null) extra2[ch] = keep * extra2[ch] + momentum * (sq / (float)(shape.PerChannel - 1));
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
        void NormalizeOf(float* x, float* y, int ch)
        {
            float invStd = fromVariance ? 1f / MathF.Sqrt(out2[ch] + eps) : out2[ch];
            float scale = gamma is null ? invStd : gamma[ch] * invStd;
            float shift = beta is null ? 0f : beta[ch];
            float m = out1[ch];
            for (int n = 0; n < shape.Batch; n++)
            {
                long row = ((long)n * shape.Channels + ch) * shape.Spatial;
                float* px = x + row, py = y + row;
                int i = 0;
                if (vector)
                {
                    Vector256<float> vm = Vector256.Create(m), vs = Vector256.Create(scale), vb = Vector256.Create(shift);
                    for (; i + 8 <= shape.Spatial; i += 8)
                        Vector256.FusedMultiplyAdd(Vector256.Load(px + i) - vm, vs, vb).Store(py + i);
                }
                for (; i < shape.Spatial; i++) py[i] = MathF.FusedMultiplyAdd(px[i] - m, scale, shift);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
        void BackwardOf(float* x, float* dy, float* dx, int ch, float* partial)
        {
            float m = out1[ch], invStd = out2[ch];
            // Both sums in one walk over dy and x (each in its own partials, in its own order: the same bits as two walks).
            var sums = new TwoSums<Value, ProductDeviation>(new Value(), new ProductDeviation(m), partial, partial + Threads, vector);
            WalkChannel(dy, x, shape, ch, ref sums);
            float sumDy = PairwiseTree.Sum(partial, Threads, vector), sumDyD = PairwiseTree.Sum(partial + Threads, Threads, vector);
            extra2![ch] = sumDy;
            extra1![ch] = sumDyD * invStd;
            float n = shape.PerChannel;
            float meanDy = extra2[ch] / n;
            float negK = -(extra1[ch] * invStd / n);
            float coef = gamma is null ? invStd : gamma[ch] * invStd;
            for (int b = 0; b < shape.Batch; b++)
            {
                long row = ((long)b * shape.Channels + ch) * shape.Spatial;
                float* px = x + row, pdy = dy + row, pdx = dx + row;
                int i = 0;
                if (vector)
                {
                    Vector256<float> vm = Vector256.Create(m), vk = Vector256.Create(negK), vmd = Vector256.Create(meanDy), vc = Vector256.Create(coef);
                    for (; i + 8 <= shape.Spatial; i += 8)
                        (Vector256.FusedMultiplyAdd(Vector256.Load(px + i) - vm, vk, Vector256.Load(pdy + i) - vmd) * vc).Store(pdx + i);
                }
                for (; i < shape.Spatial; i++) pdx[i] = MathF.FusedMultiplyAdd(px[i] - m, negK, pdy[i] - meanDy) * coef;
            }
        }
    }

    /// <summary>A term of a channel sum, of the element pair (a, b) at one position.</summary>
    interface ITerm
    {
        float Of(float a, float b);
        Vector256<float> Of(Vector256<float> a, Vector256<float> b);
    }

    readonly struct Value : ITerm
    {
        public float Of(float a, float b) => a;
        public Vector256<float> Of(Vector256<float> a, Vector256<float> b) => a;
    }

    /// <summary>(a − mean)², the product rounded before the sum (no fma, as the kernel's mul.rn then add.rn).</summary>
    readonly struct SquaredDeviation(float mean) : ITerm
    {
        public float Of(float a, float b) { float d = a - mean; return d * d; }
        public Vector256<float> Of(Vector256<float> a, Vector256<float> b) { var d = a - Vector256.Create(mean); return d * d; }
    }

    /// <summary>a·(b − mean): dy·(x − mean).</summary>
    readonly struct ProductDeviation(float mean) : ITerm
    {
        public float Of(float a, float b) => a * (b - mean);
        public Vector256<float> Of(Vector256<float> a, Vector256<float> b) => a * (b - Vector256.Create(mean));
    }

    /// <summary>Σ term(a, b) over channel <paramref name="ch"/> in the order the class comment defines; <paramref name="partial"/> holds <see cref="Threads"/> floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
    static float ChannelSum<T>(float* a, float* b, BatchNormShape shape, int ch, T term, float* partial, bool vector) where T : struct, ITerm
    {
        var sum = new OneSum<T>(term, partial, vector);
        WalkChannel(a, b, shape, ch, ref sum);
        return PairwiseTree.Sum(partial, Threads, vector);
    }

    /// <summary>Where a channel's walk puts each run of consecutive positions: partials p… from the pair (a…, b…).</summary>
    interface IRunAccumulator
    {
        /// <summary>Zeroes the partials before a walk.</summary>
        void Clear();
        /// <summary>partial[p + j] += term(a[j], b[j]) for j &lt; count (p + count ≤ <see cref="Threads"/>).</summary>
        void Add(int p, float* a, float* b, int count);
    }

    /// <summary>One sum's partials (<see cref="Threads"/> floats).</summary>
    readonly struct OneSum<T>(T term, float* partial, bool vector) : IRunAccumulator where T : struct, ITerm
    {
        public void Clear() => new Span<float>(partial, Threads).Clear();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add(int p, float* a, float* b, int count)
        {
            float* s = partial + p;
            int j = 0;
            if (vector)
                for (; j + 8 <= count; j += 8)
                    (Vector256.Load(s + j) + term.Of(Vector256.Load(a + j), Vector256.Load(b + j))).Store(s + j);
            for (; j < count; j++) s[j] += term.Of(a[j], b[j]);
        }
    }

    /// <summary>Two sums of the same pair in one walk, each in its own partials: the same bits as two walks.</summary>
    readonly struct TwoSums<TA, TB>(TA termA, TB termB, float* partialA, float* partialB, bool vector) : IRunAccumulator
        where TA : struct, ITerm where TB : struct, ITerm
    {
        public void Clear()
        {
            new Span<float>(partialA, Threads).Clear();
            new Span<float>(partialB, Threads).Clear();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add(int p, float* a, float* b, int count)
        {
            float* sa = partialA + p, sb = partialB + p;
            int j = 0;
            if (vector)
                for (; j + 8 <= count; j += 8)
                {
                    Vector256<float> va = Vector256.Load(a + j), vb = Vector256.Load(b + j);
                    (Vector256.Load(sa + j) + termA.Of(va, vb)).Store(sa + j);
                    (Vector256.Load(sb + j) + termB.Of(va, vb)).Store(sb + j);
                }
            for (; j < count; j++)
            {
                sa[j] += termA.Of(a[j], b[j]);
                sb[j] += termB.Of(a[j], b[j]);
            }
        }
    }

    /// <summary>
    /// Clears the accumulator's partials and hands it channel <paramref name="ch"/>'s positions t = n'·S + s in order, in
    /// runs that stay contiguous in memory and in the partials (a run ends at a row's end or where t's partial index wraps past 255).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void WalkChannel<TAcc>(float* a, float* b, BatchNormShape shape, int ch, ref TAcc acc) where TAcc : struct, IRunAccumulator
    {
        acc.Clear();
        int p = 0;   // t mod Threads
        for (int n = 0; n < shape.Batch; n++)
        {
            long row = ((long)n * shape.Channels + ch) * shape.Spatial;
            float* pa = a + row, pb = b + row;
            for (int i = 0; i < shape.Spatial;)
            {
                int run = Math.Min(shape.Spatial - i, Threads - p);
                acc.Add(p, pa + i, pb + i, run);
                i += run;
                p = (p + run) & (Threads - 1);
            }
        }
    }
}
