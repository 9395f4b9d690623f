using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Conv;

public class ConvSpecOutputSizeTests
{
    [TestCase(4, 3, 0, 1, 2)]   // 4x4 input, 3x3 kernel -> 2x2
    [TestCase(5, 3, 2, 2, 4)]   // 5x5 input, pad 2, stride 2, 3x3 kernel -> 4x4
    [TestCase(32, 5, 2, 1, 32)] // 32x32 RGB, 5x5 kernel, pad 2 -> 32x32
    public void ClassicExamples(int input, int kernel, int pad, int stride, int expected)
    {
        var spec = new ConvSpec([kernel, kernel], stride: [stride], padBegin: [pad]);
        Assert.That(spec.OutputSpatial([input, input]), Is.EqualTo(new[] { expected, expected }));
    }

    [Test]
    public void ProblemCarriesOutputShape()
    {
        var spec = new ConvSpec([5, 5], padBegin: [2]);
        var p = ConvProblem.Create(spec, new TensorShape(1, 3, 32, 32), new TensorShape(8, 3, 5, 5));
        Assert.That(p.YShape, Is.EqualTo(new TensorShape(1, 8, 32, 32)));
    }
}
