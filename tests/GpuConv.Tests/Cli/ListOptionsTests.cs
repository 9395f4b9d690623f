using GpuConv.Cli;

namespace GpuConv.Tests.Cli;

public class ListOptionsTests
{
    [Test]
    public void ParsesCommaListsWithSpacesAndSigns() =>
        Assert.That(ListOptions.Parse(" 1, 2 ,-3", "--x"), Is.EqualTo(new[] { 1, 2, -3 }));

    [Test]
    public void NamesTheOptionAndTheBadItem()
    {
        var e = Assert.Throws<ArgumentException>(() => ListOptions.Parse("1,x,3", "--stride"))!;
        Assert.That(e.Message, Does.StartWith("--stride: 'x' (item 2 of '1,x,3') is not an integer"));
        Assert.That(e.ParamName, Is.EqualTo("--stride"));
    }

    [Test]
    public void RejectsEmptyItemsAndValuesBelowTheMinimum()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => ListOptions.Parse("1,,2", "--pad"))!.Message, Does.Contain("'' (item 2"));
        Assert.That(Assert.Throws<ArgumentException>(() => ListOptions.Parse("", "--pad"))!.Message, Does.Contain("empty value"));
        Assert.That(Assert.Throws<ArgumentException>(() => ListOptions.Parse("2,0", "--stride", min: 1))!.Message, Does.Contain("must be >= 1, got 0"));
    }

    [Test]
    public void PerDimensionExpandsOneValueAndChecksTheCount()
    {
        Assert.That(ListOptions.PerDimension(null, 3, "--stride", 1, 1), Is.EqualTo(new[] { 1, 1, 1 }));
        Assert.That(ListOptions.PerDimension("2", 3, "--stride", 1, 1), Is.EqualTo(new[] { 2, 2, 2 }));
        Assert.That(ListOptions.PerDimension("2,3", 2, "--stride", 1, 1), Is.EqualTo(new[] { 2, 3 }));
        var e = Assert.Throws<ArgumentException>(() => ListOptions.PerDimension("2,3", 3, "--dilation", 1, 1))!;
        Assert.That(e.Message, Does.Contain("--dilation: expected 1 or 3 values").And.Contain("got 2"));
    }

    [Test]
    public void PadsAreOnnxOrderBeginsThenEnds()
    {
        var (begin, end) = ListOptions.Padding("1,2,3,4", null, 2);
        Assert.That(begin, Is.EqualTo(new[] { 1, 2 }));
        Assert.That(end, Is.EqualTo(new[] { 3, 4 }));
        (begin, end) = ListOptions.Padding("2", null, 3);
        Assert.That(begin, Is.EqualTo(new[] { 2, 2, 2 }));
        Assert.That(end, Is.EqualTo(new[] { 2, 2, 2 }));
    }

    [Test]
    public void PadIsSymmetricPerDimension()
    {
        var (begin, end) = ListOptions.Padding(null, "1,2", 2);
        Assert.That(begin, Is.EqualTo(new[] { 1, 2 }));
        Assert.That(end, Is.EqualTo(new[] { 1, 2 }));
        (begin, end) = ListOptions.Padding(null, null, 1);
        Assert.That(begin, Is.EqualTo(new[] { 0 }));
        Assert.That(end, Is.EqualTo(new[] { 0 }));
    }

    [Test]
    public void PaddingRejectsWrongCountsNegativesAndBothOptions()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => ListOptions.Padding("1,2,3", null, 2))!.Message, Does.Contain("--pads: expected 1 or 4 values"));
        Assert.That(Assert.Throws<ArgumentException>(() => ListOptions.Padding("1,-1", null, 1))!.Message, Does.Contain("--pads: every value must be >= 0"));
        Assert.That(Assert.Throws<ArgumentException>(() => ListOptions.Padding("1", "1", 2))!.Message, Does.Contain("--pads and --pad are alternatives"));
    }
}
