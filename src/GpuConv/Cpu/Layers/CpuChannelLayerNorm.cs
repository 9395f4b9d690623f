using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.Layers;

/// <summary>
/// The channels-first LayerNorm (timm's LayerNorm2d) on host arrays: the definitions kernels/layernorm.ptx matches bit
/// for bit. x is [N, C, P] (P positions contiguous); each position j = n·P + p is normalised over its C channel values.
/// Everything is fp32 (IEEE single, round to nearest) in a fixed order, so the result depends neither on the thread
/// split nor on the vector width:
/// <list type="bullet">
/// <item>Statistics of position j, sums over c = 0, 1, …, C − 1 in turn from +0 (one GPU thread's loop): mean = (Σ x) / C;
/// sq = Σ (x − mean)·(x − mean) (difference rounded, product rounded, then added: no fma); rstd = 1 / sqrt(sq / C + eps)
/// — two passes, so no E[x²] − E[x]² cancellation; the biased variance, as PyTorch (C as fp32; sqrt and divisions
/// correctly rounded).</item>
/// <item>Normalisation: y = fma(x − mean, scale, shift), scale = weight[c]·rstd (rstd without weight), shift = bias[c]
/// (+0 without).</item>
/// <item>Backward data, per position with g = weight[c] (1 without), sums over c in turn from +0: A = Σ g·dy,
/// B = Σ (g·dy)·(x − mean); dx = fma(x − mean, −k, g·dy − A/C)·rstd with k = ((B·rstd)·rstd) / C — PyTorch's
/// dx = rstd·(g·dy − mean_c(g·dy) − x̂·mean_c(g·dy·x̂)), x̂ = (x − mean)·rstd, rearranged.</item>
/// <item>Affine gradients, per channel over its N·P values (t = n·P + p): dbias = Σ dy, dweight = Σ (dy·(x − mean_t))·rstd_t,
/// each as <see cref="Threads"/> partial sums, partial k = +0 + f(t = k) + f(t = k + 256) + … in turn, then a pairwise
/// tree (half = 128, …, 1: p[i] += p[i + half]) — one GPU block's order, GroupNorm's and BatchNorm's scheme. Error
/// (first order) at most (m/256 + 8)·2^-24·Σ|f| for m = N·P terms.</item>
/// </list>
/// Forward and backward data run over (sample, chunk of <see cref="ChunkPositions"/> positions) items, each lane of a
/// vector one position's sequential sum, so the same bits as scalar: with AVX-512 a chunk is four Vector512 whose sums
/// stay in registers through each pass over the channels (CpuChannelLayerNorm.Vector512.cs; a short chunk under
/// masks); without, a whole chunk is two such blocks of four Vector256 (CpuChannelLayerNorm.Vector256.cs), and a short
/// one Vector256 lanes summed in the mean/rstd slots with scalar for the last few positions. The affine gradients run
/// over channels. Items run in parallel for large tensors on the CPU backend's workers (a struct loop,
/// stack scratch, no allocation).
/// </summary>
internal static unsafe partial class CpuChannelLayerNorm
{
    /// <summary>Partial sums per channel for the affine gradients: the threads of one GPU block.</summary>
    public const int Threads = 256;

    /// <summary>
    /// Positions of one sample a forward or backward-data item covers: four cache lines per channel row, one AVX-512
    /// block (four Vector512) or two Vector256 blocks, which the block code assumes. 32 (two Vector512 in flight)
    /// measured 1.15–1.6× slower on Zen 4.
    /// </summary>
    public const int ChunkPositions = 64;

    /// <summary>Elements below which a call stays on the calling thread.</summary>
    const long ParallelThreshold = 1 << 16;

    /// <summary>Elements a task holds at least.</summary>
    const int MinTaskElements = 4096;

    /// <summary>y, and each position's mean and rstd ([N·P]), from x; gamma and beta null: 1 and 0.</summary>
    public static void Forward(float[] x, ChannelLayerNormShape shape, float eps, float[]? gamma, float[]? beta, float[] y, float[] mean, float[] rstd,
        CpuWorkers? workers = null, bool vector = true)
    {
        Check(x, shape, nameof(x));
        Check(y, shape, nameof(y));
        CheckPositions(mean, shape, nameof(mean));
        CheckPositions(rstd, shape, nameof(rstd));
        CheckChannels(gamma, shape, nameof(gamma));
        CheckChannels(beta, shape, nameof(beta));
        SplitLoop.Run(new Loop(Phase.Forward, shape, x, [], y, mean, rstd, gamma, beta, null, null, eps, Vec(vector), Tasks(shape, Chunks(shape), workers)), workers);
    }

    /// <summary>dx, and (when <paramref name="dGamma"/> and <paramref name="dBeta"/> are given) the affine gradients, from dy, x, the saved statistics and gamma (null: 1).</summary>
    public static void Backward(float[] dy, float[] x, ChannelLayerNormShape shape, float[] mean, float[] rstd, float[]? gamma,
        float[] dx, float[]? dGamma, float[]? dBeta, CpuWorkers? workers = null, bool vector = true)
    {
        Check(x, shape, nameof(x));
        Check(dy, shape, nameof(dy));
        Check(dx, shape, nameof(dx));
        CheckPositions(mean, shape, nameof(mean));
        CheckPositions(rstd, shape, nameof(rstd));
        CheckChannels(gamma, shape, nameof(gamma));
        CheckChannels(dGamma, shape, nameof(dGamma));
        CheckChannels(dBeta, shape, nameof(dBeta));
        SplitLoop.Run(new Loop(Phase.BackwardData, shape, x, dy, dx, mean, rstd, gamma, null, null, null, 0, Vec(vector), Tasks(shape, Chunks(shape), workers)), workers);
        if (dGamma is not null && dBeta is not null)
            SplitLoop.Run(new Loop(Phase.BackwardAffine, shape, x, dy, [], mean, rstd, null, null, dGamma, dBeta, 0, Vec(vector), Tasks(shape, shape.Channels, workers)), workers);
    }

    static bool Vec(bool vector) => vector && Vector256.IsHardwareAccelerated;

    static int ChunksPerSample(ChannelLayerNormShape shape) => (shape.Positions + ChunkPositions - 1) / ChunkPositions;

    static int Chunks(ChannelLayerNormShape shape) => shape.Batch * ChunksPerSample(shape);

    static void Check(float[] a, ChannelLayerNormShape shape, string name)
    {
        if (a.Length != shape.Elements)
            throw new ArgumentException($"layer norm: {name} has {a.Length} elements, [N, C, P] = [{shape.Batch}, {shape.Channels}, {shape.Positions}] needs {shape.Elements}.", name);
    }

    static void CheckPositions(float[] a, ChannelLayerNormShape shape, string name)
    {
        if (a.Length != shape.BatchPositions)
            throw new ArgumentException($"layer norm: {name} has {a.Length} elements, N·P = {shape.Batch}·{shape.Positions} needs {shape.BatchPositions}.", name);
    }

    static void CheckChannels(float[]? a, ChannelLayerNormShape shape, string name)
    {
        if (a is not null && a.Length != shape.Channels)
            throw new ArgumentException($"layer norm: {name} has {a.Length} elements, C = {shape.Channels} needs as many.", name);
    }

    static int Tasks(ChannelLayerNormShape shape, int items, CpuWorkers? workers) =>
        workers is not { Threads: > 1 } || shape.Elements < ParallelThreshold || items < 2
            ? 1 : (int)Math.Clamp(shape.Elements / MinTaskElements, 1, items);

    enum Phase { Forward, BackwardData, BackwardAffine }

    /// <summary>
    /// One task: a run of whole (sample, position chunk) items (Forward, BackwardData) or channels (BackwardAffine).
    /// x and dy are the inputs, output is y or dx; mean and rstd are per position j = n·P + p.
    /// </summary>
    readonly struct Loop(Phase phase, ChannelLayerNormShape shape, float[] x, float[] dy, float[] output, float[] mean, float[] rstd,
        float[]? gamma, float[]? beta, float[]? dGamma, float[]? dBeta, float eps, bool vector, int tasks) : ISplitLoop
    {
        public int Tasks => tasks;

        [System.Runtime.CompilerServices.SkipLocalsInit]
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            int items = phase == Phase.BackwardAffine ? shape.Channels : Chunks(shape);
            int first = (int)((long)items * task / tasks), end = (int)((long)items * (task + 1) / tasks);
            int perSample = ChunksPerSample(shape);
            float* scratchA = stackalloc float[Math.Max(ChunkPositions, Threads)];
            float* scratchB = stackalloc float[Math.Max(ChunkPositions, Threads)];
            fixed (float* px = x, pdy = dy, po = output, pm = mean, pr = rstd, pg = gamma, pb = beta)
                for (int item = first; item < end; item++)
                {
                    if (phase == Phase.BackwardAffine)
                    {
                        AffineOf(px, pdy, pm, pr, item, scratchA, scratchB);
                        continue;
                    }
                    int n = item / perSample, p0 = item % perSample * ChunkPositions;
                    int length = Math.Min(ChunkPositions, shape.Positions - p0);
                    long at = (long)n * shape.Channels * shape.Positions + p0;
                    int j = n * shape.Positions + p0;
                    if (phase == Phase.Forward) ForwardOf(px + at, po + at, pm + j, pr + j, pg, pb, length);
                    else BackwardDataOf(px + at, pdy + at, po + at, pm + j, pr + j, pg, length, scratchA, scratchB);
                }
        }

        /// <summary>
        /// One chunk's statistics and outputs; x and y point at channel 0 of the chunk. The blocks where they apply, else
        /// Vector256 lanes and scalar: the statistics summed in place in the chunk's mean and rstd slots, then the outputs.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
        void ForwardOf(float* x, float* y, float* m, float* r, float* gamma, float* beta, int length)
        {
            if (vector && Blocks512Accelerated)
            {
                Forward512(x, y, m, r, gamma, beta, shape.Channels, shape.Positions, eps, length);
                return;
            }
            if (vector && length == ChunkPositions)
            {
                ForwardChunk256(x, y, m, r, gamma, beta, shape.Channels, shape.Positions, eps);
                return;
            }
            int channels = shape.Channels;
            long stride = shape.Positions;
            float cf = channels;
            for (int k = 0; k < length; k++) m[k] = 0f;
            for (int c = 0; c < channels; c++)
            {
                float* row = x + c * stride;
                int k = 0;
                if (vector)
                    for (; k + 8 <= length; k += 8) (Vector256.Load(m + k) + Vector256.Load(row + k)).Store(m + k);
                for (; k < length; k++) m[k] += row[k];
            }
            for (int k = 0; k < length; k++) { m[k] /= cf; r[k] = 0f; }
            for (int c = 0; c < channels; c++)
            {
                float* row = x + c * stride;
                int k = 0;
                if (vector)
                    for (; k + 8 <= length; k += 8)
                    {
                        var d = Vector256.Load(row + k) - Vector256.Load(m + k);
                        (Vector256.Load(r + k) + d * d).Store(r + k);
                    }
                for (; k < length; k++) { float d = row[k] - m[k]; r[k] += d * d; }
            }
            for (int k = 0; k < length; k++) r[k] = 1f / MathF.Sqrt(r[k] / cf + eps);
            for (int c = 0; c < channels; c++)
            {
                float g = gamma is null ? 1f : gamma[c], shift = beta is null ? 0f : beta[c];
                float* row = x + c * stride, outRow = y + c * stride;
                int k = 0;
                if (vector)
                {
                    Vector256<float> vg = Vector256.Create(g), vb = Vector256.Create(shift);
                    for (; k + 8 <= length; k += 8)
                    {
                        var vr = Vector256.Load(r + k);
                        var scale = gamma is null ? vr : vg * vr;
                        Vector256.FusedMultiplyAdd(Vector256.Load(row + k) - Vector256.Load(m + k), scale, vb).Store(outRow + k);
                    }
                }
                for (; k < length; k++)
                {
                    float scale = gamma is null ? r[k] : g * r[k];
                    outRow[k] = MathF.FusedMultiplyAdd(row[k] - m[k], scale, shift);
                }
            }
        }

        /// <summary>One chunk's dx: the blocks where they apply, else <see cref="BackwardDataLanesOf"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
        void BackwardDataOf(float* x, float* dy, float* dx, float* m, float* r, float* gamma, int length, float* a, float* b)
        {
            if (vector && Blocks512Accelerated)
            {
                BackwardData512(x, dy, dx, m, r, gamma, shape.Channels, shape.Positions, length);
                return;
            }
            if (vector && length == ChunkPositions)
            {
                BackwardDataChunk256(x, dy, dx, m, r, gamma, shape.Channels, shape.Positions);
                return;
            }
            BackwardDataLanesOf(x, dy, dx, m, r, gamma, length, a, b);
        }

        /// <summary>
        /// <see cref="BackwardDataOf"/> in Vector256 lanes and scalar: A and B per position in <paramref name="a"/> and
        /// <paramref name="b"/>, then A/C and −k there, then dx. A method of its own: beside the block call, the JIT's code
        /// for these loops was 1.2× slower (AVX2, [1, 768, 7, 7]).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
        void BackwardDataLanesOf(float* x, float* dy, float* dx, float* m, float* r, float* gamma, int length, float* a, float* b)
        {
            int channels = shape.Channels;
            long stride = shape.Positions;
            float cf = channels;
            for (int k = 0; k < length; k++) { a[k] = 0f; b[k] = 0f; }
            for (int c = 0; c < channels; c++)
            {
                float g = gamma is null ? 1f : gamma[c];
                float* rx = x + c * stride, rdy = dy + c * stride;
                int k = 0;
                if (vector)
                {
                    var vg = Vector256.Create(g);
                    for (; k + 8 <= length; k += 8)
                    {
                        var gdy = vg * Vector256.Load(rdy + k);
                        (Vector256.Load(a + k) + gdy).Store(a + k);
                        (Vector256.Load(b + k) + gdy * (Vector256.Load(rx + k) - Vector256.Load(m + k))).Store(b + k);
                    }
                }
                for (; k < length; k++)
                {
                    float gdy = g * rdy[k];
                    a[k] += gdy;
                    b[k] += gdy * (rx[k] - m[k]);
                }
            }
            for (int k = 0; k < length; k++)
            {
                a[k] /= cf;
                b[k] = -(b[k] * r[k] * r[k] / cf);
            }
            for (int c = 0; c < channels; c++)
            {
                float g = gamma is null ? 1f : gamma[c];
                float* rx = x + c * stride, rdy = dy + c * stride, rdx = dx + c * stride;
                int k = 0;
                if (vector)
                {
                    var vg = Vector256.Create(g);
                    for (; k + 8 <= length; k += 8)
                        (Vector256.FusedMultiplyAdd(Vector256.Load(rx + k) - Vector256.Load(m + k), Vector256.Load(b + k),
                            vg * Vector256.Load(rdy + k) - Vector256.Load(a + k)) * Vector256.Load(r + k)).Store(rdx + k);
                }
                for (; k < length; k++) rdx[k] = MathF.FusedMultiplyAdd(rx[k] - m[k], b[k], g * rdy[k] - a[k]) * r[k];
            }
        }

        /// <summary>Channel c's dbias and dweight over t = n·P + p: <see cref="Threads"/> partials each (in <paramref name="pb"/>, <paramref name="pw"/>), then the tree.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // as the task body that calls it (tiered, its first form ran for hundreds of calls)
        void AffineOf(float* x, float* dy, float* m, float* r, int c, float* pb, float* pw)
        {
            new Span<float>(pb, Threads).Clear();
            new Span<float>(pw, Threads).Clear();
            int positions = shape.Positions;
            long t = 0;
            for (int n = 0; n < shape.Batch; n++)
            {
                long at = ((long)n * shape.Channels + c) * positions;
                float* rdy = dy + at, rx = x + at, rm = m + (long)n * positions, rr = r + (long)n * positions;
                int i = 0;
                while (i < positions)
                {
                    // Positions i… go to partials p…, contiguous until the partial index wraps past 255.
                    int p = (int)(t & (Threads - 1));
                    int run = Math.Min(positions - i, Threads - p);
                    int k = 0;
                    if (vector)
                        for (; k + 8 <= run; k += 8)
                        {
                            var vdy = Vector256.Load(rdy + i + k);
                            (Vector256.Load(pb + p + k) + vdy).Store(pb + p + k);
                            (Vector256.Load(pw + p + k) + vdy * (Vector256.Load(rx + i + k) - Vector256.Load(rm + i + k)) * Vector256.Load(rr + i + k)).Store(pw + p + k);
                        }
                    for (; k < run; k++)
                    {
                        float v = rdy[i + k];
                        pb[p + k] += v;
                        pw[p + k] += v * (rx[i + k] - rm[i + k]) * rr[i + k];
                    }
                    i += run;
                    t += run;
                }
            }
            dBeta![c] = PairwiseTree.Sum(pb, Threads, vector);
            dGamma![c] = PairwiseTree.Sum(pw, Threads, vector);
        }
    }
}
