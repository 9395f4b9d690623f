using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// The lane layout of the narrow depthwise kernels: two rows of at most 7 columns per vector, the
/// first in lanes 0…6, the second in lanes 8…14, the lanes after each row zero — so a tap one column
/// away is the vector shifted by one lane, the zero lane standing in for the padding column. Reads
/// row pairs of x and writes two output rows at once (a compress packs them back together).
/// </summary>
internal readonly unsafe struct RowPairs
{
    /// <summary>The output lanes of the first row, and of both rows.</summary>
    readonly Vector512<float> _first, _both;
    readonly int _width;

    /// <summary>Rows of <paramref name="width"/> (≤ 7) columns.</summary>
    public RowPairs(int width)
    {
        var column = Vector512<int>.Indices & Vector512.Create(7);
        var inRow = Vector512.LessThan(column, Vector512.Create(width));
        _first = (inRow & Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(8))).AsSingle();
        _both = inRow.AsSingle();
        _width = width;
    }

    /// <summary>
    /// Rows <paramref name="row"/> and row + 1 of a plane of this width (contiguous in x: one expanding
    /// load), zero where outside the plane. <paramref name="row"/> is even, so row + 1 is in the plane
    /// only if row is too.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> EvenPair(float* x, int row, int inH)
    {
        if ((uint)row >= (uint)inH) return Vector512<float>.Zero;
        return Avx512F.ExpandLoad(x + (nint)row * _width, row + 1 < inH ? _both : _first, Vector512<float>.Zero);
    }

    /// <summary>The pair of rows 2k + 1 and 2k + 2 from the pairs at 2k (<paramref name="prev"/>) and 2k + 2 (<paramref name="next"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> OddPair(Vector512<float> next, Vector512<float> prev) =>
        Avx512F.AlignRight32(next.AsInt32(), prev.AsInt32(), 8).AsSingle();

    /// <summary>Lane i ← lane i − 1 (lane 0 ← 0): the tap one column to the left.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Left(Vector512<float> v) => Avx512F.AlignRight32(v.AsInt32(), Vector512<int>.Zero, 15).AsSingle();

    /// <summary>Lane i ← lane i + 1 (lane 15 ← 0): the tap one column to the right.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Right(Vector512<float> v) => Avx512F.AlignRight32(Vector512<int>.Zero, v.AsInt32(), 1).AsSingle();

    /// <summary>Stores output rows oh and oh + 1 (the second only if it is inside the plane) from <paramref name="sum"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(float* y, int oh, int outH, Vector512<float> sum)
    {
        bool second = oh + 1 < outH;
        var packed = Avx512F.Compress(Vector512<float>.Zero, second ? _both : _first, sum);
        Avx512F.MaskStore(y + (nint)oh * _width, LaneMasks.InRange(0, second ? 2 * _width : _width), packed);
    }

    /// <summary>
    /// Two-source permute indices for stride 2: lane i &lt; 8 takes column 2i of the first row (lanes 0…15
    /// of the pair of sources), lane 8 + i column 2i of the second (lanes 16…31). Plus one: the odd columns.
    /// </summary>
    public static Vector512<int> EvenColumns
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (Vector512<int>.Indices & Vector512.Create(7)) * 2 + (Vector512.GreaterThanOrEqual(Vector512<int>.Indices, Vector512.Create(8)) & Vector512.Create(16));
    }

    /// <summary>Input row <paramref name="row"/>, its columns in <paramref name="load"/>, zero outside the plane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> InputRow(float* x, int row, int inH, int inW, Vector512<float> load) =>
        (uint)row < (uint)inH ? LaneMasks.Load(x + (nint)row * inW, load) : Vector512<float>.Zero;
}
