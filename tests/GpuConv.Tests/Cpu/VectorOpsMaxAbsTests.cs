using GpuConv.Cpu;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// VectorOps.MaxAbsOrInfinity, which decides whether a Winograd run must check its output for overflow:
/// the largest |v| against a plain loop, and +Inf for any NaN or ±Inf, wherever it sits (vector body or tail).
/// </summary>
public unsafe class VectorOpsMaxAbsTests
{
    [TestCase(1)]
    [TestCase(15)]
    [TestCase(16)]
    [TestCase(17)]
    [TestCase(1000)]
    public void LargestMagnitude_AsAPlainLoopFindsIt(int count)
    {
        var rng = new Random(count);
        var data = new float[count];
        for (int i = 0; i < count; i++) data[i] = (float)(rng.NextDouble() * 200 - 100);
        data[rng.Next(count)] = -1234.5f;
        float expected = data.Max(MathF.Abs);
        fixed (float* p = data)
            Assert.That(VectorOps.MaxAbsOrInfinity(p, count), Is.EqualTo(expected));
    }

    [Test]
    public void AnyNonFiniteValue_IsInfinity([Values(float.NaN, float.PositiveInfinity, float.NegativeInfinity)] float bad,
        [Values(0, 7, 16, 31, 32, 40)] int at)
    {
        var data = new float[41];
        for (int i = 0; i < data.Length; i++) data[i] = i * 0.5f - 10;
        data[at] = bad;
        fixed (float* p = data)
            Assert.That(VectorOps.MaxAbsOrInfinity(p, data.Length), Is.EqualTo(float.PositiveInfinity), $"{bad} at {at}");
    }
}
