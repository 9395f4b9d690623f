using GpuConv.Tensors;
using GpuConv.Tests.Support;
using GpuConv.Tests.Elementwise;

namespace GpuConv.Tests.Pooling;

/// <summary>
/// On a GPU host: each pool on a device engine (kernels/pool.ptx through cuLaunchKernel on the engine's stream) against
/// the CPU engine, bit for bit (NaN compared as NaN) — ranks 1–3, padding, dilation, ceil-mode edge windows, both
/// divisors, random values mixed with NaN, ±Inf, ±0 and subnormals, a plane larger than a block; both backward passes; a pooled chain queued
/// without waits; a tensor of another engine refused. Skipped with discovery's reason when no GPU is usable. Under the
/// native fakes the kernels run in the PTX interpreter, so there this proves the launches (arguments, pointers, stream
/// order), not the device's arithmetic.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class PoolGpuTests : GpuAgainstCpuEngines
{
    public static IEnumerable<TestCaseData> Cases() => PoolKernelTests.Cases();

    [TestCaseSource(nameof(Cases))]
    public void MaxAndAverageMatchTheCpuEngine(int[] dims, PoolSpec spec)
    {
        Assert.That(gpu.Memory.Kind, Is.EqualTo(MemoryKind.Device));
        var shape = new TensorShape(dims);
        var x = new HostTensor(shape, ElementwiseKernelTests.Values(shape.ElementCountInt, dims.Sum()));
        using var gx = gpu.Upload(x);
        var cx = cpu.Upload(x);
        using (var g = gpu.MaxPool(spec, gx))
            Assert.That(Bits(gpu.Download(g).Data), Is.EqualTo(Bits(cpu.Download(cpu.MaxPool(spec, cx)).Data)), $"max {spec}");
        if (!spec.IsDense) return;
        foreach (bool include in new[] { true, false })
        {
            var s = spec with { CountIncludePad = include };
            using var g = gpu.AvgPool(s, gx);
            Assert.That(Bits(gpu.Download(g).Data), Is.EqualTo(Bits(cpu.Download(cpu.AvgPool(s, cx)).Data)), $"avg {s}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void BackwardMatchesTheCpuEngine(int[] dims, PoolSpec spec)
    {
        var shape = new TensorShape(dims);
        var x = new HostTensor(shape, ElementwiseKernelTests.Values(shape.ElementCountInt, dims.Sum() + 1));
        var dy = new HostTensor(spec.OutputShape(shape), ElementwiseKernelTests.Values(spec.OutputShape(shape).ElementCountInt, 2));
        using var gx = gpu.Upload(x);
        using var gdy = gpu.Upload(dy);
        var cx = cpu.Upload(x);
        var cdy = cpu.Upload(dy);
        using (var g = gpu.MaxPoolBackward(spec, gdy, gx))
            Assert.That(Bits(gpu.Download(g).Data), Is.EqualTo(Bits(cpu.Download(cpu.MaxPoolBackward(spec, cdy, cx)).Data)), $"max backward {spec}");
        if (!spec.IsDense) return;
        foreach (bool include in new[] { true, false })
        {
            var s = spec with { CountIncludePad = include };
            using var g = gpu.AvgPoolBackward(s, gdy, shape);
            Assert.That(Bits(gpu.Download(g).Data), Is.EqualTo(Bits(cpu.Download(cpu.AvgPoolBackward(s, cdy, shape)).Data)), $"avg backward {s}");
        }
    }

    [TestCase(2, 3, 7, 7)]
    [TestCase(1, 5, 1000)]
    [TestCase(1, 2, 3, 9, 11)]
    public void GlobalAverageMatchesTheCpuEngine(params int[] dims)
    {
        var shape = new TensorShape(dims);
        var x = new HostTensor(shape, ElementwiseKernelTests.Values(shape.ElementCountInt, 3));
        using var gx = gpu.Upload(x);
        using var g = gpu.GlobalAvgPool(gx);
        Assert.That(g.Shape, Is.EqualTo(new TensorShape([dims[0], dims[1], .. Enumerable.Repeat(1, dims.Length - 2)])));
        Assert.That(Bits(gpu.Download(g).Data), Is.EqualTo(Bits(cpu.Download(cpu.GlobalAvgPool(cpu.Upload(x))).Data)));
    }

    [Test]
    public void StemPoolThenHeadPoolQueuedWithoutWaits()
    {
        // relu → max pool 3x3/2 → avg pool 2x2 → global average, downloaded once.
        var shape = new TensorShape(2, 8, 33, 31);
        var x = HostTensor.Random(shape, 11);
        using var gx = gpu.Upload(x);
        var cx = cpu.Upload(x);
        var stem = new PoolSpec([3, 3], [2], [1]);
        var down = new PoolSpec([2, 2], CeilMode: true);
        Tensor Chain(ConvEngine e, Tensor t)
        {
            e.Relu(t, output: t);
            using var a = e.MaxPool(stem, t);
            using var b = e.AvgPool(down, a);
            return e.GlobalAvgPool(b);
        }
        using var gy = Chain(gpu, gx);
        var cy = Chain(cpu, cx);
        Assert.That(Bits(gpu.Download(gy).Data), Is.EqualTo(Bits(cpu.Download(cy).Data)));
    }

    [Test]
    public void ATensorOfAnotherEngineIsRefused()
    {
        using var other = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, PersistPlans = false });
        using var foreign = other.Upload(HostTensor.Random(new TensorShape(1, 1, 4, 4), 1));
        var e = Assert.Throws<ArgumentException>(() => gpu.MaxPool(new PoolSpec([2, 2]), foreign))!;
        Assert.That(e.ParamName, Is.EqualTo("x"));
        Assert.That(e.Message, Does.Contain("belongs to another engine"));
    }
}
