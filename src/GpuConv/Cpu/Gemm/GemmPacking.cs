using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Runtime.CompilerServices;
namespace GpuConv.Cpu.Gemm;

/// <summary>
/// Copies blocks of A and B into the layout the microkernels stream: A as MR-row micro-panels
/// (for each k, MR consecutive values), B as NR-column micro-panels (for each k, NR consecutive
/// values), zero-padded to whole panels so the kernels never see a partial tile. Packing turns
/// any strides (plain or transposed operands) into unit-stride, cache-line-friendly streams.
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>Packs A[i0.., p0..] (mc × kc) into ceil(mc/MR) panels of kc × MR at <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(MatrixView a, int mc, int kc, int mr, float* dst)
    {
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* panel = dst + (nint)ir * kc;
            if (a.ColStride == 1)
            {
                // Row-major source: read each row contiguously, write it with stride MR.
                for (int i = 0; i < rows; i++)
                {
                    float* src = a.At(ir + i, 0);
                    float* d = panel + i;
                    for (int p = 0; p < kc; p++) d[(nint)p * mr] = src[p];
                }
            }
            else
            {
                // Column-major (transposed) source: for each k the MR values are contiguous.
                if (a.RowStride == 1 && rows == mr && (mr == 12 || mr == 8) && Vector256.IsHardwareAccelerated)
                {
                    // Whole panels (Wᵀ in backward-data): vector copies instead of MR scalar ones per k.
                    float* src = a.At(ir, 0);
                    nint cs = a.ColStride;
                    float* d = panel;
                    if (mr == 12)
                        for (int p = 0; p < kc; p++, src += cs, d += 12)
                        {
                            Vector256.Store(Vector256.Load(src), d);
                            Vector128.Store(Vector128.Load(src + 8), d + 8);
                        }
                    else
                        for (int p = 0; p < kc; p++, src += cs, d += 8)
                            Vector256.Store(Vector256.Load(src), d);
                    continue;
                }
                for (int p = 0; p < kc; p++)
                {
                    float* src = a.At(ir, p);
                    float* d = panel + (nint)p * mr;
                    for (int i = 0; i < rows; i++) d[i] = src[i * a.RowStride];
                }
            }
            if (rows < mr)
                for (int p = 0; p < kc; p++)
                    for (int i = rows; i < mr; i++) panel[(nint)p * mr + i] = 0f;
        }
    }

    /// <summary>
    /// How far ahead, in panels, each row of a row-major B is prefetched while it is packed. Packing reads kc rows
    /// (channel planes of a 1x1 layer's input) a panel at a time: kc interleaved streams, more than the hardware
    /// prefetchers follow, so a B that has left the cache came in at one miss's latency per line. EfficientNet-B0's
    /// 32 → 16 projection at 112 × 112 with its input evicted, one thread: 390 µs without, 366 at one panel ahead,
    /// 309–316 at two, 320 at three, 353 at eight; 190–198 µs warm either way. Whole networks, in-process A/B: MobileNetV2
    /// −1.5 %, MobileNetV3-Large −0.9 %, EfficientNet-B0 and ResNet-50 within noise (their 1x1 inputs are mostly still cached).
    /// </summary>
    const int PrefetchPanels = 2;

    /// <summary>Packs B[p0.., j0..] (kc × nc) into ceil(nc/NR) panels of kc × NR at <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(MatrixView b, int kc, int nc, int nr, float* dst)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* panel = dst + (nint)jr * kc;
            if (b.ColStride == 1)
            {
                // Row-major source: each k contributes a contiguous run of NR columns.
                nint bytes = (nint)cols * sizeof(float);
                nint ahead = (nint)PrefetchPanels * nr;
                for (int p = 0; p < kc; p++)
                {
                    float* d = panel + (nint)p * nr;
                    float* s = b.At(p, jr);
                    if (Sse.IsSupported && jr + ahead < nc)
                    {
                        // The panel's row ahead spans up to two cache lines (NR = 32 floats on AVX-512).
                        Sse.Prefetch0(s + ahead);
                        Sse.Prefetch0(s + ahead + 16);
                    }
                    Buffer.MemoryCopy(s, d, bytes, bytes);
                    for (int j = cols; j < nr; j++) d[j] = 0f;
                }
            }
            else
            {
                // Transposed source (colᵀ in backward-filter): read each column contiguously along k.
                for (int j = 0; j < cols; j++)
                {
                    float* src = b.At(0, jr + j);
                    float* d = panel + j;
                    nint rs = b.RowStride;
                    for (int p = 0; p < kc; p++) d[(nint)p * nr] = src[p * rs];
                }
                if (cols < nr)
                    for (int p = 0; p < kc; p++)
                        for (int j = cols; j < nr; j++) panel[(nint)p * nr + j] = 0f;
            }
        }
    }

    /// <summary>One k-row of B (nc contiguous floats) into its slot of every NR-column panel, zero-padding the last.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackRow(float* src, int nc, int nr, nint panelStride, float* dst)
    {
        int jr = 0;
        if (nr == 32 && Vector512.IsHardwareAccelerated)
        {
            for (; jr + 32 <= nc; jr += 32, dst += panelStride)
            {
                Vector512.Load(src + jr).Store(dst);
                Vector512.Load(src + jr + 16).Store(dst + 16);
            }
        }
        else
        {
            nint bytes = (nint)nr * sizeof(float);
            for (; jr + nr <= nc; jr += nr, dst += panelStride)
                Buffer.MemoryCopy(src + jr, dst, bytes, bytes);
        }
        if (jr < nc && nr == 32 && Avx512F.IsSupported)
        {
            // Last partial panel: masked loads read only the valid columns (no fault past them) and zero the rest.
            var rest = Vector512.Create(nc - jr);
            Avx512F.MaskLoad(src + jr, Vector512.LessThan(Vector512<int>.Indices, rest).AsSingle(), Vector512<float>.Zero).Store(dst);
            Avx512F.MaskLoad(src + jr + 16, Vector512.LessThan(Vector512<int>.Indices + Vector512.Create(16), rest).AsSingle(), Vector512<float>.Zero).Store(dst + 16);
        }
        else if (jr < nc)
        {
            int j = 0;
            for (; j < nc - jr; j++) dst[j] = src[jr + j];
            for (; j < nr; j++) dst[j] = 0f;
        }
    }
}
