using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using GpuConv.Cpu.Elementwise;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.Shifted;

// Shifted-direct on the Vector256 tier (AVX2 + FMA): the same runs of output rows, windows and tables as on Vector512
// (ShiftedDirect.cs), one output row's channels in tiles of 6 (or 4) × 16 pixels (RowTileKernels256) instead of 12 × 32.
internal static unsafe partial class ShiftedDirect
{
    /// <summary>The AVX2 tiles need AVX2 and FMA (their fused multiply-adds, as the AVX-512 tiles').</summary>
    static bool Avx2Kernels => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Pixels per AVX2 tile: two ymm vectors a channel.</summary>
    const int Width256 = 16;

    /// <summary>
    /// Rows of the next AVX2 channel tile when <paramref name="left"/> channels remain: 6, and 4 where that splits the
    /// rest without padding (8 = 4 + 4, so 32 = 4 × 6 + 4 + 4 and 64 = 10 × 6 + 4); 0 for a last 1, 2, 3 or 5, which go
    /// through the zero-padded edge tile.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int TileRows256(int left) =>
        left == 8 || left == 4 ? 4
        : left >= 6 ? 6
        : 0;

    /// <summary>One output row for all <paramref name="kg"/> channels of its group, channel tile by channel tile, into y (channel rows <paramref name="ldy"/> apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowTiles256(WorkspaceSet ws, int depth, int kg, float* w, float* b, nint* offsets, float* y, nint ldy, float* bias, int outW, Activation act,
        ref float* edgeA, ref float* edgeC)
    {
        for (int i0 = 0; i0 < kg;)
        {
            int left = kg - i0, mr = TileRows256(left);
            if (mr == 0)
            {
                if (edgeA == null)
                {
                    edgeA = ws.Get(WorkspaceSlot.PackA, (long)EdgeRows * depth);
                    edgeC = ws.Get(WorkspaceSlot.PackB, EdgeRows * Width);
                    new Span<float>(edgeA, EdgeRows * depth).Clear();
                }
                // Rows past `left` stay zero: every edge tile of a run has the same `left` (the group's kg).
                new Span<float>(w + (nint)i0 * depth, left * depth).CopyTo(new Span<float>(edgeA, left * depth));
                switch (act)
                {
                    case Activation.Relu: EdgeTile256<ReluLanes>(depth, left, edgeA, edgeC, b, offsets, y + (nint)i0 * ldy, ldy, bias + i0, outW); break;
                    case Activation.Relu6: EdgeTile256<Relu6Lanes>(depth, left, edgeA, edgeC, b, offsets, y + (nint)i0 * ldy, ldy, bias + i0, outW); break;
                    default: EdgeTile256<NoActivation>(depth, left, edgeA, edgeC, b, offsets, y + (nint)i0 * ldy, ldy, bias + i0, outW); break;
                }
                break;
            }
            switch (act)
            {
                case Activation.Relu: RowTiles256<ReluLanes>(mr, depth, w + (nint)i0 * depth, b, offsets, y + (nint)i0 * ldy, ldy, bias + i0, outW); break;
                case Activation.Relu6: RowTiles256<Relu6Lanes>(mr, depth, w + (nint)i0 * depth, b, offsets, y + (nint)i0 * ldy, ldy, bias + i0, outW); break;
                default: RowTiles256<NoActivation>(mr, depth, w + (nint)i0 * depth, b, offsets, y + (nint)i0 * ldy, ldy, bias + i0, outW); break;
            }
            i0 += mr;
        }
    }

    /// <summary><paramref name="mr"/> (6 or 4) channels of one output row, in tiles of 16 pixels (the last one masked), <typeparamref name="TAct"/> in the stores.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowTiles256<TAct>(int mr, int depth, float* w, float* b, nint* offsets, float* y, nint ldy, float* bias, int outW) where TAct : struct, IActivationLanes
    {
        for (int j0 = 0; j0 < outW; j0 += Width256)
        {
            int cols = Math.Min(Width256, outW - j0);
            if (mr == 6) RowTileKernels256.Tile6x16<TAct>(depth, w, depth, b + j0, offsets, y + j0, ldy, bias, cols);
            else RowTileKernels256.Tile4x16<TAct>(depth, w, depth, b + j0, offsets, y + j0, ldy, bias, cols);
        }
    }

    /// <summary>The last 1, 2, 3 or 5 channels: a 6-row tile from zero-padded weights into scratch, its valid rows copied to y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void EdgeTile256<TAct>(int depth, int rows, float* edgeA, float* edgeC, float* b, nint* offsets, float* y, nint ldy, float* bias, int outW) where TAct : struct, IActivationLanes
    {
        for (int j0 = 0; j0 < outW; j0 += Width256)
        {
            int cols = Math.Min(Width256, outW - j0);
            RowTileKernels256.Tile6x16<TAct>(depth, edgeA, depth, b + j0, offsets, edgeC, Width, bias, cols);
            for (int i = 0; i < rows; i++)
                Buffer.MemoryCopy(edgeC + i * Width, y + i * ldy + j0, cols * sizeof(float), cols * sizeof(float));
        }
    }
}
