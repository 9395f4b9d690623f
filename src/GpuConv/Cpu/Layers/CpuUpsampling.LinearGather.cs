using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.Layers;

/// <summary>
/// The linear modes' gradient (linear, bilinear, trilinear) gathered sixteen inputs of a row at a time on AVX-512. A row
/// is cut into blocks of sixteen inputs (the last one overlapping its neighbour, the same values written twice); for each
/// of a block's outputs k (up to six per input) the sixteen lanes' k-th outputs must lie within 32 floats of the dy row,
/// which two loads and a two-source permute bring into the lanes (scale 2: every other float). Lane j then adds exactly
/// the terms the gather definition (<see cref="GatheredAt"/>) adds for its input, in its order — output planes and rows
/// ascending, then outputs, then d, h and w taps, acc = fma(w, dy, acc) from +0 with w = λw, λh·λw or (λd·λh)·λw as the
/// rank asks — a term its input does not have (fewer outputs, a tap that is another input) left out by a per-lane select,
/// not added as zero. So the bits are the definition's, hence the scatter's and kernels/upsample.ptx's. A geometry some
/// block of which does not fit takes the scatter.
/// </summary>
internal static unsafe partial class CpuUpsampling
{
    const int BlockLanes = 16, MaxBlockOutputs = 6;

    /// <summary>
    /// The blocks of W's inputs: per block its first input and output count, and per output k the first float of its
    /// 32-float window; per output and tap the lanes' permute indices, w weights and masks (all-ones where the lane's
    /// input has the term). Pinned pooled arrays, held until the call returns; <see cref="Blocks"/> 0 where some block
    /// does not fit.
    /// </summary>
    readonly struct GatherPlan : IDisposable
    {
        const int IntsPerBlock = 2 + MaxBlockOutputs, VectorsPerBlock = MaxBlockOutputs * 5; // per k: index, 2 weights, 2 masks
        readonly int[] ints;
        readonly float[] floats;
        readonly GCHandle hi, hf;
        public readonly int Blocks;
        readonly int* blocks;
        readonly float* vectors;

        public GatherPlan(in UpsampleGeometry g, in AxisTaps w)
        {
            int count = (g.W.In + BlockLanes - 1) / BlockLanes;
            ints = ArrayPool<int>.Shared.Rent(count * IntsPerBlock);
            floats = ArrayPool<float>.Shared.Rent(count * VectorsPerBlock * BlockLanes + BlockLanes);
            hi = GCHandle.Alloc(ints, GCHandleType.Pinned);
            hf = GCHandle.Alloc(floats, GCHandleType.Pinned);
            blocks = (int*)hi.AddrOfPinnedObject();
            // 64-byte aligned vectors.
            vectors = (float*)(((nint)hf.AddrOfPinnedObject() + 63) & ~(nint)63);
            Blocks = count;
            for (int b = 0; b < count; b++)
            {
                int s = Math.Min(b * BlockLanes, g.W.In - BlockLanes);
                if (!TryBlock(g, w, s, blocks + b * IntsPerBlock, vectors + b * VectorsPerBlock * BlockLanes)) { Blocks = 0; break; }
            }
        }

        /// <summary>Whether inputs [s, s + 16) fit (see the struct); if so, their block written.</summary>
        static bool TryBlock(in UpsampleGeometry g, in AxisTaps w, int s, int* block, float* v)
        {
            int outputs = 0;
            for (int j = 0; j < BlockLanes; j++) outputs = Math.Max(outputs, w.End[s + j] - w.First[s + j]);
            if (outputs > MaxBlockOutputs || g.W.Out < 2 * BlockLanes) return false;
            for (int k = 0; k < outputs; k++)
            {
                // The window: from lane 0's k-th output (or the last 32 floats of the row), every lane's inside it.
                int window = Math.Min(w.First[s] + k, g.W.Out - 2 * BlockLanes);
                float* index = v + (k * 5) * BlockLanes, l0 = index + BlockLanes, l1 = l0 + BlockLanes, m0 = l1 + BlockLanes, m1 = m0 + BlockLanes;
                for (int j = 0; j < BlockLanes; j++)
                {
                    int i = s + j, o = w.First[i] + k;
                    bool has = o < w.End[i];
                    if (has && (o < window || o >= window + 2 * BlockLanes)) return false;
                    ((int*)index)[j] = has ? o - window : 0;
                    l0[j] = has ? w.L0[o] : 0f;
                    l1[j] = has ? w.L1[o] : 0f;
                    m0[j] = BitConverter.Int32BitsToSingle(has && w.I0[o] == i ? -1 : 0);
                    m1[j] = BitConverter.Int32BitsToSingle(has && w.I1[o] == i ? -1 : 0);
                }
                block[2 + k] = window;
            }
            (block[0], block[1]) = (s, outputs);
            return true;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int* Block(int b) => blocks + b * IntsPerBlock;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float* Vectors(int b) => vectors + b * VectorsPerBlock * BlockLanes;

        public void Dispose()
        {
            if (ints is null) return; // the default plan: none made
            hi.Free();
            hf.Free();
            ArrayPool<int>.Shared.Return(ints);
            ArrayPool<float>.Shared.Return(floats);
        }
    }

    /// <summary>
    /// Rows longer than this keep the scatter: the plan holds ~2 KB per block of sixteen inputs (2 MB here), and a long
    /// 1-d signal would ask for far more than its row.
    /// </summary>
    const int MaxVectorRow = 1 << 14;

    /// <summary>Whether a linear mode's gradient may gather in vectors here: AVX-512 and rows of 16 to <see cref="MaxVectorRow"/> inputs.</summary>
    static bool GathersInVectors(in UpsampleGeometry g) =>
        g.Kind == UpsampleGeometry.LinearKind && Avx512F.IsSupported && g.W.In >= BlockLanes && g.W.In <= MaxVectorRow;

    /// <summary>How many blocks of sixteen inputs the gradient of <paramref name="g"/> gathers in vectors on this machine (tests).</summary>
    internal static int GatherBlocks(in UpsampleGeometry g)
    {
        if (!GathersInVectors(g)) return 0;
        using var t = new Taps(g);
        using var p = new GatherPlan(g, t.View.W);
        return p.Blocks;
    }

    readonly struct LinearGatherLoop(UpsampleGeometry g, TapsView t, GatherPlan p, float* dy, float* dx, long rows, int tasks) : ICpuLoop
    {
        public int Tasks => tasks;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int task, WorkspaceSet workspace)
        {
            var (first, end) = RowsOf(task, tasks, rows);
            for (long r = first; r < end; r++) LinearGatherRow(g, t, p, dy, dx, r);
        }
    }

    /// <summary>Input row r = (plane, id, ih) of dx, block by block; the weight of a term as the definition's (λw, λh·λw or (λd·λh)·λw).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void LinearGatherRow(in UpsampleGeometry g, in TapsView t, in GatherPlan p, float* dy, float* dx, long r)
    {
        long plane = PlaneOf(r, g.D.In, g.H.In, out int id, out int ih);
        float* dyPlane = dy + plane * g.OutPlane;
        float* row = dx + r * g.W.In;
        int rank = g.LinearRank;
        int d0 = t.D.First[id], d1 = t.D.End[id], h0 = t.H.First[ih], h1 = t.H.End[ih];
        float* factors = stackalloc float[4];
        for (int b = 0; b < p.Blocks; b++)
        {
            int* block = p.Block(b);
            float* v = p.Vectors(b);
            int outputs = block[1];
            var acc = Vector512<float>.Zero;
            for (int od = d0; od < d1; od++)
            {
                var wd = TapWeights.Of(t.D, od, id, real: rank == 3);
                for (int oh = h0; oh < h1; oh++)
                {
                    var wh = TapWeights.Of(t.H, oh, ih, real: rank >= 2);
                    // The (d tap, h tap) pairs this input has, in order, each with its factor of the weight (rank 1: 1,
                    // which leaves λw as it is).
                    int pairs = 0;
                    for (int a = 0; a < 2; a++)
                        for (int c = 0; c < 2; c++)
                            if (wd.Has(a) && wh.Has(c))
                                factors[pairs++] = rank == 1 ? 1f : rank == 2 ? wh.Weight(c) : wd.Weight(a) * wh.Weight(c);
                    float* src = dyPlane + ((long)od * g.H.Out + oh) * g.W.Out;
                    for (int k = 0; k < outputs; k++)
                    {
                        float* at = v + k * 5 * BlockLanes;
                        float* window = src + block[2 + k];
                        var dyk = Avx512F.PermuteVar16x32x2(Vector512.Load(window), Vector512.Load((int*)at), Vector512.Load(window + BlockLanes));
                        var l0 = Vector512.Load(at + BlockLanes);
                        var l1 = Vector512.Load(at + 2 * BlockLanes);
                        var m0 = Vector512.Load(at + 3 * BlockLanes);
                        var m1 = Vector512.Load(at + 4 * BlockLanes);
                        for (int q = 0; q < pairs; q++)
                        {
                            var f = Vector512.Create(factors[q]);
                            acc = Vector512.ConditionalSelect(m0, Avx512F.FusedMultiplyAdd(f * l0, dyk, acc), acc);
                            acc = Vector512.ConditionalSelect(m1, Avx512F.FusedMultiplyAdd(f * l1, dyk, acc), acc);
                        }
                    }
                }
            }
            acc.Store(row + block[0]);
        }
    }
}
