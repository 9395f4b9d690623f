using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.Layers;

/// <summary>
/// <see cref="ConvEngine.Upsample"/> and its gradient on the CPU. Each dimension's taps (source indices and weights) and,
/// for the gradient, its input → output ranges are tabulated once per call from <see cref="UpsampleAxis"/>; then the
/// forward runs output row by output row; the gradient's definition runs input row by input row, each input element
/// gathering the outputs that read it (one order per sum, the one kernels/upsample.ptx runs), and the engine's path
/// either scatters each output onto its taps in that order or, for the linear modes on AVX-512, gathers sixteen inputs
/// at a time (CpuUpsampling.LinearGather.cs), both with the definition's bits. The float32 expressions are
/// PyTorch 1.13's CPU ones, fused multiply-adds included (its AVX2 kernels are compiled with contraction), so the results
/// are PyTorch's bits: a linear blend is fma(v0, λ0, v1·λ1), nested outermost dimension first; the gradient visits the
/// outputs ascending (od, oh, ow) and, per output, its taps that are this input in PyTorch's scatter order (d, h, w tap
/// 0 before 1), acc = fma(w, dy, acc) from +0 with w = λw, λh·λw or (λd·λh)·λw; nearest adds dy. Large tensors are split
/// over the CPU backend's workers by rows; each element is computed the same way wherever a task starts, so the bits do
/// not depend on the split.
/// </summary>
internal static unsafe partial class CpuUpsampling
{
    /// <summary>Elements below which one thread runs (as the pads and pools: waking workers costs a few µs).</summary>
    internal const long ParallelThreshold = 1 << 16;

    /// <summary>y = upsample(x): y has <see cref="UpsampleGeometry.OutCount"/> elements, x <see cref="UpsampleGeometry.InCount"/>.</summary>
    public static void Forward(in UpsampleGeometry g, ReadOnlySpan<float> x, Span<float> y, CpuWorkers? workers = null)
    {
        Check(g, x.Length, y.Length, "x", "y");
        using var t = new Taps(g);
        fixed (float* px = x, py = y)
        {
            long rows = (long)g.Planes * g.D.Out * g.H.Out;
            var loop = new ForwardLoop(g, t.View, px, py, rows, Tasks(rows, g.OutCount, workers));
            Split(loop.Tasks, loop, workers);
        }
    }

    /// <summary>dx = the gradient of upsample from dy (the output's shape): each input element's terms in the order the class defines.</summary>
    /// <remarks>
    /// <paramref name="gather"/> true runs the definition as written, input by input (the tests' reference, and the
    /// kernel's form: 25 ms for a bilinear 2x of 64 × 56 × 56 on one thread, its scalar tap tests per candidate output);
    /// false (the engine) scatters instead, PyTorch's own loop: dx = +0, then each output in ascending order adds to its
    /// taps' inputs in tap order — each dx element so gets the same terms in the same order from +0, the same bits.
    /// </remarks>
    public static void Backward(in UpsampleGeometry g, ReadOnlySpan<float> dy, Span<float> dx, CpuWorkers? workers = null, bool gather = false)
    {
        Check(g, dx.Length, dy.Length, "dx", "dy");
        using var t = new Taps(g);
        fixed (float* pdy = dy, pdx = dx)
        {
            if (gather)
            {
                long rows = (long)g.Planes * g.D.In * g.H.In;
                var loop = new BackwardLoop(g, t.View, pdy, pdx, rows, Tasks(rows, g.InCount, workers));
                Split(loop.Tasks, loop, workers);
            }
            else
            {
                using var plan = GathersInVectors(g) ? new GatherPlan(g, t.View.W) : default;
                if (plan.Blocks > 0)
                {
                    long rows = (long)g.Planes * g.D.In * g.H.In;
                    var loop = new LinearGatherLoop(g, t.View, plan, pdy, pdx, rows, Tasks(rows, g.InCount, workers));
                    Split(loop.Tasks, loop, workers);
                }
                else
                {
                    var loop = new ScatterLoop(g, t.View, pdy, pdx, Tasks(g.Planes, g.InCount, workers));
                    Split(loop.Tasks, loop, workers);
                }
            }
        }
    }

    static void Check(in UpsampleGeometry g, int inLength, int outLength, string inName, string outName)
    {
        if (inLength != g.InCount || outLength != g.OutCount)
            throw new ArgumentException($"upsample: {inName} has {inLength} elements (expected {g.InCount}) and {outName} {outLength} (expected {g.OutCount}).", outName);
    }

    static int Tasks(long rows, long elements, CpuWorkers? workers) =>
        workers is not { Threads: > 1 } || elements < ParallelThreshold || rows < 2
            ? 1 : (int)Math.Min(rows, (long)workers.Threads * 4);

    static void Split<T>(int tasks, T loop, CpuWorkers? workers) where T : struct, ICpuLoop
    {
        if (tasks == 1 || workers is null) for (int t = 0; t < tasks; t++) loop.Run(t, null!);
        else workers.For(tasks, loop);
    }

    static (long First, long End) RowsOf(int task, int tasks, long rows) => (rows * task / tasks, rows * (task + 1) / tasks);

    /// <summary>Row r of planes of <paramref name="depth"/> × <paramref name="height"/> rows: its plane, d and h.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static long PlaneOf(long r, int depth, int height, out int d, out int h)
    {
        h = (int)(r % height);
        long rest = r / height;
        d = (int)(rest % depth);
        return rest / depth;
    }

    /// <summary>One dimension's tables: per output its taps (i0, i1, λ0, λ1; nearest: i0 only), per input its outputs [first, end).</summary>
    readonly struct AxisTaps(int* i0, int* i1, float* l0, float* l1, int* first, int* end)
    {
        public readonly int* I0 = i0, I1 = i1, First = first, End = end;
        public readonly float* L0 = l0, L1 = l1;
    }

    /// <summary>
    /// The three dimensions' tables, pointing into one pooled array (held until the call returns); <see cref="Doubles"/>:
    /// W's nearest map is o / 2 for every o with out = 2·in (each element twice, a vector shuffle).
    /// </summary>
    readonly struct TapsView(AxisTaps d, AxisTaps h, AxisTaps w, bool doubles)
    {
        public readonly AxisTaps D = d, H = h, W = w;
        public readonly bool Doubles = doubles;
    }

    readonly struct Taps : IDisposable
    {
        readonly int[] ints;
        readonly float[] floats;
        readonly System.Runtime.InteropServices.GCHandle hi, hf;
        public readonly TapsView View;

        public Taps(in UpsampleGeometry g)
        {
            int outs = checked(g.D.Out + g.H.Out + g.W.Out), ins = checked(g.D.In + g.H.In + g.W.In);
            ints = ArrayPool<int>.Shared.Rent(checked(2 * outs + 2 * ins));
            floats = ArrayPool<float>.Shared.Rent(checked(2 * outs));
            hi = System.Runtime.InteropServices.GCHandle.Alloc(ints, System.Runtime.InteropServices.GCHandleType.Pinned);
            hf = System.Runtime.InteropServices.GCHandle.Alloc(floats, System.Runtime.InteropServices.GCHandleType.Pinned);
            int* pi = (int*)hi.AddrOfPinnedObject();
            float* pf = (float*)hf.AddrOfPinnedObject();
            var d = Fill(g, g.D, ref pi, ref pf);
            var h = Fill(g, g.H, ref pi, ref pf);
            var w = Fill(g, g.W, ref pi, ref pf);
            bool doubles = g.Kind != UpsampleGeometry.LinearKind && g.W.Out == 2L * g.W.In;
            for (int o = 0; doubles && o < g.W.Out; o++) doubles = w.I0[o] == o >> 1;
            View = new TapsView(d, h, w, doubles);
        }

        static AxisTaps Fill(in UpsampleGeometry g, in UpsampleAxis a, ref int* pi, ref float* pf)
        {
            var t = new AxisTaps(pi, pi + a.Out, pf, pf + a.Out, pi + 2 * a.Out, pi + 2 * a.Out + a.In);
            pi += 2 * a.Out + 2 * a.In;
            pf += 2 * a.Out;
            for (int o = 0; o < a.Out; o++)
            {
                if (g.Kind == UpsampleGeometry.LinearKind)
                    a.Linear(o, g.AlignCorners, out t.I0[o], out t.I1[o], out t.L0[o], out t.L1[o]);
                else
                {
                    t.I0[o] = t.I1[o] = a.Nearest(o, g.Kind == UpsampleGeometry.NearestExactKind);
                    t.L0[o] = 1f;
                    t.L1[o] = 0f;
                }
            }
            for (int i = 0; i < a.In; i++) (t.First[i], t.End[i]) = a.Targets(i, g.Kind, g.AlignCorners);
            return t;
        }

        public void Dispose()
        {
            hi.Free();
            hf.Free();
            ArrayPool<int>.Shared.Return(ints);
            ArrayPool<float>.Shared.Return(floats);
        }
    }

    readonly struct ForwardLoop(UpsampleGeometry g, TapsView t, float* x, float* y, long rows, int tasks) : ICpuLoop
    {
        public int Tasks => tasks;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            var (first, end) = RowsOf(task, tasks, rows);
            for (long r = first; r < end; r++)
            {
                if (g.Kind == UpsampleGeometry.LinearKind) LinearRow(g, t, x, y, r);
                else NearestRow(g, t, x, y, r, first);
            }
        }
    }

    /// <summary>
    /// Output row r = (plane, od, oh) of a nearest mode: one input row, its elements picked through W's table. A row whose
    /// source row is the previous output row's (×2 and the like repeat each row) copies that row when this task wrote it;
    /// a W map that repeats each element twice (out = 2·in with source o / 2) duplicates with vector shuffles.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void NearestRow(in UpsampleGeometry g, in TapsView t, float* x, float* y, long r, long first)
    {
        long plane = PlaneOf(r, g.D.Out, g.H.Out, out int od, out int oh);
        float* dst = y + r * g.W.Out;
        int n = g.W.Out;
        if (r > first && oh > 0 && t.H.I0[oh] == t.H.I0[oh - 1])
        {
            new ReadOnlySpan<float>(dst - n, n).CopyTo(new Span<float>(dst, n));
            return;
        }
        float* src = x + ((plane * g.D.In + t.D.I0[od]) * g.H.In + t.H.I0[oh]) * g.W.In;
        int* iw = t.W.I0;
        int ow = 0;
        if (t.Doubles && Vector128.IsHardwareAccelerated)
            for (; ow + 8 <= n; ow += 8)
            {
                var v = Vector128.Load(src + (ow >> 1));
                Vector128.Shuffle(v, Vector128.Create(0, 0, 1, 1)).Store(dst + ow);
                Vector128.Shuffle(v, Vector128.Create(2, 2, 3, 3)).Store(dst + ow + 4);
            }
        for (; ow < n; ow++) dst[ow] = src[iw[ow]];
    }

    /// <summary>Output row r = (plane, od, oh) of a linear mode: up to four input rows blended, in the order the class names.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void LinearRow(in UpsampleGeometry g, in TapsView t, float* x, float* y, long r)
    {
        long plane = PlaneOf(r, g.D.Out, g.H.Out, out int od, out int oh);
        long inW = g.W.In, inH = g.H.In, planeBase = plane * g.D.In;
        float* r00 = x + ((planeBase + t.D.I0[od]) * inH + t.H.I0[oh]) * inW;
        float* r01 = x + ((planeBase + t.D.I0[od]) * inH + t.H.I1[oh]) * inW;
        float* r10 = x + ((planeBase + t.D.I1[od]) * inH + t.H.I0[oh]) * inW;
        float* r11 = x + ((planeBase + t.D.I1[od]) * inH + t.H.I1[oh]) * inW;
        float lh0 = t.H.L0[oh], lh1 = t.H.L1[oh], ld0 = t.D.L0[od], ld1 = t.D.L1[od];
        float* dst = y + r * g.W.Out;
        int* w0 = t.W.I0;
        int* w1 = t.W.I1;
        float* lw0 = t.W.L0;
        float* lw1 = t.W.L1;
        int n = g.W.Out;
        int start = BlendVectors(g.LinearRank, r00, r01, r10, r11, t.W, lh0, lh1, ld0, ld1, (int)inW, n, dst);
        switch (g.LinearRank)
        {
            case 1:
                for (int ow = start; ow < n; ow++) dst[ow] = Blend(r00[w0[ow]], r00[w1[ow]], lw0[ow], lw1[ow]);
                break;
            case 2:
                for (int ow = start; ow < n; ow++)
                {
                    float a = Blend(r00[w0[ow]], r00[w1[ow]], lw0[ow], lw1[ow]);
                    float b = Blend(r01[w0[ow]], r01[w1[ow]], lw0[ow], lw1[ow]);
                    dst[ow] = Blend(a, b, lh0, lh1);
                }
                break;
            default:
                for (int ow = start; ow < n; ow++)
                {
                    float a = Blend(r00[w0[ow]], r00[w1[ow]], lw0[ow], lw1[ow]);
                    float b = Blend(r01[w0[ow]], r01[w1[ow]], lw0[ow], lw1[ow]);
                    float c = Blend(r10[w0[ow]], r10[w1[ow]], lw0[ow], lw1[ow]);
                    float e = Blend(r11[w0[ow]], r11[w1[ow]], lw0[ow], lw1[ow]);
                    dst[ow] = Blend(Blend(a, b, lh0, lh1), Blend(c, e, lh0, lh1), ld0, ld1);
                }
                break;
        }
    }

    /// <summary>
    /// The row's outputs from 0 on, eight at a time while their W taps lie within eight inputs of the first one's (an
    /// upsampling by 8/7 or more, away from the row's right end): the eight inputs loaded once per input row and each
    /// lane's two taps picked by a permute, then <see cref="Blend"/>'s operations on the lanes, the same bits. Returns the
    /// first output left to the scalar loops.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int BlendVectors(int rank, float* r00, float* r01, float* r10, float* r11, in AxisTaps w, float lh0, float lh1, float ld0, float ld1,
        int inW, int n, float* dst)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported) return 0;
        int ow = 0;
        for (; ow + 8 <= n; ow += 8)
        {
            int b = w.I0[ow];
            if (w.I1[ow + 7] - b > 7 || b + 8 > inW) break; // the taps run monotone: lane 7's second is the farthest
            var base0 = Vector256.Create(b);
            Vector256<int> i0 = Vector256.Load(w.I0 + ow) - base0, i1 = Vector256.Load(w.I1 + ow) - base0;
            Vector256<float> l0 = Vector256.Load(w.L0 + ow), l1 = Vector256.Load(w.L1 + ow);
            var y = Row(r00 + b, i0, i1, l0, l1);
            if (rank >= 2)
            {
                Vector256<float> h0 = Vector256.Create(lh0), h1 = Vector256.Create(lh1);
                y = Fma.MultiplyAdd(y, h0, Row(r01 + b, i0, i1, l0, l1) * h1);
                if (rank == 3)
                {
                    var far = Fma.MultiplyAdd(Row(r10 + b, i0, i1, l0, l1), h0, Row(r11 + b, i0, i1, l0, l1) * h1);
                    y = Fma.MultiplyAdd(y, Vector256.Create(ld0), far * Vector256.Create(ld1));
                }
            }
            y.Store(dst + ow);
        }
        return ow;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<float> Row(float* x, Vector256<int> i0, Vector256<int> i1, Vector256<float> l0, Vector256<float> l1)
        {
            var v = Vector256.Load(x);
            return Fma.MultiplyAdd(Avx2.PermuteVar8x32(v, i0), l0, Avx2.PermuteVar8x32(v, i1) * l1);
        }
    }

    /// <summary>v0·λ0 + v1·λ1 as fma(v0, λ0, v1·λ1): PyTorch 1.13's CPU kernels, whose t0 * w0 + t1 * w1 the compiler fuses so.</summary>
    static float Blend(float v0, float v1, float l0, float l1) => MathF.FusedMultiplyAdd(v0, l0, v1 * l1);

    readonly struct BackwardLoop(UpsampleGeometry g, TapsView t, float* dy, float* dx, long rows, int tasks) : ICpuLoop
    {
        public int Tasks => tasks;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            var (first, end) = RowsOf(task, tasks, rows);
            for (long r = first; r < end; r++) BackwardRow(g, t, dy, dx, r);
        }
    }

    /// <summary>Input row r = (plane, id, ih) of dx: each element the sum over the outputs that read it (see the class).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void BackwardRow(in UpsampleGeometry g, in TapsView t, float* dy, float* dx, long r)
    {
        long plane = PlaneOf(r, g.D.In, g.H.In, out int id, out int ih);
        float* dyPlane = dy + plane * g.OutPlane;
        float* row = dx + r * g.W.In;
        for (int iw = 0; iw < g.W.In; iw++) row[iw] = GatheredAt(g, t, dyPlane, id, ih, iw);
    }

    /// <summary>dx at (id, ih, iw) of a plane: the sum over the outputs that read it, in the scatter's order (see the class).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float GatheredAt(in UpsampleGeometry g, in TapsView t, float* dyPlane, int id, int ih, int iw)
    {
        int d0 = t.D.First[id], d1 = t.D.End[id], h0 = t.H.First[ih], h1 = t.H.End[ih];
        long outW = g.W.Out, outH = g.H.Out;
        int rank = g.LinearRank;
        int w0 = t.W.First[iw], w1 = t.W.End[iw];
        float acc = 0f;
        for (int od = d0; od < d1; od++)
        {
            var wd = TapWeights.Of(t.D, od, id, real: rank == 3);
            for (int oh = h0; oh < h1; oh++)
            {
                var wh = TapWeights.Of(t.H, oh, ih, real: rank >= 2);
                float* src = dyPlane + (od * outH + oh) * outW;
                if (rank == 0)
                    for (int ow = w0; ow < w1; ow++) acc += src[ow];
                else
                    for (int ow = w0; ow < w1; ow++)
                    {
                        var ww = TapWeights.Of(t.W, ow, iw, real: true);
                        float v = src[ow];
                        // PyTorch scatters each output onto its taps (d, h, w tap 0 then 1, lexicographic), dx += w·dy
                        // fused; the gather visits the same taps of this input in the same order.
                        for (int a = 0; a < 2; a++)
                        {
                            if (!wd.Has(a)) continue;
                            for (int b = 0; b < 2; b++)
                            {
                                if (!wh.Has(b)) continue;
                                for (int c = 0; c < 2; c++)
                                {
                                    if (!ww.Has(c)) continue;
                                    float w = rank switch
                                    {
                                        1 => ww.Weight(c),
                                        2 => wh.Weight(b) * ww.Weight(c),
                                        _ => wd.Weight(a) * wh.Weight(b) * ww.Weight(c),
                                    };
                                    acc = MathF.FusedMultiplyAdd(w, v, acc);
                                }
                            }
                        }
                    }
            }
        }
        return acc;
    }

    /// <summary>The scatter's task: its run of planes (a plane's outputs write anywhere in its dx plane).</summary>
    readonly struct ScatterLoop(UpsampleGeometry g, TapsView t, float* dy, float* dx, int tasks) : ICpuLoop
    {
        public int Tasks => tasks;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            var (first, end) = RowsOf(task, tasks, g.Planes);
            for (long plane = first; plane < end; plane++) ScatterPlane(g, t, dy + plane * g.OutPlane, dx + plane * g.InPlane);
        }
    }

    /// <summary>
    /// One plane of dx by scattering: +0 everywhere, then each output (od, oh, ow) in ascending order adds dy to its taps'
    /// inputs in tap order (d, h, w tap 0 then 1): fma(w, dy, dx[i]) with the gather's weight products, or dx[i] + dy for
    /// nearest. A dimension of a lifted rank has one tap, input 0, weight 1 (not multiplied in), as <see cref="TapWeights"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ScatterPlane(in UpsampleGeometry g, in TapsView t, float* dy, float* dx)
    {
        new Span<float>(dx, checked((int)g.InPlane)).Clear();
        long inW = g.W.In, inH = g.H.In;
        int rank = g.LinearRank, outW = g.W.Out;
        int* w0 = t.W.I0;
        int* w1 = t.W.I1;
        float* lw0 = t.W.L0;
        float* lw1 = t.W.L1;
        int taps = rank == 3 ? 4 : rank == 2 ? 2 : 1; // (d, h) tap pairs: both taps of each real dimension among d and h
        long* rowAt = stackalloc long[4];
        float* rowWeight = stackalloc float[4];
        for (int od = 0; od < g.D.Out; od++)
            for (int oh = 0; oh < g.H.Out; oh++)
            {
                float* src = dy + ((long)od * g.H.Out + oh) * outW;
                if (rank == 0)
                {
                    float* row = dx + ((long)t.D.I0[od] * inH + t.H.I0[oh]) * inW;
                    int ow = 0;
                    if (t.Doubles && Sse.IsSupported)
                        // W's map o / 2: input w takes outputs 2w then 2w + 1, so four inputs add the even then the odd
                        // outputs of eight.
                        for (; ow + 8 <= outW; ow += 8)
                        {
                            Vector128<float> lo = Vector128.Load(src + ow), hi = Vector128.Load(src + ow + 4);
                            float* at = row + (ow >> 1);
                            (Vector128.Load(at) + Sse.Shuffle(lo, hi, 0b10_00_10_00) + Sse.Shuffle(lo, hi, 0b11_01_11_01)).Store(at);
                        }
                    for (; ow < outW; ow++) row[w0[ow]] += src[ow];
                    continue;
                }
                // The (d, h) taps in order a then b, each an input row and the weight the w tap's multiplies (the
                // gather's wd·wh·ww is (wd·wh)·ww, so the (d, h) product is rounded first).
                for (int k = 0; k < taps; k++)
                {
                    int a = k >> 1, b = k & 1;
                    if (rank == 2) (a, b) = (0, k);
                    int id = rank == 3 ? (a == 0 ? t.D.I0[od] : t.D.I1[od]) : 0;
                    int ih = rank >= 2 ? (b == 0 ? t.H.I0[oh] : t.H.I1[oh]) : 0;
                    rowAt[k] = ((long)id * inH + ih) * inW;
                    float lh = b == 0 ? t.H.L0[oh] : t.H.L1[oh];
                    rowWeight[k] = rank == 3 ? (a == 0 ? t.D.L0[od] : t.D.L1[od]) * lh : lh;
                }
                for (int ow = 0; ow < outW; ow++)
                {
                    float v = src[ow];
                    int i0 = w0[ow], i1 = w1[ow];
                    float l0 = lw0[ow], l1 = lw1[ow];
                    for (int k = 0; k < taps; k++)
                    {
                        float* row = dx + rowAt[k];
                        float c0 = rank == 1 ? l0 : rowWeight[k] * l0, c1 = rank == 1 ? l1 : rowWeight[k] * l1;
                        row[i0] = MathF.FusedMultiplyAdd(c0, v, row[i0]);
                        row[i1] = MathF.FusedMultiplyAdd(c1, v, row[i1]);
                    }
                }
            }
    }

    /// <summary>
    /// Which of an output's two taps along one dimension are input i (both at the edge, where i0 = i1, and along a dimension
    /// with out = in), and their weights. A unit dimension of a lifted rank (real: false) has one tap, weight 1.
    /// </summary>
    readonly struct TapWeights(bool has0, bool has1, float l0, float l1)
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TapWeights Of(in AxisTaps a, int o, int i, bool real) =>
            real ? new(a.I0[o] == i, a.I1[o] == i, a.L0[o], a.L1[o]) : new(true, false, 1f, 0f);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Has(int tap) => tap == 0 ? has0 : has1;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Weight(int tap) => tap == 0 ? l0 : l1;
    }
}
