using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Softmax;

/// <summary>
/// On a GPU host: Softmax and LogSoftmax forward and backward on a device engine (kernels/softmax.ptx through
/// cuLaunchKernel on the engine's stream) against the CPU engine, bit for bit: every layout of the kernel tests' shapes.
/// Skipped with discovery's reason when no GPU is usable. Under the native fakes the kernels run in the PTX
/// interpreter, so there this proves the launches (arguments, pointers, stream order), not the device's arithmetic.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class SoftmaxGpuTests : GpuAgainstCpuEngines
{
    public static IEnumerable<TestCaseData> Shapes() => SoftmaxKernelTests.Shapes();

    [TestCaseSource(nameof(Shapes))]
    public void ForwardAndBackwardMatchTheCpuEngine(int[] dims, int dim)
    {
        Assert.That(gpu.Memory.Kind, Is.EqualTo(MemoryKind.Device));
        var shape = new TensorShape(dims);
        var x = new HostTensor(shape, SoftmaxTestData.Values(shape.ElementCount, dims.Sum() + 90, 30f));
        var dy = new HostTensor(shape, SoftmaxTestData.Values(shape.ElementCount, dims.Sum() + 91, 1f));
        using Tensor gx = gpu.Upload(x), gdy = gpu.Upload(dy);
        var y = gpu.Softmax(gx, dim);
        var ly = gpu.LogSoftmax(gx, dim);
        var g = gpu.SoftmaxBackward(gdy, y, dim);
        var lg = gpu.LogSoftmaxBackward(gdy, ly, dim);
        var cy = cpu.Softmax(x, dim);
        var cly = cpu.LogSoftmax(x, dim);
        var cg = cpu.SoftmaxBackward(dy, cy, dim);
        var clg = cpu.LogSoftmaxBackward(dy, cly, dim);
        foreach (var (what, d, h) in new (string, Tensor, Tensor)[] { ("y", y, cy), ("log y", ly, cly), ("dx", g, cg), ("log dx", lg, clg) })
            Assert.That(Bits(gpu.Download(d).Data), Is.EqualTo(Bits(((HostTensor)h).Data)), what);
        foreach (var d in new[] { y, ly, g, lg }) ((IDisposable)d).Dispose();
    }
}
