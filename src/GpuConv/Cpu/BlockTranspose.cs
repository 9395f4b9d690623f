using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu;

/// <summary>
/// Writes a pixel-major block (row q: the channels of pixel q) into channel planes (row c: the pixels
/// of channel c), adding a bias per channel: 16 × 16 tiles transposed in registers (AVX-512), the
/// ragged edges element by element.
/// </summary>
internal static unsafe class BlockTranspose
{
    /// <summary>
    /// y[c · ldy + q] = src[q · lds + c] + bias[c] for q &lt; pixels, c &lt; channels (bias may be null).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ToPlanes(float* src, nint lds, int pixels, int channels, float* y, nint ldy, float* bias)
    {
        int q = 0, fullChannels = Avx512F.IsSupported ? channels / 16 * 16 : 0;
        if (fullChannels > 0)
        {
            var rows = stackalloc Vector512<float>[16];
            for (; q + 16 <= pixels; q += 16)
                for (int c = 0; c < fullChannels; c += 16)
                {
                    for (int i = 0; i < 16; i++) rows[i] = Vector512.Load(src + (nint)(q + i) * lds + c);
                    Transpose16(rows);
                    for (int i = 0; i < 16; i++)
                        (rows[i] + Vector512.Create(bias == null ? 0f : bias[c + i])).Store(y + (nint)(c + i) * ldy + q);
                }
        }
        // Pixels past the last whole 16, and channels past the last whole 16.
        for (int c = 0; c < channels; c++)
        {
            float b = bias == null ? 0f : bias[c];
            float* dst = y + (nint)c * ldy;
            for (int p = c < fullChannels ? q : 0; p < pixels; p++) dst[p] = src[(nint)p * lds + c] + b;
        }
    }

    /// <summary>Transposes 16 rows of 16 floats in place (four rounds of lane shuffles).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose16(Vector512<float>* r)
    {
        var t = stackalloc Vector512<float>[16];
        // Pairs of rows interleaved by element within each 128-bit lane.
        for (int i = 0; i < 8; i++)
        {
            t[2 * i] = Avx512F.UnpackLow(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = Avx512F.UnpackHigh(r[2 * i], r[2 * i + 1]);
        }
        // Then by element pair: lane L of r[4i + j] holds rows 4i..4i+3 of channel 4L + j.
        for (int i = 0; i < 4; i++)
        {
            r[4 * i] = Avx512F.UnpackLow(t[4 * i].AsDouble(), t[4 * i + 2].AsDouble()).AsSingle();
            r[4 * i + 1] = Avx512F.UnpackHigh(t[4 * i].AsDouble(), t[4 * i + 2].AsDouble()).AsSingle();
            r[4 * i + 2] = Avx512F.UnpackLow(t[4 * i + 1].AsDouble(), t[4 * i + 3].AsDouble()).AsSingle();
            r[4 * i + 3] = Avx512F.UnpackHigh(t[4 * i + 1].AsDouble(), t[4 * i + 3].AsDouble()).AsSingle();
        }
        // Then whole 128-bit lanes, twice: even lanes (0x88) and odd lanes (0xDD) of two registers.
        for (int j = 0; j < 4; j++)
        {
            t[j] = Avx512F.Shuffle4x128(r[j], r[4 + j], 0x88);
            t[4 + j] = Avx512F.Shuffle4x128(r[j], r[4 + j], 0xDD);
            t[8 + j] = Avx512F.Shuffle4x128(r[8 + j], r[12 + j], 0x88);
            t[12 + j] = Avx512F.Shuffle4x128(r[8 + j], r[12 + j], 0xDD);
        }
        for (int j = 0; j < 4; j++)
        {
            r[j] = Avx512F.Shuffle4x128(t[j], t[8 + j], 0x88);
            r[8 + j] = Avx512F.Shuffle4x128(t[j], t[8 + j], 0xDD);
            r[4 + j] = Avx512F.Shuffle4x128(t[4 + j], t[12 + j], 0x88);
            r[12 + j] = Avx512F.Shuffle4x128(t[4 + j], t[12 + j], 0xDD);
        }
    }
}
