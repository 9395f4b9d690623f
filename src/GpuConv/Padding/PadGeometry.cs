using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// One pad's sizes for the loops and the kernels, with 1-d and 2-d inputs as 3-d ones of leading size 1 (no padding
/// there): planes = N·C, each [InD, InH, InW] padded into [OutD, OutH, OutW] with BeginD/H/W before.
/// <see cref="PaddingMode.Zeros"/> stands for <see cref="PadMode.Constant"/>, whose constant is <see cref="Value"/>.
/// </summary>
internal readonly record struct PadGeometry(int Planes, int InD, int InH, int InW, int OutD, int OutH, int OutW,
    int BeginD, int BeginH, int BeginW, PaddingMode Mode, float Value)
{
    /// <summary>The geometry of <paramref name="spec"/> on <paramref name="input"/> (already checked by <see cref="PadSpec.CheckInput"/>).</summary>
    public static PadGeometry Of(PadSpec spec, TensorShape input) =>
        Lifted(input, spec.PadBegin, spec.PadEnd, PadSpec.AsPaddingMode(spec.Mode), spec.Value);

    /// <summary>
    /// The pad a convolution with a padding mode applies to its input X: its pads, its mode (allocation-free: the engine
    /// asks on every call).
    /// </summary>
    public static PadGeometry Of(ConvProblem problem) =>
        Lifted(problem.XShape, problem.Spec.PadBegin, problem.Spec.PadEnd, problem.Spec.PaddingMode, 0f);

    /// <summary>Rank 1–3 pads on NC[D]HW as 3-d ones: the missing leading dimensions of size 1, unpadded.</summary>
    static PadGeometry Lifted(TensorShape input, ImmutableArray<int> padBegin, ImmutableArray<int> padEnd, PaddingMode mode, float value)
    {
        int rank = padBegin.Length;
        Span<int> inSize = [1, 1, 1], begin = [0, 0, 0], end = [0, 0, 0];
        for (int d = 0; d < rank; d++)
        {
            inSize[3 - rank + d] = input.Dims[2 + d];
            begin[3 - rank + d] = padBegin[d];
            end[3 - rank + d] = padEnd[d];
        }
        return new PadGeometry(checked(input.Dims[0] * input.Dims[1]), inSize[0], inSize[1], inSize[2],
            inSize[0] + begin[0] + end[0], inSize[1] + begin[1] + end[1], inSize[2] + begin[2] + end[2],
            begin[0], begin[1], begin[2], mode, value);
    }

    /// <summary>Elements of one input plane.</summary>
    public long InPlane => (long)InD * InH * InW;
    /// <summary>Elements of one output (padded) plane.</summary>
    public long OutPlane => (long)OutD * OutH * OutW;
    /// <summary>Elements of the input.</summary>
    public long InCount => Planes * InPlane;
    /// <summary>Elements of the output.</summary>
    public long OutCount => Planes * OutPlane;

    /// <summary>
    /// The padded positions (0 ≤ p &lt; n + begin + end) whose value is input index <paramref name="i"/> of a dimension
    /// of size <paramref name="n"/>: at most 3 inclusive ranges [lo, hi], ascending, written into <paramref name="lo"/> and
    /// <paramref name="hi"/>; returns how many. The gradient of input element i is the sum over these positions
    /// (a constant pad reads i from one position only). The inverse of <see cref="PaddingModes.Source"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per row and border element of the gradient's rows, called from optimized code
    public static int Sources(PaddingMode mode, int i, int n, int begin, int end, Span<int> lo, Span<int> hi)
    {
        int count = 0;
        switch (mode)
        {
            case PaddingMode.Reflect:
                if (i >= 1 && i <= begin) Add(-i, -i, ref count, lo, hi);         // mirrored before the start
                Add(i, i, ref count, lo, hi);
                if (i <= n - 2 && i >= n - 1 - end) Add(2 * (n - 1) - i, 2 * (n - 1) - i, ref count, lo, hi); // after the end
                break;
            case PaddingMode.Replicate:
                Add(i == 0 ? -begin : i, i == n - 1 ? n - 1 + end : i, ref count, lo, hi);
                break;
            case PaddingMode.Circular:
                if (i - n >= -begin) Add(i - n, i - n, ref count, lo, hi);        // the wrapped copy before the start
                Add(i, i, ref count, lo, hi);
                if (i + n <= n - 1 + end) Add(i + n, i + n, ref count, lo, hi);   // and after the end
                break;
            default:
                Add(i, i, ref count, lo, hi);
                break;
        }
        return count;

        void Add(int from, int to, ref int c, Span<int> l, Span<int> h)
        {
            l[c] = from + begin;
            h[c] = to + begin;
            c++;
        }
    }

    /// <summary>
    /// The input elements [0, n) of a dimension whose gradient is one padded element: outside it, [0, first) and
    /// [end, n), some have more (reflect, replicate, circular near the edges). Used for the plain-copy middle of each row.
    /// </summary>
    public static (int First, int End) SingleSourceRange(PaddingMode mode, int n, int begin, int end)
    {
        if (mode == PaddingMode.Zeros) return (0, n);
        int edge = Math.Max(begin, end) + 1; // every index with another source is within this of an edge
        return edge >= n - edge ? (0, 0) : (edge, n - edge);
    }
}
