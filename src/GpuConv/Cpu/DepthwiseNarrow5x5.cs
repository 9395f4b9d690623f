using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Geometry = GpuConv.Cpu.ReferenceConv.Geometry;

namespace GpuConv.Cpu;

/// <summary>
/// Depthwise 5x5 "same" forward on planes of at most 7 columns (2-D, one filter per channel, stride 1,
/// two padding columns each side: EfficientNet's 7 × 7 layers), two output rows per vector as in
/// <see cref="Depthwise3x3"/>'s paired rows: the pair R(r) holds rows r and r + 1 in lanes 0…6 and
/// 8…14 with zero lanes 7 and 15, read once per plane from x. A tap one column away is the pair shifted
/// by one lane (the zero lane is the padding); two columns away the shift would reach into the other
/// row, so that one lane is cleared. Output rows (oh, oh + 1) read R(oh − ph + dh) for the five kernel
/// rows dh, one partial sum each. Replaces the 16-channel blocked kernel there (1152 × 7 × 7, one
/// thread: 0.068 ms, ONNX Runtime 0.035).
/// </summary>
internal static unsafe class DepthwiseNarrow5x5
{
    public static bool Applies(in Geometry g, int multiplier) =>
        Avx512F.IsSupported && multiplier == 1 &&
        g.InD == 1 && g.OutD == 1 && g.KD == 1 && g.KH == 5 && g.KW == 5 && g.DH == 1 && g.DW == 1 &&
        g.SH == 1 && g.SW == 1 && g.PW == 2 && g.InW <= 7 && g.OutW == g.InW;

    /// <summary>One plane: y[oh, ow] = bias + Σ w[dh, dw]·x[oh − ph + dh, ow − 2 + dw] (zero outside x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Plane(in Geometry g, float* x, float* w, float* y, float bias)
    {
        int inH = g.InH, width = g.InW, outH = g.OutH;
        var col = Vector512<int>.Indices & Vector512.Create(7);
        var lowHalf = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(8));
        var inRow = Vector512.LessThan(col, Vector512.Create(width));
        var low = (inRow & lowHalf).AsSingle();
        var both = inRow.AsSingle();
        // Two lanes over, lane 8 would read lane 6 (the first row) and lane 6 lane 8 (the second row).
        var lane8 = Vector512.Equals(Vector512<int>.Indices, Vector512.Create(8)).AsSingle();
        var lane6 = Vector512.Equals(Vector512<int>.Indices, Vector512.Create(6)).AsSingle();
        var vb = Vector512.Create(bias);
        int r = -g.PH;
        bool odd = (r & 1) != 0;
        int k = r >> 1;     // floor(r / 2)
        // e0 … e3 = R(2k), R(2k + 2), R(2k + 4), R(2k + 6): the even pairs the output pair reads.
        var e0 = Depthwise3x3.EvenPair(x, 2 * k, inH, width, low, both);
        var e1 = Depthwise3x3.EvenPair(x, 2 * k + 2, inH, width, low, both);
        var e2 = Depthwise3x3.EvenPair(x, 2 * k + 4, inH, width, low, both);
        for (int oh = 0; oh < outH; oh += 2, k++)
        {
            var e3 = Depthwise3x3.EvenPair(x, 2 * k + 6, inH, width, low, both);
            Vector512<float> p0, p1, p2, p3, p4;
            if (odd)
            {
                p0 = Depthwise3x3.Rows8(e1, e0); p1 = e1; p2 = Depthwise3x3.Rows8(e2, e1); p3 = e2; p4 = Depthwise3x3.Rows8(e3, e2);
            }
            else
            {
                p0 = e0; p1 = Depthwise3x3.Rows8(e1, e0); p2 = e1; p3 = Depthwise3x3.Rows8(e2, e1); p4 = e2;
            }
            var s0 = KernelRow(p0, w, lane8, lane6, vb);
            var s1 = KernelRow(p1, w + 5, lane8, lane6, Vector512<float>.Zero);
            var s2 = KernelRow(p2, w + 10, lane8, lane6, Vector512<float>.Zero);
            var s3 = KernelRow(p3, w + 15, lane8, lane6, Vector512<float>.Zero);
            var s4 = KernelRow(p4, w + 20, lane8, lane6, Vector512<float>.Zero);
            bool second = oh + 1 < outH;
            var packed = Avx512F.Compress(Vector512<float>.Zero, second ? both : low, (s0 + s1) + (s2 + s3) + s4);
            Avx512F.MaskStore(y + (nint)oh * width, Depthwise3x3.InRange(0, second ? 2 * width : width), packed);
            e0 = e1; e1 = e2; e2 = e3;
        }
    }

    /// <summary>acc + Σ_dw w[dw]·(pair v shifted to read column ow − 2 + dw).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> KernelRow(Vector512<float> v, float* w, Vector512<float> lane8, Vector512<float> lane6, Vector512<float> acc)
    {
        var vi = v.AsInt32();
        var zero = Vector512<int>.Zero;
        var left2 = Vector512.AndNot(Avx512F.AlignRight32(vi, zero, 14).AsSingle(), lane8);     // lane i ← lane i − 2
        var left1 = Avx512F.AlignRight32(vi, zero, 15).AsSingle();                              // lane i ← lane i − 1
        var right1 = Avx512F.AlignRight32(zero, vi, 1).AsSingle();                              // lane i ← lane i + 1
        var right2 = Vector512.AndNot(Avx512F.AlignRight32(zero, vi, 2).AsSingle(), lane6);     // lane i ← lane i + 2
        acc = Vector512.FusedMultiplyAdd(Vector512.Create(w[0]), left2, acc);
        acc = Vector512.FusedMultiplyAdd(Vector512.Create(w[1]), left1, acc);
        acc = Vector512.FusedMultiplyAdd(Vector512.Create(w[2]), v, acc);
        acc = Vector512.FusedMultiplyAdd(Vector512.Create(w[3]), right1, acc);
        return Vector512.FusedMultiplyAdd(Vector512.Create(w[4]), right2, acc);
    }
}
