using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// 16 channel planes into channel-last vectors at given destinations: pixel p's 16 channels go to
/// dst + offsets[p], so one pass both transposes and places each pixel (e.g. inside a zero-padded
/// plane), with no dense copy in between and no bias adds. 16 × 16 tiles in registers (AVX-512); the last
/// tile overlaps the one before it when the pixel count is not a multiple of 16 (same values written twice).
/// </summary>
internal static unsafe class ChannelLastScatter
{
    /// <summary>dst[offsets[p] + c] = planes[c · planeStride + p] for p &lt; pixels, c &lt; 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(float* planes, nint planeStride, int pixels, float* dst, int* offsets)
    {
        if (pixels < 16)
        {
            for (int p = 0; p < pixels; p++)
                for (int c = 0; c < 16; c++) dst[offsets[p] + c] = planes[c * planeStride + p];
            return;
        }
        for (int q = 0; ; q += 16)
        {
            if (q + 16 > pixels) q = pixels - 16;
            BlockTranspose.Transpose16x16(planes + q, planeStride, new ScatteredRows(dst, offsets + q));
            if (q + 16 >= pixels) break;
        }
    }

    /// <summary>
    /// dst[p · 16 + c] = planes[c · planeStride + p] for p &lt; pixels, c &lt; 16: the dense channel-last block, as
    /// <see cref="Run"/> (no offset table, no bias adds; AVX-512 for 16 pixels or more).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Contiguous(float* planes, nint planeStride, int pixels, float* dst)
    {
        if (pixels < 16)
        {
            for (int p = 0; p < pixels; p++)
                for (int c = 0; c < 16; c++) dst[p * 16 + c] = planes[c * planeStride + p];
            return;
        }
        for (int q = 0; ; q += 16)
        {
            if (q + 16 > pixels) q = pixels - 16;
            BlockTranspose.Transpose16x16(planes + q, planeStride, new ContiguousRows(dst + (nint)q * 16));
            if (q + 16 >= pixels) break;
        }
    }

    /// <summary>Pixel j's 16 channels (row j of the transposed tile) at dst + 16 · j.</summary>
    readonly struct ContiguousRows(float* dst) : BlockTranspose.ITransposedRows
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store(int j, Vector512<float> row) => row.Store(dst + j * 16);
    }

    /// <summary>Pixel j's 16 channels (row j of the transposed tile) at dst + offsets[j].</summary>
    readonly struct ScatteredRows(float* dst, int* offsets) : BlockTranspose.ITransposedRows
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store(int j, Vector512<float> row) => row.Store(dst + offsets[j]);
    }
}
