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
    public void NaNOrInfinityAgainstADifferentValueMakesEveryMetricInfinite()
    {
        // A NaN in the first element, in the middle, in the reference, NaN against Inf, Inf against a number.
        (float[] Actual, double[] Reference, long Worst)[] cases =
        [
            ([float.NaN, 2, 3], [1, 2, 3], 0),
            ([1, float.NaN, 3], [1, 2, 3], 1),
            ([1, 2, 3], [1, double.NaN, 3], 1),
            ([1, float.NaN], [1, double.PositiveInfinity], 1),
            ([float.PositiveInfinity, 2], [double.NegativeInfinity, 2], 0),
            ([1, float.NegativeInfinity], [1, 2], 1),
        ];
        foreach (var (actual, reference, worst) in cases)
        {
            var r = ErrorMetrics.Compare(actual, reference);
            string label = $"[{string.Join(", ", actual)}] vs [{string.Join(", ", reference)}]";
            Assert.That((r.MaxRelative, r.L2Relative, r.MaxAbs), Is.EqualTo((double.PositiveInfinity, double.PositiveInfinity, double.PositiveInfinity)), label);
            Assert.That(r.WorstIndex, Is.EqualTo(worst), label);
            Assert.That(r.MaxRelative < 1e-5, Is.False, label);
        }
    }

    [Test]
    public void EqualNonFiniteValuesAreComparedByValue()
    {
        // The direct sum of an input holding Inf gives Inf and NaN; an output that has them where the
        // reference has them is right (issue 14), and the finite elements still carry the error.
        var same = ErrorMetrics.Compare([1, float.NaN, float.PositiveInfinity, 4], [1, double.NaN, double.PositiveInfinity, 4]);
        Assert.That((same.MaxRelative, same.L2Relative), Is.EqualTo((0.0, 0.0)));
        var off = ErrorMetrics.Compare([1, float.NaN, 2], [1, double.NaN, 4]);
        Assert.That(off.MaxAbs, Is.EqualTo(2.0));
        Assert.That(off.WorstIndex, Is.EqualTo(2));
    }

    [Test]
    public void AllZeroReferenceUsesAbsoluteError()
    {
        var r = ErrorMetrics.Compare([0, 0.25f], [0, 0]);
        Assert.That((r.MaxRelative, r.MaxAbs, r.WorstIndex), Is.EqualTo((0.25, 0.25, 1L)));
    }

    [Test]
    public void LengthMismatch() =>
        ExpectArgument.Throws(() => ErrorMetrics.Compare([1, 2], [1, 2, 3]), "actual", "actual has 2 elements, reference 3");
}
