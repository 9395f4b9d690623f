using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Support;

/// <summary>
/// A 3-d convolution whose output can be read digit by digit, with a different stride, dilation and
/// padding in every dimension, so a swapped or misread parameter changes the digits.
///   x is 4×5×7 (D×H×W) with x[d,h,w] = 100(d+1) + 10(h+1) + (w+1): each value spells its 1-based position.
///   w is 2×2×2 with w[0,0,0] = 1000, w[1,1,1] = 1 and zeros elsewhere, so y = 1000·first tap + last tap.
///   stride (2, 1, 3), dilation (1, 2, 2), padding begin (1, 0, 2), end (0, 1, 1).
/// Output size per dimension, floor((in + pb + pe - dil·(k-1) - 1) / stride) + 1:
///   D: (4+1+0-1-1)/2+1 = 2,  H: (5+0+1-2-1)/1+1 = 4,  W: (7+2+1-2-1)/3+1 = 3.
/// Input index of a tap t at output o: o·stride - padBegin + t·dilation, so the first tap (t = 0) reads
///   d = 2od-1, h = oh, w = 3ow-2, and the last (t = 1) reads d = 2od, h = oh+2, w = 3ow;
/// an index outside the input reads 0 (padding). For example y[1,0,1]: first tap (1,0,1) → 212, last
/// tap (2,2,3) → 334, so 212334; y[0,*,*] has its first tap in the depth padding (d = -1).
/// </summary>
public static class HandComputed3d
{
    public static ConvProblem Problem => ConvProblem.Create(
        new ConvSpec([2, 2, 2], stride: [2, 1, 3], dilation: [1, 2, 2], padBegin: [1, 0, 2], padEnd: [0, 1, 1]),
        new TensorShape(1, 1, 4, 5, 7), new TensorShape(1, 1, 2, 2, 2));

    public static float[] X()
    {
        var x = new float[4 * 5 * 7];
        for (int d = 0; d < 4; d++)
            for (int h = 0; h < 5; h++)
                for (int w = 0; w < 7; w++)
                    x[(d * 5 + h) * 7 + w] = 100 * (d + 1) + 10 * (h + 1) + (w + 1);
        return x;
    }

    public static float[] W => [1000, 0, 0, 0, 0, 0, 0, 1];

    /// <summary>
    /// The input position tap (td, th, tw) of output (od, oh, ow) reads, worked out by hand from
    /// stride (2, 1, 3), dilation (1, 2, 2), begin padding (1, 0, 2); null when it is in the padding
    /// (outside 4×5×7). Used for the backward ops: one-hot dy shows exactly these positions.
    /// </summary>
    public static (int D, int H, int W)? InputOf(int od, int oh, int ow, int td, int th, int tw)
    {
        int d = 2 * od - 1 + td, h = oh + 2 * th, w = 3 * ow - 2 + 2 * tw;
        return d is >= 0 and < 4 && h is >= 0 and < 5 && w is >= 0 and < 7 ? (d, h, w) : null;
    }

    /// <summary>Flat index of an input position in the 4×5×7 input.</summary>
    public static int Flat((int D, int H, int W) i) => (i.D * 5 + i.H) * 7 + i.W;

    /// <summary>The 24 output positions in row-major order (2×4×3).</summary>
    public static IEnumerable<(int D, int H, int W)> Outputs() =>
        from od in Enumerable.Range(0, 2) from oh in Enumerable.Range(0, 4) from ow in Enumerable.Range(0, 3) select (od, oh, ow);

    /// <summary>y[od, oh, ow] (2×4×3), worked out by hand from the rules above.</summary>
    public static double[] Y =>
    [
        // od = 0: first tap in the depth padding, last tap reads d = 0 (hundreds digit 1)
        131, 134, 137,      // oh = 0: last tap h = 2; ow = 0, 1, 2 → w = 0, 3, 6
        141, 144, 147,      // oh = 1: h = 3
        151, 154, 157,      // oh = 2: h = 4
        0, 0, 0,            // oh = 3: h = 5 is end padding
        // od = 1: first tap d = 1 (2xx), last tap d = 2 (3xx); ow = 0 has its first tap at w = -2 (padding)
        331, 212334, 215337,
        341, 222344, 225347,
        351, 232354, 235357,
        0, 242000, 245000,  // oh = 3: last tap h = 5 in the padding
    ];
}
