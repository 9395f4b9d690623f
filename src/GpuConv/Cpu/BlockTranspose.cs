using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Cpu.Elementwise;

namespace GpuConv.Cpu;

/// <summary>
/// Writes a pixel-major block (row q: the channels of pixel q) into channel planes (row c: the pixels
/// of channel c), adding a bias per channel: 16 × 16 tiles transposed in registers (AVX-512; 8 × 8 with
/// AVX), the ragged edges element by element.
/// </summary>
internal static unsafe class BlockTranspose
{
    /// <summary>
    /// y[c · ldy + q] = src[q · lds + c] + bias[c] for q &lt; pixels, c &lt; channels (bias may be null):
    /// 16 × 16 register tiles with AVX-512, 8 × 8 with AVX, element by element otherwise.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ToPlanes(float* src, nint lds, int pixels, int channels, float* y, nint ldy, float* bias) =>
        ToPlanes<NoActivation>(src, lds, pixels, channels, y, ldy, bias, DefaultTile);

    /// <summary>
    /// y[c · ldy + q] = act(src[q · lds + c] + bias[c]): ReLU and ReLU6 in the registers the transpose stores from (the
    /// same add and compare-and-selects as the separate ops, see <see cref="CpuActivation"/>); the others over the written rows after.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ToPlanes(float* src, nint lds, int pixels, int channels, float* y, nint ldy, float* bias, Activation act)
    {
        switch (act)
        {
            case Activation.Relu: ToPlanes<ReluLanes>(src, lds, pixels, channels, y, ldy, bias, DefaultTile); break;
            case Activation.Relu6: ToPlanes<Relu6Lanes>(src, lds, pixels, channels, y, ldy, bias, DefaultTile); break;
            default:
                ToPlanes<NoActivation>(src, lds, pixels, channels, y, ldy, bias, DefaultTile);
                CpuActivation.Rows(act, y, ldy, channels, pixels);
                break;
        }
    }

    static int DefaultTile => Avx512F.IsSupported ? 16 : Avx.IsSupported ? 8 : 0;

    /// <summary>As above with the register tile's side chosen: 16 (AVX-512), 8 (AVX) or 0 (none); tests force the narrower ones.</summary>
    internal static void ToPlanes(float* src, nint lds, int pixels, int channels, float* y, nint ldy, float* bias, int tile) =>
        ToPlanes<NoActivation>(src, lds, pixels, channels, y, ldy, bias, tile);

    /// <summary>As above with the activation <typeparamref name="TAct"/> applied to each sum before it is stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ToPlanes<TAct>(float* src, nint lds, int pixels, int channels, float* y, nint ldy, float* bias, int tile)
        where TAct : struct, IActivationLanes
    {
        int q = 0, fullChannels = tile > 0 ? channels / tile * tile : 0;
        if (fullChannels > 0)
        {
            float* zeros = stackalloc float[16];
            for (int i = 0; i < 16; i++) zeros[i] = 0f;
            for (; q + tile <= pixels; q += tile)
                for (int c = 0; c < fullChannels; c += tile)
                {
                    float* b = bias == null ? zeros : bias + c;
                    if (tile == 16) Transpose16x16(src + (nint)q * lds + c, lds, new PlaneRows<TAct>(y + (nint)c * ldy + q, ldy, b));
                    else Transpose8x8<TAct>(src + (nint)q * lds + c, lds, y + (nint)c * ldy + q, ldy, b);
                }
        }
        // Pixels past the last whole tile, and channels past the last whole tile.
        for (int c = 0; c < channels; c++)
        {
            float b = bias == null ? 0f : bias[c];
            float* dst = y + (nint)c * ldy;
            for (int p = c < fullChannels ? q : 0; p < pixels; p++) dst[p] = TAct.On(src[(nint)p * lds + c] + b);
        }
    }

    /// <summary>Transposes 8 rows of 8 floats in ymm registers (three rounds of shuffles), adding bias[j] to row j of the result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8x8<TAct>(float* src, nint lds, float* dst, nint ldd, float* bias) where TAct : struct, IActivationLanes
    {
        var r0 = Vector256.Load(src); var r1 = Vector256.Load(src + lds);
        var r2 = Vector256.Load(src + 2 * lds); var r3 = Vector256.Load(src + 3 * lds);
        var r4 = Vector256.Load(src + 4 * lds); var r5 = Vector256.Load(src + 5 * lds);
        var r6 = Vector256.Load(src + 6 * lds); var r7 = Vector256.Load(src + 7 * lds);
        // Pairs of rows interleaved by element within each 128-bit lane, then by element pair.
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        // Then the 128-bit halves: column j of rows 0-3 with column j of rows 4-7.
        TAct.On(Avx.Permute2x128(u0, u4, 0x20) + Vector256.Create(bias[0])).Store(dst);
        TAct.On(Avx.Permute2x128(u1, u5, 0x20) + Vector256.Create(bias[1])).Store(dst + ldd);
        TAct.On(Avx.Permute2x128(u2, u6, 0x20) + Vector256.Create(bias[2])).Store(dst + 2 * ldd);
        TAct.On(Avx.Permute2x128(u3, u7, 0x20) + Vector256.Create(bias[3])).Store(dst + 3 * ldd);
        TAct.On(Avx.Permute2x128(u0, u4, 0x31) + Vector256.Create(bias[4])).Store(dst + 4 * ldd);
        TAct.On(Avx.Permute2x128(u1, u5, 0x31) + Vector256.Create(bias[5])).Store(dst + 5 * ldd);
        TAct.On(Avx.Permute2x128(u2, u6, 0x31) + Vector256.Create(bias[6])).Store(dst + 6 * ldd);
        TAct.On(Avx.Permute2x128(u3, u7, 0x31) + Vector256.Create(bias[7])).Store(dst + 7 * ldd);
    }

    /// <summary>Transposes 16 rows of 16 floats held in registers (four rounds of lane shuffles; written out so every value stays in a register).</summary>
    /// <remarks>Row j of the result goes to <paramref name="rows"/>.Store(j, …); the struct's type is a generic
    /// argument, so each destination gets its own compiled copy with the store inlined.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Transpose16x16<TRows>(float* src, nint lds, TRows rows) where TRows : struct, ITransposedRows
    {
        var r0 = Vector512.Load(src + 0 * lds);
        var r1 = Vector512.Load(src + 1 * lds);
        var r2 = Vector512.Load(src + 2 * lds);
        var r3 = Vector512.Load(src + 3 * lds);
        var r4 = Vector512.Load(src + 4 * lds);
        var r5 = Vector512.Load(src + 5 * lds);
        var r6 = Vector512.Load(src + 6 * lds);
        var r7 = Vector512.Load(src + 7 * lds);
        var r8 = Vector512.Load(src + 8 * lds);
        var r9 = Vector512.Load(src + 9 * lds);
        var r10 = Vector512.Load(src + 10 * lds);
        var r11 = Vector512.Load(src + 11 * lds);
        var r12 = Vector512.Load(src + 12 * lds);
        var r13 = Vector512.Load(src + 13 * lds);
        var r14 = Vector512.Load(src + 14 * lds);
        var r15 = Vector512.Load(src + 15 * lds);
        // Pairs of rows interleaved by element within each 128-bit lane.
        var t0 = Avx512F.UnpackLow(r0, r1); var t1 = Avx512F.UnpackHigh(r0, r1);
        var t2 = Avx512F.UnpackLow(r2, r3); var t3 = Avx512F.UnpackHigh(r2, r3);
        var t4 = Avx512F.UnpackLow(r4, r5); var t5 = Avx512F.UnpackHigh(r4, r5);
        var t6 = Avx512F.UnpackLow(r6, r7); var t7 = Avx512F.UnpackHigh(r6, r7);
        var t8 = Avx512F.UnpackLow(r8, r9); var t9 = Avx512F.UnpackHigh(r8, r9);
        var t10 = Avx512F.UnpackLow(r10, r11); var t11 = Avx512F.UnpackHigh(r10, r11);
        var t12 = Avx512F.UnpackLow(r12, r13); var t13 = Avx512F.UnpackHigh(r12, r13);
        var t14 = Avx512F.UnpackLow(r14, r15); var t15 = Avx512F.UnpackHigh(r14, r15);
        // Then by element pair: lane L of u[4i + j] holds rows 4i..4i+3 of channel 4L + j.
        var u0 = Avx512F.UnpackLow(t0.AsDouble(), t2.AsDouble()).AsSingle(); var u1 = Avx512F.UnpackHigh(t0.AsDouble(), t2.AsDouble()).AsSingle();
        var u2 = Avx512F.UnpackLow(t1.AsDouble(), t3.AsDouble()).AsSingle(); var u3 = Avx512F.UnpackHigh(t1.AsDouble(), t3.AsDouble()).AsSingle();
        var u4 = Avx512F.UnpackLow(t4.AsDouble(), t6.AsDouble()).AsSingle(); var u5 = Avx512F.UnpackHigh(t4.AsDouble(), t6.AsDouble()).AsSingle();
        var u6 = Avx512F.UnpackLow(t5.AsDouble(), t7.AsDouble()).AsSingle(); var u7 = Avx512F.UnpackHigh(t5.AsDouble(), t7.AsDouble()).AsSingle();
        var u8 = Avx512F.UnpackLow(t8.AsDouble(), t10.AsDouble()).AsSingle(); var u9 = Avx512F.UnpackHigh(t8.AsDouble(), t10.AsDouble()).AsSingle();
        var u10 = Avx512F.UnpackLow(t9.AsDouble(), t11.AsDouble()).AsSingle(); var u11 = Avx512F.UnpackHigh(t9.AsDouble(), t11.AsDouble()).AsSingle();
        var u12 = Avx512F.UnpackLow(t12.AsDouble(), t14.AsDouble()).AsSingle(); var u13 = Avx512F.UnpackHigh(t12.AsDouble(), t14.AsDouble()).AsSingle();
        var u14 = Avx512F.UnpackLow(t13.AsDouble(), t15.AsDouble()).AsSingle(); var u15 = Avx512F.UnpackHigh(t13.AsDouble(), t15.AsDouble()).AsSingle();
        // Then whole 128-bit lanes, twice: even lanes (0x88) and odd lanes (0xDD) of two registers.
        var v0 = Avx512F.Shuffle4x128(u0, u4, 0x88); var v4 = Avx512F.Shuffle4x128(u0, u4, 0xDD);
        var v8 = Avx512F.Shuffle4x128(u8, u12, 0x88); var v12 = Avx512F.Shuffle4x128(u8, u12, 0xDD);
        var v1 = Avx512F.Shuffle4x128(u1, u5, 0x88); var v5 = Avx512F.Shuffle4x128(u1, u5, 0xDD);
        var v9 = Avx512F.Shuffle4x128(u9, u13, 0x88); var v13 = Avx512F.Shuffle4x128(u9, u13, 0xDD);
        var v2 = Avx512F.Shuffle4x128(u2, u6, 0x88); var v6 = Avx512F.Shuffle4x128(u2, u6, 0xDD);
        var v10 = Avx512F.Shuffle4x128(u10, u14, 0x88); var v14 = Avx512F.Shuffle4x128(u10, u14, 0xDD);
        var v3 = Avx512F.Shuffle4x128(u3, u7, 0x88); var v7 = Avx512F.Shuffle4x128(u3, u7, 0xDD);
        var v11 = Avx512F.Shuffle4x128(u11, u15, 0x88); var v15 = Avx512F.Shuffle4x128(u11, u15, 0xDD);
        rows.Store(0, Avx512F.Shuffle4x128(v0, v8, 0x88));
        rows.Store(1, Avx512F.Shuffle4x128(v1, v9, 0x88));
        rows.Store(2, Avx512F.Shuffle4x128(v2, v10, 0x88));
        rows.Store(3, Avx512F.Shuffle4x128(v3, v11, 0x88));
        rows.Store(4, Avx512F.Shuffle4x128(v4, v12, 0x88));
        rows.Store(5, Avx512F.Shuffle4x128(v5, v13, 0x88));
        rows.Store(6, Avx512F.Shuffle4x128(v6, v14, 0x88));
        rows.Store(7, Avx512F.Shuffle4x128(v7, v15, 0x88));
        rows.Store(8, Avx512F.Shuffle4x128(v0, v8, 0xDD));
        rows.Store(9, Avx512F.Shuffle4x128(v1, v9, 0xDD));
        rows.Store(10, Avx512F.Shuffle4x128(v2, v10, 0xDD));
        rows.Store(11, Avx512F.Shuffle4x128(v3, v11, 0xDD));
        rows.Store(12, Avx512F.Shuffle4x128(v4, v12, 0xDD));
        rows.Store(13, Avx512F.Shuffle4x128(v5, v13, 0xDD));
        rows.Store(14, Avx512F.Shuffle4x128(v6, v14, 0xDD));
        rows.Store(15, Avx512F.Shuffle4x128(v7, v15, 0xDD));
    }


    /// <summary>Where the transposed rows of one tile go.</summary>
    internal interface ITransposedRows
    {
        void Store(int j, Vector512<float> row);
    }

    /// <summary>Channel planes: row j (channel j) at dst + j · ldd, plus bias[j], then the activation.</summary>
    [method: MethodImpl(MethodImplOptions.AggressiveInlining)]
    readonly struct PlaneRows<TAct>(float* dst, nint ldd, float* bias) : ITransposedRows where TAct : struct, IActivationLanes
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store(int j, Vector512<float> row) => TAct.On(row + Vector512.Create(bias[j])).Store(dst + j * ldd);
    }
}
