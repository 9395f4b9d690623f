using System.Runtime.Intrinsics;
using GpuConv.Cpu;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// VectorOps.MaxAbsOrInfinity, which decides whether a Winograd run must check its output for overflow, and
/// VectorOps.AllFinite, which guards the padded and transformed layouts: the largest |v| against a plain loop, and
/// +Inf / false for any NaN or ±Inf, wherever it sits (vector body or tail). Each through the dispatching entry and
/// each width directly (the 128-bit loops are what ARM64 and x64 without AVX2 run).
/// </summary>
public unsafe class VectorOpsMaxAbsTests
{
    public enum Width { Dispatch, Vector128, Vector256 }

    static float MaxAbs(Width width, float* p, long n) => width switch
    {
        Width.Vector128 => VectorOps.MaxAbsOrInfinityVector128(p, n),
        Width.Vector256 => VectorOps.MaxAbsOrInfinityVector256(p, n),
        _ => VectorOps.MaxAbsOrInfinity(p, n),
    };

    static bool AllFinite(Width width, float* p, long n) => width switch
    {
        Width.Vector128 => VectorOps.AllFiniteVector128(p, n),
        Width.Vector256 => VectorOps.AllFiniteVector256(p, n),
        _ => VectorOps.AllFinite(p, n),
    };

    static void RequireAccelerated(Width width)
    {
        if (width == Width.Vector128 && !Vector128.IsHardwareAccelerated) Assert.Ignore("Vector128 is not accelerated on this runtime.");
        if (width == Width.Vector256 && !Vector256.IsHardwareAccelerated) Assert.Ignore("Vector256 is not accelerated on this runtime.");
    }

    [Test]
    public void LargestMagnitude_AsAPlainLoopFindsIt([Values] Width width, [Values(1, 15, 16, 17, 33, 1000)] int count)
    {
        RequireAccelerated(width);
        var rng = new Random(count);
        var data = new float[count];
        for (int i = 0; i < count; i++) data[i] = (float)(rng.NextDouble() * 200 - 100);
        data[rng.Next(count)] = -1234.5f;
        float expected = data.Max(MathF.Abs);
        fixed (float* p = data)
        {
            Assert.That(MaxAbs(width, p, count), Is.EqualTo(expected));
            Assert.That(AllFinite(width, p, count), Is.True);
        }
    }

    [Test]
    public void AnyNonFiniteValue_IsInfinity_AndNotAllFinite([Values] Width width,
        [Values(float.NaN, float.PositiveInfinity, float.NegativeInfinity)] float bad,
        [Values(0, 3, 7, 12, 16, 31, 32, 40)] int at)
    {
        RequireAccelerated(width);
        var data = new float[41];
        for (int i = 0; i < data.Length; i++) data[i] = i * 0.5f - 10;
        data[at] = bad;
        fixed (float* p = data)
        {
            Assert.That(MaxAbs(width, p, data.Length), Is.EqualTo(float.PositiveInfinity), $"{bad} at {at}");
            Assert.That(AllFinite(width, p, data.Length), Is.False, $"{bad} at {at}");
        }
    }
}
