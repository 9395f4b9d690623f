using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Tensors;

public class TensorShapeTests
{
    // WithDim past the rank was an IndexOutOfRangeException that named nothing.
    [TestCase(-1)]
    [TestCase(2)]
    public void WithDimOutsideTheRankIsRejected(int index)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TensorShape(1, 2).WithDim(index, 3))!;
        Assert.That(e.ParamName, Is.EqualTo("index"));
        Assert.That(e.Message, Does.Contain($"{index}").And.Contain("[1, 2]"));
    }

    [Test]
    public void AccessorsOfAnActivationShape()
    {
        var s = new TensorShape(2, 3, 4, 5, 6);
        Assert.Multiple(() =>
        {
            Assert.That(s.Rank, Is.EqualTo(5));
            Assert.That((s.N, s.C), Is.EqualTo((2, 3)));
            Assert.That(s.Spatial, Is.EqualTo(new[] { 4, 5, 6 }));
            Assert.That(s.SpatialSize, Is.EqualTo(120));
            Assert.That(s.ElementCount, Is.EqualTo(720));
            Assert.That(s.ElementCountInt, Is.EqualTo(720));
            Assert.That(s[3], Is.EqualTo(5));
            Assert.That(s.ToString(), Is.EqualTo("[2, 3, 4, 5, 6]"));
            Assert.That(s.WithDim(0, 7), Is.EqualTo(new TensorShape(7, 3, 4, 5, 6)));
            Assert.That(s, Is.EqualTo(new TensorShape(2, 3, 4, 5, 6)));
            Assert.That(s == new TensorShape(2, 3, 4, 5, 6), Is.True);
            Assert.That(s != new TensorShape(2, 3, 4, 6, 5), Is.True);
            Assert.That(s.GetHashCode(), Is.EqualTo(new TensorShape(2, 3, 4, 5, 6).GetHashCode()));
        });
    }

    [TestCase(new[] { 2, 0, 3 }, "dims[1] must be >= 1, got 0", "[2, 0, 3]")]
    [TestCase(new[] { -1 }, "dims[0] must be >= 1, got -1", "[-1]")]
    [TestCase(new[] { 4, 4, -7 }, "dims[2] must be >= 1, got -7", "[4, 4, -7]")]
    public void NonPositiveDimensions(int[] dims, string fragment, string shape) =>
        ExpectArgument.Throws(() => new TensorShape(dims), "dims", fragment, shape);

    [Test]
    public void EmptyShape() =>
        ExpectArgument.Throws(() => new TensorShape(Array.Empty<int>()), "dims", "at least one dimension");

    [Test]
    public void ElementCountOverflowingInt64() =>
        ExpectArgument.Throws(() => new TensorShape(int.MaxValue, int.MaxValue, int.MaxValue), "dims", "overflows a 64-bit integer",
            $"[{int.MaxValue}, {int.MaxValue}, {int.MaxValue}]");

    [Test]
    public void ElementCountBeyondInt32IsExactAsLong()
    {
        var s = new TensorShape(65536, 65536, 4);
        Assert.That(s.ElementCount, Is.EqualTo(1L << 34));
        var ex = Assert.Throws<InvalidOperationException>(() => _ = s.ElementCountInt)!;
        Assert.That(ex.Message, Does.Contain("17179869184"));
    }
}
