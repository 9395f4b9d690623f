using GpuConv.Cpu;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cpu;

public class CpuBiasTests
{
    [TestCase(1, 1, 1)]
    [TestCase(2, 5, 17)]
    [TestCase(3, 16, 1000)]
    public void GradientMatchesReference(int n, int c, int spatial)
    {
        var shape = new TensorShape(n, c, spatial);
        var dy = HostTensor.Random(shape, n * 100 + c);
        var db = new float[c];
        CpuBias.Gradient(shape, dy.Data, db);
        var err = ErrorMetrics.Compare(db, ReferenceConv.BiasGradient(shape, dy.Data));
        Assert.That(err.MaxRelative, Is.LessThan(1e-6), err.ToString());
    }

    [Test]
    public void GradientRejectsWrongLengths()
    {
        var shape = new TensorShape(2, 3, 4, 4);
        var ex = Assert.Throws<ArgumentException>(() => CpuBias.Gradient(shape, new float[10], new float[3]));
        Assert.That(ex!.ParamName, Is.EqualTo("dy"));
        ex = Assert.Throws<ArgumentException>(() => CpuBias.Gradient(shape, new float[96], new float[4]));
        Assert.That(ex!.ParamName, Is.EqualTo("db"));
    }
}
