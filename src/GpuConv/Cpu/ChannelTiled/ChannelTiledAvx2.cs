using System.Runtime.CompilerServices;
using GpuConv.Cpu.Gemm;

namespace GpuConv.Cpu.ChannelTiled;

/// <summary>
/// Channel-tiled's K chunk on the Vector256 tier, swept in k-blocks: for each block of <see cref="BlockRows"/> rows of B,
/// every tile of the task's pixels, every 16-channel quarter (<see cref="ChannelTileKernels256.SweptFor"/>), the running
/// sums kept in the task's result between blocks. The quarter-at-a-time kernels (<see cref="ChannelTileKernels256.For"/>)
/// read a tile's input once per quarter over the whole chunk and the chunk's B once per tile, which on a 512 KiB L2
/// (AMD Zen 3) was bound by L2 traffic; here a k-block's B (16 KiB) stays in L1 for every tile and a tile's input for
/// its quarters. Same operations in the same order for every output (a sequential FMA chain from zero over the chunk,
/// then added to the previous chunks' sum): the same bits as the quarter kernels and as the AVX-512 tiles.
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
            // Tiles of near-equal size, as the quarter kernels' (a 1-pixel tile waits on FMA latency).
            for (int i = 0, q = q0; i < tiles; i++)
            {
                int r = q0 + (int)((long)pixels * (i + 1) / tiles) - q;
                nint at = (nint)(q - q0) * Width;
                ChannelTileKernels256.SweptFor(r)(rows, a, pixelTable + q, offsets + k0, b + k0 * Width, sums + at, result + at, Width, quarters, flags);
                q += r;
            }
        }
    }
}
