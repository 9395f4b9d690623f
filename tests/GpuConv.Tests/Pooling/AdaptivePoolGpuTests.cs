using GpuConv.Tensors;
using GpuConv.Tests.Elementwise;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Pooling;

/// <summary>
/// On a GPU host: adaptive max and average pooling and their gradients on a device engine (kernels/adaptive_pool.ptx
/// through cuLaunchKernel on the engine's stream; the max gradient's argmax pass into a scratch buffer) against the CPU
/// engine, bit for bit (NaN compared as NaN), on every shape of <see cref="AdaptivePoolKernelTests.Cases"/>, twice (the
/// scratch buffer reused), and into a given output. Skipped with discovery's reason when no GPU is usable; under the
/// native fakes the kernels run in the PTX interpreter, so there this proves the launches, not the device's arithmetic.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class AdaptivePoolGpuTests : GpuAgainstCpuEngines
{
    public static IEnumerable<TestCaseData> Cases() => AdaptivePoolKernelTests.Cases();

    [TestCaseSource(nameof(Cases))]
    public void ForwardAndBackwardMatchTheCpuEngine(int[] dims, int[] outputSize)
    {
        Assert.That(gpu.Memory.Kind, Is.EqualTo(MemoryKind.Device));
        var shape = new TensorShape(dims);
        var x = new HostTensor(shape, ElementwiseKernelTests.Values(shape.ElementCountInt, dims.Sum())
            .Select(v => float.IsFinite(v) ? MathF.Round(v) : v).ToArray()); // ties: the first maximum takes the gradient
        using var gx = gpu.Upload(x);
        var cx = cpu.Upload(x);
        foreach (bool max in new[] { true, false })
        {
            string what = max ? "max" : "avg";
            var expected = cpu.Download(max ? cpu.AdaptiveMaxPool(cx, outputSize) : cpu.AdaptiveAvgPool(cx, outputSize));
            using var gy = gpu.Allocate(expected.Shape);
            var same = max ? gpu.AdaptiveMaxPool(gx, outputSize, gy) : gpu.AdaptiveAvgPool(gx, outputSize, gy);
            Assert.That(same, Is.SameAs(gy));
            Assert.That(Bits(gpu.Download(gy).Data), Is.EqualTo(Bits(expected.Data)), what);

            var dy = new HostTensor(expected.Shape, ElementwiseKernelTests.Values(expected.Shape.ElementCountInt, 5));
            using var gdy = gpu.Upload(dy);
            var cdy = cpu.Upload(dy);
            var dxExpected = cpu.Download(max ? cpu.AdaptiveMaxPoolBackward(cdy, cx) : cpu.AdaptiveAvgPoolBackward(cdy, shape));
            for (int round = 0; round < 2; round++)
            {
                using var gdx = max ? gpu.AdaptiveMaxPoolBackward(gdy, gx) : gpu.AdaptiveAvgPoolBackward(gdy, shape);
                Assert.That(Bits(gpu.Download(gdx).Data), Is.EqualTo(Bits(dxExpected.Data)), $"{what} backward, round {round}");
            }
        }
    }
}
