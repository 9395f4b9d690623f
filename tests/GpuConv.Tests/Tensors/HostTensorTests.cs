using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Tensors;

public class HostTensorTests
{
    [TestCase(5)]
    [TestCase(7)]
    [TestCase(0)]
    public void DataLengthMustMatchShape(int length) =>
        ExpectArgument.Throws(() => new HostTensor(new TensorShape(2, 3), new float[length]), "data",
            $"data has {length} elements", "shape [2, 3] needs 6");

    // A null shape was a NullReferenceException from inside the constructor and from Random.
    [Test]
    public void NullShapeIsRejected()
    {
        Assert.That(Assert.Throws<ArgumentNullException>(() => new HostTensor((TensorShape)null!))!.ParamName, Is.EqualTo("shape"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => HostTensor.Random(null!, seed: 1))!.ParamName, Is.EqualTo("shape"));
    }

    [Test]
    public void NullDataIsRejected() =>
        Assert.Throws<ArgumentNullException>(() => new HostTensor(new TensorShape(2), null!));

    [Test]
    public void ShapeTooLargeForAnArrayIsRejected() =>
        Assert.Throws<InvalidOperationException>(() => new HostTensor(new TensorShape(65536, 65536)));

    [Test]
    public void RandomIsReproducibleBoundedAndNotConstant()
    {
        var shape = new TensorShape(3, 4, 5);
        var a = HostTensor.Random(shape, 42);
        var b = HostTensor.Random(shape, 42);
        var c = HostTensor.Random(shape, 43);
        Assert.Multiple(() =>
        {
            Assert.That(a.Data, Is.EqualTo(b.Data));
            Assert.That(a.Data, Is.Not.EqualTo(c.Data));
            Assert.That(a.Data.All(v => v >= -1 && v < 1), Is.True);
            Assert.That(a.Data.Distinct().Count(), Is.GreaterThan(shape.ElementCount / 2));
            Assert.That(a.Shape, Is.EqualTo(shape));
            Assert.That(a.Memory, Is.EqualTo(MemoryKind.Host));
        });
    }

    [Test]
    public void CloneIsADeepCopy()
    {
        var a = HostTensor.Random(new TensorShape(4), 1);
        var b = a.Clone();
        b.Data[0] = 99;
        Assert.That(a.Data[0], Is.Not.EqualTo(99f));
        Assert.That(b.Shape, Is.EqualTo(a.Shape));
    }

    [Test]
    public void HostMemorySpaceRoundTrip()
    {
        var space = HostMemorySpace.Instance;
        var t = space.Allocate(new TensorShape(2, 3));
        float[] source = [1, 2, 3, 4, 5, 6];
        space.CopyFromHost(source, t);
        var back = new float[6];
        space.CopyToHost(t, back);
        Assert.That(back, Is.EqualTo(source));
        Assert.That(t, Is.InstanceOf<HostTensor>());
    }
}
