using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// Depthwise 5x5 and 7x7 forward on outputs of at most 7 columns (2-D, one filter per channel; 5x5
/// stride 1 "same" on ≤ 7-column planes and stride 2 from at most 16 columns, EfficientNet's 7 × 7
/// layers; 7x7 stride 1 "same" for layers of fewer than 16 channels and the channels past the last
/// block of 16, whole blocks going to <see cref="DepthwiseChannelLast"/>), two output rows per vector as in
/// <see cref="Depthwise3x3"/>'s paired rows (<see cref="RowPairs"/>): the pair R(r) holds rows r and
/// r + 1 in lanes 0…6 and 8…14 with zero lanes 7 and 15, read once per plane from x. A tap one column
/// away is the pair shifted by one lane (the zero lane is the padding); two or three columns away the
/// shift would reach into the other row, so those lanes are cleared. Output rows (oh, oh + 1) read
/// R(oh − ph + dh) for the kernel rows dh, one partial sum each. Replaces the 16-channel blocked kernel
/// there (one thread: 1152 × 7 × 7 5x5 0.070 → 0.038–0.051 ms, ONNX Runtime 0.035; 672 × 14 × 14 5x5
/// stride 2 0.060 → 0.026–0.034, ORT 0.038).
/// </summary>
internal static unsafe class DepthwiseNarrow
{
    public static bool Applies(in Geometry g, int multiplier) =>
        Avx512F.IsSupported && multiplier == 1 &&
        g.InD == 1 && g.OutD == 1 && g.KD == 1 && g.DH == 1 && g.DW == 1 &&
        ((g.KH == 5 && g.KW == 5 && g.PW == 2 &&
          ((g.SH == 1 && g.SW == 1 && g.InW <= 7 && g.OutW == g.InW) || (g.SH == 2 && g.SW == 2 && g.OutW <= 7 && g.InW <= 16))) ||
         (g.KH == 7 && g.KW == 7 && g.PW == 3 && g.SH == 1 && g.SW == 1 && g.InW <= 7 && g.OutW == g.InW));

    /// <summary>One plane: y[oh, ow] = bias + Σ w[dh, dw]·x[oh·s − ph + dh, ow·s − pw + dw] (zero outside x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Plane(in Geometry g, float* x, float* w, float* y, float bias)
    {
        if (g.KW == 7) Stride1Seven(g, x, w, y, bias);
        else if (g.SW == 1) Stride1(g, x, w, y, bias);
        else Stride2(g, x, w, y, bias);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Stride1(in Geometry g, float* x, float* w, float* y, float bias)
    {
        int inH = g.InH, outH = g.OutH;
        var pairs = new RowPairs(g.InW);
        // Two lanes over, lane 8 would read lane 6 (the first row) and lane 6 lane 8 (the second row).
        var lane8 = Vector512.Equals(Vector512<int>.Indices, Vector512.Create(8)).AsSingle();
        var lane6 = Vector512.Equals(Vector512<int>.Indices, Vector512.Create(6)).AsSingle();
        var vb = Vector512.Create(bias);
        int r = -g.PH;
        bool odd = (r & 1) != 0;
        int k = r >> 1;     // floor(r / 2)
        // e0 … e3 = R(2k), R(2k + 2), R(2k + 4), R(2k + 6): the even pairs the output pair reads.
        var e0 = pairs.EvenPair(x, 2 * k, inH);
        var e1 = pairs.EvenPair(x, 2 * k + 2, inH);
        var e2 = pairs.EvenPair(x, 2 * k + 4, inH);
        for (int oh = 0; oh < outH; oh += 2, k++)
        {
            var e3 = pairs.EvenPair(x, 2 * k + 6, inH);
            Vector512<float> p0, p1, p2, p3, p4;
            if (odd)
            {
                p0 = RowPairs.OddPair(e1, e0); p1 = e1; p2 = RowPairs.OddPair(e2, e1); p3 = e2; p4 = RowPairs.OddPair(e3, e2);
            }
            else
            {
                p0 = e0; p1 = RowPairs.OddPair(e1, e0); p2 = e1; p3 = RowPairs.OddPair(e2, e1); p4 = e2;
            }
            var s0 = KernelRow(p0, w, lane8, lane6, vb);
            var s1 = KernelRow(p1, w + 5, lane8, lane6, Vector512<float>.Zero);
            var s2 = KernelRow(p2, w + 10, lane8, lane6, Vector512<float>.Zero);
            var s3 = KernelRow(p3, w + 15, lane8, lane6, Vector512<float>.Zero);
            var s4 = KernelRow(p4, w + 20, lane8, lane6, Vector512<float>.Zero);
            pairs.Store(y, oh, outH, (s0 + s1) + (s2 + s3) + s4);
            e0 = e1; e1 = e2; e2 = e3;
        }
    }

    /// <summary>7x7 stride 1: as <see cref="Stride1"/> with seven row pairs per output pair.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Stride1Seven(in Geometry g, float* x, float* w, float* y, float bias)
    {
        int inH = g.InH, outH = g.OutH;
        var pairs = new RowPairs(g.InW);
        // Shifted by two or three lanes, lanes 8–9 would read the first row and lanes 5–6 the second.
        var first2 = Vector512.Equals(Vector512<int>.Indices, Vector512.Create(8)).AsSingle();
        var first3 = first2 | Vector512.Equals(Vector512<int>.Indices, Vector512.Create(9)).AsSingle();
        var second2 = Vector512.Equals(Vector512<int>.Indices, Vector512.Create(6)).AsSingle();
        var second3 = second2 | Vector512.Equals(Vector512<int>.Indices, Vector512.Create(5)).AsSingle();
        var vb = Vector512.Create(bias);
        int r = -g.PH;
        bool odd = (r & 1) != 0;
        int k = r >> 1;     // floor(r / 2)
        // e0 … e4 = R(2k), R(2k + 2), …, R(2k + 8): the even pairs the output pair reads.
        var e0 = pairs.EvenPair(x, 2 * k, inH);
        var e1 = pairs.EvenPair(x, 2 * k + 2, inH);
        var e2 = pairs.EvenPair(x, 2 * k + 4, inH);
        var e3 = pairs.EvenPair(x, 2 * k + 6, inH);
        for (int oh = 0; oh < outH; oh += 2, k++)
        {
            var e4 = pairs.EvenPair(x, 2 * k + 8, inH);
            Vector512<float> p0, p1, p2, p3, p4, p5, p6;
            if (odd)
            {
                p0 = RowPairs.OddPair(e1, e0); p1 = e1; p2 = RowPairs.OddPair(e2, e1); p3 = e2;
                p4 = RowPairs.OddPair(e3, e2); p5 = e3; p6 = RowPairs.OddPair(e4, e3);
            }
            else
            {
                p0 = e0; p1 = RowPairs.OddPair(e1, e0); p2 = e1; p3 = RowPairs.OddPair(e2, e1);
                p4 = e2; p5 = RowPairs.OddPair(e3, e2); p6 = e3;
            }
            var s0 = KernelRowSeven(p0, w, first2, first3, second2, second3, vb);
            var s1 = KernelRowSeven(p1, w + 7, first2, first3, second2, second3, Vector512<float>.Zero);
            var s2 = KernelRowSeven(p2, w + 14, first2, first3, second2, second3, Vector512<float>.Zero);
            var s3 = KernelRowSeven(p3, w + 21, first2, first3, second2, second3, Vector512<float>.Zero);
            var s4 = KernelRowSeven(p4, w + 28, first2, first3, second2, second3, Vector512<float>.Zero);
            var s5 = KernelRowSeven(p5, w + 35, first2, first3, second2, second3, Vector512<float>.Zero);
            var s6 = KernelRowSeven(p6, w + 42, first2, first3, second2, second3, Vector512<float>.Zero);
            pairs.Store(y, oh, outH, ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + s6));
            e0 = e1; e1 = e2; e2 = e3; e3 = e4;
        }
    }

    /// <summary>
    /// Stride 2 (14 × 14 → 7 × 7): output rows oh and oh + 1 read input rows r + dh and r + 2 + dh
    /// (r = 2·oh − ph). With both rows loaded (at most 2·OutW + 1 columns, so lane 15 is zero), one
    /// two-source permute gathers their even columns into lanes 0…7 and 8…15 (column 2·ow, the middle
    /// tap), another their odd ones (2·ow + 1); the taps 2·ow ∓ 2 and 2·ow − 1 are those shifted by a lane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Stride2(in Geometry g, float* x, float* w, float* y, float bias)
    {
        int inH = g.InH, inW = g.InW, outH = g.OutH;
        var pairs = new RowPairs(g.OutW);
        var load = LaneMasks.InRange(0, Math.Min(inW, 2 * g.OutW + 1));
        var even = RowPairs.EvenColumns;
        var odd = even + Vector512<int>.One;
        // Shifted up a lane, lane 8 would take the first row's column 14 for the second row's column −2.
        var lane8 = Vector512.Equals(Vector512<int>.Indices, Vector512.Create(8)).AsSingle();
        var vb = Vector512.Create(bias);
        int r = -g.PH;
        // Rows r … r + 6 feed output rows oh and oh + 1; the next pair starts at r + 4.
        var l0 = RowPairs.InputRow(x, r, inH, inW, load);
        var l1 = RowPairs.InputRow(x, r + 1, inH, inW, load);
        var l2 = RowPairs.InputRow(x, r + 2, inH, inW, load);
        for (int oh = 0; oh < outH; oh += 2, r += 4)
        {
            var l3 = RowPairs.InputRow(x, r + 3, inH, inW, load);
            var l4 = RowPairs.InputRow(x, r + 4, inH, inW, load);
            var l5 = RowPairs.InputRow(x, r + 5, inH, inW, load);
            var l6 = RowPairs.InputRow(x, r + 6, inH, inW, load);
            var s0 = Stride2Row(l0, l2, even, odd, lane8, w, vb);
            var s1 = Stride2Row(l1, l3, even, odd, lane8, w + 5, Vector512<float>.Zero);
            var s2 = Stride2Row(l2, l4, even, odd, lane8, w + 10, Vector512<float>.Zero);
            var s3 = Stride2Row(l3, l5, even, odd, lane8, w + 15, Vector512<float>.Zero);
            var s4 = Stride2Row(l4, l6, even, odd, lane8, w + 20, Vector512<float>.Zero);
            pairs.Store(y, oh, outH, (s0 + s1) + (s2 + s3) + s4);
            l0 = l4; l1 = l5; l2 = l6;
        }
    }

    /// <summary>acc + one kernel row's five taps for the two output rows reading input rows a (first) and b (second).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Stride2Row(Vector512<float> a, Vector512<float> b, Vector512<int> even, Vector512<int> odd,
        Vector512<float> lane8, float* w, Vector512<float> acc)
    {
        var middle = Avx512F.PermuteVar16x32x2(a, even, b);
        var right1 = Avx512F.PermuteVar16x32x2(a, odd, b);
        var left2 = Vector512.AndNot(RowPairs.Left(middle), lane8);     // column 2·ow − 2
        var left1 = RowPairs.Left(right1);                               // column 2·ow − 1
        var right2 = RowPairs.Right(middle);                             // column 2·ow + 2
        acc = Vector512.FusedMultiplyAdd(Vector512.Create(w[0]), left2, acc);
        acc = Vector512.FusedMultiplyAdd(Vector512.Create(w[1]), left1, acc);
        acc = Vector512.FusedMultiplyAdd(Vector512.Create(w[2]), middle, acc);
        acc = Vector512.FusedMultiplyAdd(Vector512.Create(w[3]), right1, acc);
        return Vector512.FusedMultiplyAdd(Vector512.Create(w[4]), right2, acc);
    }

    /// <summary>acc + Σ_dw w[dw]·(pair v shifted to read column ow − 2 + dw).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> KernelRow(Vector512<float> v, float* w, Vector512<float> lane8, Vector512<float> lane6, Vector512<float> acc)
    {
        var vi = v.AsInt32();
        var zero = Vector512<int>.Zero;
        var left2 = Vector512.AndNot(Avx512F.AlignRight32(vi, zero, 14).AsSingle(), lane8);     // lane i ← lane i − 2
        var left1 = RowPairs.Left(v);                                                           // lane i ← lane i − 1
        var right1 = RowPairs.Right(v);                                                         // lane i ← lane i + 1
        var right2 = Vector512.AndNot(Avx512F.AlignRight32(zero, vi, 2).AsSingle(), lane6);     // lane i ← lane i + 2
        acc = Vector512.FusedMultiplyAdd(Vector512.Create(w[0]), left2, acc);
        acc = Vector512.FusedMultiplyAdd(Vector512.Create(w[1]), left1, acc);
        acc = Vector512.FusedMultiplyAdd(Vector512.Create(w[2]), v, acc);
        acc = Vector512.FusedMultiplyAdd(Vector512.Create(w[3]), right1, acc);
        return Vector512.FusedMultiplyAdd(Vector512.Create(w[4]), right2, acc);
    }

    /// <summary>acc + Σ_dw w[dw]·(pair v shifted to read column ow − 3 + dw).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> KernelRowSeven(Vector512<float> v, float* w, Vector512<float> first2, Vector512<float> first3,
        Vector512<float> second2, Vector512<float> second3, Vector512<float> acc)
    {
        var vi = v.AsInt32();
        var zero = Vector512<int>.Zero;
        var left3 = Vector512.AndNot(Avx512F.AlignRight32(vi, zero, 13).AsSingle(), first3);    // lane i ← lane i − 3
        var left2 = Vector512.AndNot(Avx512F.AlignRight32(vi, zero, 14).AsSingle(), first2);    // lane i ← lane i − 2
        var left1 = RowPairs.Left(v);
        var right1 = RowPairs.Right(v);
        var right2 = Vector512.AndNot(Avx512F.AlignRight32(zero, vi, 2).AsSingle(), second2);   // lane i ← lane i + 2
        var right3 = Vector512.AndNot(Avx512F.AlignRight32(zero, vi, 3).AsSingle(), second3);   // lane i ← lane i + 3
        var even = Vector512.FusedMultiplyAdd(Vector512.Create(w[0]), left3, acc);
        var odd = Vector512.Create(w[1]) * left2;
        even = Vector512.FusedMultiplyAdd(Vector512.Create(w[2]), left1, even);
        odd = Vector512.FusedMultiplyAdd(Vector512.Create(w[3]), v, odd);
        even = Vector512.FusedMultiplyAdd(Vector512.Create(w[4]), right1, even);
        odd = Vector512.FusedMultiplyAdd(Vector512.Create(w[5]), right2, odd);
        return Vector512.FusedMultiplyAdd(Vector512.Create(w[6]), right3, even) + odd;
    }
}
