using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Cpu.Gemm;

namespace GpuConv.Cpu.ChannelTiled;

/// <summary>
/// Channel-tiled's K chunk on the Vector256 tier, swept in k-blocks: for each block of <see cref="BlockRows"/> rows of B,
/// every tile of the task's pixels, every 16-channel quarter (<see cref="ChannelTileKernels256.SweptFor"/>), the running
/// sums kept in the task's result between blocks. The quarter-at-a-time kernels (<see cref="ChannelTileKernels256.For"/>)
/// read a tile's input once per quarter over the whole chunk and the chunk's B once per tile, which on a 512 KiB L2
/// (AMD Zen 3) was bound by L2 traffic; here a k-block's B (16 KiB) stays in L1 for every tile and a tile's input for
/// its quarters. Same operations in the same order for every output (a sequential FMA chain from zero over the chunk,
/// then added to the previous chunks' sum): the same bits as the quarter kernels and as the AVX-512 tiles. A tile of one
/// pixel (a single position: classifiers, squeeze-and-excitation) takes its four quarters at once (<see cref="SweptOnePixel"/>).
/// </summary>
internal static unsafe class ChannelTiledAvx2
{
    /// <summary>
    /// Rows of B per k-block: its 64-channel rows (16 KiB) and a tile's input stay in L1 beside the sums. Measured on
    /// an AVX2-only AMD EPYC (Zen 3), one thread, 17 ResNet-50 / MobileNetV2 layers forced to channel-tiled, four rounds
    /// of alternated runs (docs/benchmarks.md): 64 rows fastest on 12 (sums of the minima 22.9 ms; 32 rows 23.3, 128
    /// rows 24.0; the quarter kernels 29.3).
    /// </summary>
    const int BlockRows = 64;

    /// <summary>Tiles (of up to 6 pixels) a task's k-block serves at most for the next block to be prefetched (a 14 × 14 plane: 33).</summary>
    const int MaxPrefetchTiles = 48;

    /// <summary>
    /// result[q − q0, 0..16·quarters] (+)= the chunk's sums for pixels [q0, q1) of pixel table <paramref name="pixelTable"/>,
    /// rows <paramref name="offsets"/>[0..kc) of B (<paramref name="b"/>, 64 floats a row); <paramref name="add"/>: added to
    /// result (an earlier chunk's), whose running sums then go to <paramref name="sums"/> (as many floats as result).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Chunk(nint kc, float* a, nint* pixelTable, nint* offsets, float* b, int q0, int q1, int quarters,
        float* result, float* sums, bool add)
    {
        const int Width = ChannelTileKernels.Channels, Tile = 6;
        int pixels = q1 - q0, tiles = (pixels + Tile - 1) / Tile;
        if (!add) sums = result;
        for (nint k0 = 0; k0 < kc; k0 += BlockRows)
        {
            nint rows = Math.Min(BlockRows, kc - k0);
            int flags = (k0 == 0 ? ChannelTileKernels256.First : 0) | (k0 + rows == kc ? ChannelTileKernels256.Last : 0)
                | (add ? ChannelTileKernels256.Add : 0);
            // The next k-block's rows of B into L2 while this block computes, where few tiles share a block (deep layers'
            // 7 × 7 and 14 × 14 planes): B is a layer's weights, read once a call from memory (9.4 MB for ResNet-50's
            // 7 × 7 × 512 3x3), a quarter of a row at a time, which the hardware prefetchers followed poorly (that layer
            // 1.2–1.3× faster on AVX2, 2048 → 512 1x1 1.1–1.2×). Where many tiles share it the fetch hides behind their work, and
            // the prefetches only crowded L2 (128 → 128 3x3 stride 2 on 56 × 56, 784 pixels: 0.89–0.95×).
            if (tiles > 1 && tiles <= MaxPrefetchTiles && k0 + rows < kc)
                PrefetchRows(b + (k0 + rows) * Width, Math.Min(BlockRows, kc - k0 - rows) * Width);
            // Tiles of near-equal size, as the quarter kernels' (a 1-pixel tile waits on FMA latency).
            for (int i = 0, q = q0; i < tiles; i++)
            {
                int r = q0 + (int)((long)pixels * (i + 1) / tiles) - q;
                nint at = (nint)(q - q0) * Width;
                if (r == 1) SweptOnePixel(rows, a, pixelTable + q, offsets + k0, b + k0 * Width, sums + at, result + at, quarters, flags);
                else ChannelTileKernels256.SweptFor(r)(rows, a, pixelTable + q, offsets + k0, b + k0 * Width, sums + at, result + at, Width, quarters, flags);
                q += r;
            }
        }
    }

    /// <summary>
    /// <see cref="ChannelTileKernels256.Swept1"/>'s sums (1 pixel, <paramref name="quarters"/> × 16 channels, the same
    /// flags and the same sequential FMA chain per output, so the same bits) with all four quarters' 8 accumulators at
    /// once: each row of B is read whole, front to back. Swept1 reads a quarter at a time, every fourth 64-byte line;
    /// for one pixel B is used once, straight from memory (a classifier's weights), and that stride starved the loads.
    /// Lanes past the quarters are computed on the panel's zero padding and not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void SweptOnePixel(nint kc, float* a, nint* pixels, nint* offsets, float* b, float* sums, float* c, int quarters, int flags)
    {
        const int Width = ChannelTileKernels.Channels;
        float* a0 = a + pixels[0];
        Vector256<float> s0, s1, s2, s3, s4, s5, s6, s7;
        if ((flags & ChannelTileKernels256.First) != 0)
            s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = Vector256<float>.Zero;
        else
        {
            s0 = Vector256.Load(sums); s1 = Vector256.Load(sums + 8); s2 = Vector256.Load(sums + 16); s3 = Vector256.Load(sums + 24);
            s4 = Vector256.Load(sums + 32); s5 = Vector256.Load(sums + 40); s6 = Vector256.Load(sums + 48); s7 = Vector256.Load(sums + 56);
        }
        for (nint p = 0; p < kc; p++, b += Width)
        {
            var x = Vector256.Create(a0[offsets[p]]);
            s0 = Vector256.MultiplyAddEstimate(x, Vector256.Load(b), s0); s1 = Vector256.MultiplyAddEstimate(x, Vector256.Load(b + 8), s1);
            s2 = Vector256.MultiplyAddEstimate(x, Vector256.Load(b + 16), s2); s3 = Vector256.MultiplyAddEstimate(x, Vector256.Load(b + 24), s3);
            s4 = Vector256.MultiplyAddEstimate(x, Vector256.Load(b + 32), s4); s5 = Vector256.MultiplyAddEstimate(x, Vector256.Load(b + 40), s5);
            s6 = Vector256.MultiplyAddEstimate(x, Vector256.Load(b + 48), s6); s7 = Vector256.MultiplyAddEstimate(x, Vector256.Load(b + 56), s7);
        }
        float* target = (flags & ChannelTileKernels256.Last) == 0 ? sums : c;
        bool add = (flags & ChannelTileKernels256.Last) != 0 && (flags & ChannelTileKernels256.Add) != 0;
        Store(target, 0, s0, s1, add);
        if (quarters > 1) Store(target, 16, s2, s3, add);
        if (quarters > 2) Store(target, 32, s4, s5, add);
        if (quarters > 3) Store(target, 48, s6, s7, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* target, int at, Vector256<float> low, Vector256<float> high, bool add)
    {
        if (add)
        {
            low += Vector256.Load(target + at);
            high += Vector256.Load(target + at + 8);
        }
        low.Store(target + at);
        high.Store(target + at + 8);
    }

    /// <summary>Asks for <paramref name="floats"/> floats from <paramref name="b"/> into L2, a 64-byte line at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void PrefetchRows(float* b, nint floats)
    {
        if (Sse.IsSupported)
            for (nint i = 0; i < floats; i += 16) Sse.Prefetch1(b + i);
    }
}
