using FsCheck;
using FsCheck.Fluent;

namespace GpuConv.Tests.Fuzz;

/// <summary>Generators biased to the values that break size arithmetic: extremes, signs, powers of two.</summary>
static class FuzzGen
{
    public static readonly int[] Extremes =
    [
        int.MinValue, int.MinValue + 1, -65537, -2, -1, 0, 65536, 65537, 1 << 30, (1 << 30) + 1, 1_800_000_000,
        2_147_483_644, int.MaxValue - 1, int.MaxValue,
    ];

    /// <summary>Mostly small (so many cases construct and run), sometimes an extreme.</summary>
    public static Gen<int> Int(int smallMin, int smallMax, int extremeWeight = 1) =>
        Gen.Frequency((6, Gen.Choose(smallMin, smallMax)), (extremeWeight, Gen.Elements(Extremes)));

    /// <summary>A per-dimension list: usually one value per dimension, sometimes one for all, rarely a wrong count.</summary>
    public static Gen<int[]> PerDim(int rank, Gen<int> item) =>
        Gen.Frequency(
            (8, item.ArrayOf(rank)),
            (2, item.ArrayOf(1)),
            (1, Gen.Choose(0, 5).SelectMany(n => item.ArrayOf(n))));

    /// <summary>An option value as typed on a command line: a comma list of integers, or a malformed one.</summary>
    public static Gen<string> OptionText(int rank, Gen<int> item) =>
        Gen.Frequency(
            (8, PerDim(rank, item).Select(v => string.Join(",", v))),
            (1, Gen.Elements("", " ", "x", "1,,2", "-0", "+3", "0x10", "99999999999", "1.5", "2,", ",2", "１")));
}
