namespace GpuConv.Tests.Support;

public class DifferencesTests
{
    [Test]
    public void NaNInTheMiddleIsAnInfiniteDifference()
    {
        // The case LINQ's Max got wrong: [1, NaN, 3] against [1, 2, 3] measured 0.
        Assert.That(Differences.MaxAbs([1, float.NaN, 3], [1, 2, 3]), Is.EqualTo(double.PositiveInfinity));
        Assert.That(Differences.MaxRelative([1, float.NaN, 3], [1, 2, 3]), Is.EqualTo(double.PositiveInfinity));
        Assert.That(Differences.MaxRelative([1, 2, 3], [1, float.NaN, 3]), Is.EqualTo(double.PositiveInfinity));
        Assert.That(Differences.MaxRelative([float.PositiveInfinity], [float.PositiveInfinity]), Is.EqualTo(double.PositiveInfinity));
    }

    [Test]
    public void FiniteDifferencesAreNormwise()
    {
        Assert.That(Differences.MaxAbs([1, 2.5f, 3], [1, 2, 3]), Is.EqualTo(0.5));
        Assert.That(Differences.MaxRelative([1, 2.5f, -4], [1, 2, -4]), Is.EqualTo(0.125));
        Assert.That(Differences.MaxRelative([0, 0.25f], [0, 0]), Is.EqualTo(0.25));
    }
}
