using GpuConv.Tests.Support;

namespace GpuConv.Tests.Reference;

public class ErrorMetricsTests
{
    [Test]
    public void IdenticalValuesHaveZeroError()
    {
        var r = ErrorMetrics.Compare([1, -2, 3], [1, -2, 3]);
        Assert.That((r.MaxRelative, r.L2Relative, r.MaxAbs), Is.EqualTo((0.0, 0.0, 0.0)));
    }

    [Test]
    public void NormwiseErrorsOfAKnownDifference()
    {
        // diff = (0, 0.5, 0, 0), max |ref| = 4, ||diff|| = 0.5, ||ref|| = sqrt(1 + 4 + 9 + 16).
        var r = ErrorMetrics.Compare([1, 2.5f, 3, -4], [1, 2, 3, -4]);
        Assert.Multiple(() =>
        {
            Assert.That(r.MaxAbs, Is.EqualTo(0.5).Within(1e-15));
            Assert.That(r.MaxRelative, Is.EqualTo(0.125).Within(1e-15));
            Assert.That(r.L2Relative, Is.EqualTo(0.5 / Math.Sqrt(30)).Within(1e-15));
            Assert.That(r.WorstIndex, Is.EqualTo(1));
        });
    }

    [Test]
    public void NaNIsAnInfiniteError()
    {
        var r = ErrorMetrics.Compare([1, float.NaN], [1, 1]);
        Assert.That(double.IsPositiveInfinity(r.MaxRelative), Is.True);
        Assert.That(r.WorstIndex, Is.EqualTo(1));
    }

    [Test]
    public void LengthMismatch() =>
        ExpectArgument.Throws(() => ErrorMetrics.Compare([1, 2], [1, 2, 3]), "actual", "actual has 2 elements, reference 3");
}
