using GpuConv.Backends.Ptx;
using GpuConv.Planning;
using GpuConv.Tensors;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Pooling;

/// <summary>
/// Bad input to the pools: an ArgumentException naming the field or parameter and quoting the values, before any work
/// (no launch, the output untouched) — spec fields PyTorch refuses (kernel, stride, padding over kernel/2, dilation,
/// list lengths), dilation on an average pool, wrong input rank, an output too small, a wrong output shape, an output
/// sharing memory with x, another memory, disposed tensors and engines. And the output shapes PyTorch computes.
/// </summary>
public class PoolValidationTests
{
    static ConvEngine Cpu() => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    static ConvEngine Simulated(SimulatedPtxRuntime rt) =>
        ConvEngine.Adopt(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false },
            new BackendSet([new PtxConvBackend(rt)], DeviceIdentity.ForCpu(), DeviceIdentity.ForCpu(), null));

    [Test]
    public void SpecFieldsAreValidatedByName()
    {
        ExpectArgument.Throws(() => new PoolSpec([]).Validate(), "Kernel", "1 to 3 spatial dimensions", "[]");
        ExpectArgument.Throws(() => new PoolSpec([2, 2, 2, 2]).Validate(), "Kernel", "[2, 2, 2, 2]");
        ExpectArgument.Throws(() => new PoolSpec(null!).Validate(), "Kernel", "null");
        ExpectArgument.Throws(() => new PoolSpec([3, 0]).Validate(), "Kernel", "Kernel[1] must be at least 1, got 0");
        ExpectArgument.Throws(() => new PoolSpec([3, 3], Stride: [2, 0]).Validate(), "Stride", "Stride[1] must be at least 1, got 0");
        ExpectArgument.Throws(() => new PoolSpec([3, 3], Stride: [1, 1, 1]).Validate(), "Stride", "1 value or one per spatial dimension (2)", "[1, 1, 1]");
        ExpectArgument.Throws(() => new PoolSpec([3, 3], Padding: [-1]).Validate(), "Padding", "Padding[0] must be at least 0, got -1");
        ExpectArgument.Throws(() => new PoolSpec([3, 3], Padding: [1, 2]).Validate(), "Padding", "Padding[1] = 2 must be at most half of Kernel[1] = 3", "as in PyTorch");
        ExpectArgument.Throws(() => new PoolSpec([3], Dilation: [0]).Validate(), "Dilation", "Dilation[0] must be at least 1, got 0");
        ExpectArgument.Throws(() => new PoolSpec([3], Dilation: [int.MaxValue]).Validate(), "Dilation", "exceeds");
        Assert.DoesNotThrow(() => new PoolSpec([3, 3], [2], [1], [2], CeilMode: true).Validate());
        Assert.That(new PoolSpec([3, 2]).StrideOf(1), Is.EqualTo(2), "stride defaults to the kernel");
    }

    [Test]
    public void SpecsWrittenAlikeAreEqual()
    {
        var a = new PoolSpec([3, 3], [2], [1], CeilMode: true);
        var b = new PoolSpec([3, 3], [2], [1], CeilMode: true);
        Assert.That(b, Is.EqualTo(a), "the same values in other arrays");
        Assert.That(b.GetHashCode(), Is.EqualTo(a.GetHashCode()));
        Assert.That(a == b, Is.True);
        Assert.That(new HashSet<PoolSpec> { a, b }, Has.Count.EqualTo(1));
        Assert.That(a with { Stride = [1] }, Is.Not.EqualTo(a));
        Assert.That(a with { Padding = null }, Is.Not.EqualTo(a));
        Assert.That(a with { Kernel = [3, 2] }, Is.Not.EqualTo(a));
        Assert.That(a with { CountIncludePad = false }, Is.Not.EqualTo(a));
        Assert.That(new PoolSpec(null!), Is.EqualTo(new PoolSpec(null!)), "an invalid spec compares without throwing");
    }

    [Test]
    public void ASpecKeepsItsValuesWhenTheCallersArraysChange()
    {
        int[] kernel = [3, 3], stride = [2], padding = [1], dilation = [1, 2];
        var spec = new PoolSpec(kernel, stride, padding, dilation);
        var alike = new PoolSpec([3, 3], [2], [1], [1, 2]);
        int hash = spec.GetHashCode();
        kernel[1] = 5;
        stride[0] = 1;
        padding[0] = 2;
        dilation[1] = 3;
        Assert.That(spec, Is.EqualTo(alike), "the spec holds the values it was given");
        Assert.That(spec.GetHashCode(), Is.EqualTo(hash));
        Assert.That(spec.Kernel, Is.EqualTo(new[] { 3, 3 }));
        Assert.That((spec.Stride![0], spec.PaddingOf(1), spec.DilationOf(1)), Is.EqualTo((2, 1, 2)));
        Assert.That(spec.Kernel, Is.Not.SameAs(kernel).And.Not.InstanceOf<int[]>(), "not the caller's array, nor one a cast could change");
        // `with` and an object initializer copy too.
        int[] later = [4];
        var changed = spec with { Stride = later };
        later[0] = 7;
        Assert.That(changed.StrideOf(0), Is.EqualTo(4));
        Assert.That(new PoolSpec([2]) { Padding = null }.Padding, Is.Null, "null stays null (the default)");
    }

    [TestCase(new[] { 1, 64, 112, 112 }, new[] { 3, 3 }, 2, 1, false, new[] { 1, 64, 56, 56 })] // ResNet's stem
    [TestCase(new[] { 1, 1, 7 }, new[] { 3 }, 2, 1, true, new[] { 1, 1, 4 })]                     // ceil: the last window starts inside
    [TestCase(new[] { 1, 1, 6 }, new[] { 3 }, 2, 1, true, new[] { 1, 1, 4 })]
    [TestCase(new[] { 1, 1, 5 }, new[] { 2 }, 2, 1, true, new[] { 1, 1, 3 })]                     // ceil would give 4: its window would start at 5 = in + pad, dropped
    [TestCase(new[] { 1, 1, 5 }, new[] { 2 }, 2, 0, false, new[] { 1, 1, 2 })]
    [TestCase(new[] { 2, 3, 4, 5, 6 }, new[] { 2, 2, 2 }, 2, 0, true, new[] { 2, 3, 2, 3, 3 })]
    public void OutputShapesAreTorchs(int[] input, int[] kernel, int stride, int pad, bool ceil, int[] expected)
    {
        var spec = new PoolSpec(kernel, [stride], [pad], CeilMode: ceil);
        Assert.That(spec.OutputShape(new TensorShape(input)), Is.EqualTo(new TensorShape(expected)));
    }

    [Test]
    public void BadCallsNameTheParameter_NothingIsLaunched()
    {
        var rt = new SimulatedPtxRuntime();
        using var engine = Simulated(rt);
        using var x = engine.Upload(HostTensor.Random(new TensorShape(1, 2, 6, 6), 1));
        ExpectArgument.Throws(() => engine.MaxPool(new PoolSpec([3, 3], Padding: [2]), x), "Padding", "at most half");
        ExpectArgument.Throws(() => engine.AvgPool(new PoolSpec([3, 3], Dilation: [2]), x), "spec", "AvgPool has no dilation", "[2]");
        ExpectArgument.Throws(() => engine.MaxPool(new PoolSpec([3]), x), "x", "x has shape [1, 2, 6, 6] but a pool with a 1-d kernel");
        ExpectArgument.Throws(() => engine.MaxPool(new PoolSpec([7, 2]), x), "x", "spatial dimension 0 of size 6 gives output size 0", "too small");
        // An output dimension past int.MaxValue (stride 1, padding kernel/2, an even kernel: in + 1) is refused by name too,
        // not by TensorShape as "dims[2] must be >= 1, got -2147483648".
        ExpectArgument.Throws(() => new PoolSpec([2], Stride: [1], Padding: [1]).OutputShape(new TensorShape(1, 1, int.MaxValue)),
            "x", "gives output size 2147483648", "too large");
        using var wrong = engine.Allocate(new TensorShape(1, 2, 2, 2));
        ExpectArgument.Throws(() => engine.AvgPool(new PoolSpec([2, 2]), x, wrong), "output", "output has shape [1, 2, 2, 2], expected [1, 2, 3, 3]");
        ExpectArgument.Throws(() => engine.GlobalAvgPool(x, wrong), "output", "expected [1, 2, 1, 1]");
        using var flat = engine.Allocate(new TensorShape(12));
        ExpectArgument.Throws(() => engine.GlobalAvgPool(flat), "x", "[N, C] and 1 to 3 spatial dimensions");
        // An output over x's own memory: a view of x's first 18 elements.
        var view = new SimulatedPtxRuntime.SimTensor(new TensorShape(1, 2, 3, 3), ((SimulatedPtxRuntime.SimTensor)x).Pointer + 8);
        ExpectArgument.Throws(() => engine.MaxPool(new PoolSpec([2, 2]), x, view), "output", "shares memory with x");
        ExpectArgument.Throws(() => engine.GlobalAvgPool(x, new SimulatedPtxRuntime.SimTensor(new TensorShape(1, 2, 1, 1), ((SimulatedPtxRuntime.SimTensor)x).Pointer)), "output", "shares memory with x");
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.MaxPool(null!, x))!.ParamName, Is.EqualTo("spec"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.AvgPool(new PoolSpec([2]), null!))!.ParamName, Is.EqualTo("x"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.GlobalAvgPool(null!))!.ParamName, Is.EqualTo("x"));
        Assert.That(rt.Calls.Where(c => c.StartsWith("launch", StringComparison.Ordinal)), Is.Empty, "nothing was launched");
    }

    [Test]
    public void BadBackwardCallsNameTheParameter_NothingIsLaunched()
    {
        var rt = new SimulatedPtxRuntime();
        using var engine = Simulated(rt);
        var spec = new PoolSpec([2, 2]);
        using var x = engine.Upload(HostTensor.Random(new TensorShape(1, 2, 6, 6), 1));
        using var dy = engine.Upload(HostTensor.Random(new TensorShape(1, 2, 3, 3), 2));
        using var wrongDy = engine.Allocate(new TensorShape(1, 2, 2, 2));
        ExpectArgument.Throws(() => engine.MaxPoolBackward(spec, wrongDy, x), "dy", "dy has shape [1, 2, 2, 2], expected [1, 2, 3, 3]");
        ExpectArgument.Throws(() => engine.AvgPoolBackward(spec, wrongDy, x.Shape), "dy", "expected [1, 2, 3, 3]");
        ExpectArgument.Throws(() => engine.AvgPoolBackward(spec, dy, new TensorShape(2, 6, 6)), "inputShape", "inputShape has shape [2, 6, 6]");
        ExpectArgument.Throws(() => engine.AvgPoolBackward(spec with { Dilation = [2] }, dy, x.Shape), "spec", "AvgPool has no dilation");
        ExpectArgument.Throws(() => engine.MaxPoolBackward(spec with { Padding = [2] }, dy, x), "Padding", "at most half");
        using var wrongDx = engine.Allocate(new TensorShape(1, 2, 6, 5));
        ExpectArgument.Throws(() => engine.MaxPoolBackward(spec, dy, x, wrongDx), "output", "expected [1, 2, 6, 6]");
        var overX = new SimulatedPtxRuntime.SimTensor(x.Shape, ((SimulatedPtxRuntime.SimTensor)x).Pointer);
        ExpectArgument.Throws(() => engine.MaxPoolBackward(spec, dy, x, overX), "output", "shares memory with x");
        var overDy = new SimulatedPtxRuntime.SimTensor(x.Shape, ((SimulatedPtxRuntime.SimTensor)dy).Pointer);
        ExpectArgument.Throws(() => engine.AvgPoolBackward(spec, dy, x.Shape, overDy), "output", "shares memory with dy");
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.MaxPoolBackward(spec, dy, null!))!.ParamName, Is.EqualTo("x"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.AvgPoolBackward(spec, null!, x.Shape))!.ParamName, Is.EqualTo("dy"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.AvgPoolBackward(spec, dy, null!))!.ParamName, Is.EqualTo("inputShape"));
        Assert.That(rt.Calls.Where(c => c.StartsWith("launch", StringComparison.Ordinal)), Is.Empty, "nothing was launched");
    }

    // Planes (N·C) and the plane size are ints and the kernels index in 32 bits: a 2^32-element plane wrapped to
    // PlaneSize 0 and N·C = 2^31 to a negative plane count, and both got past the kernels' size check to a launch.
    [TestCase(new[] { 1, 1, 2048, 2048, 1024 }, new[] { 2048, 2048, 1024 }, "4294967296")]
    [TestCase(new[] { 65536, 32768, 1 }, new[] { 1 }, "2147483648")]
    public void TensorsOf2To31ElementsOrMoreAreRefusedByName_NothingIsLaunched(int[] input, int[] kernel, string count)
    {
        var spec = new PoolSpec(kernel);
        var shape = new TensorShape(input);
        var outShape = spec.OutputShape(shape);
        ExpectArgument.Throws(() => PoolGeometry.Of(spec, shape, outShape), "x", count, "below 2^31 elements");
        var rt = new SimulatedPtxRuntime();
        using var engine = Simulated(rt);
        // Stand-ins at addresses no allocation uses: nothing here may touch their memory.
        var x = new SimulatedPtxRuntime.SimTensor(shape, 1UL << 40);
        var y = new SimulatedPtxRuntime.SimTensor(outShape, 1UL << 50);
        var dx = new SimulatedPtxRuntime.SimTensor(shape, 1UL << 60);
        ExpectArgument.Throws(() => engine.MaxPool(spec, x, y), "x", count);
        ExpectArgument.Throws(() => engine.AvgPool(spec, x, y), "x", count);
        ExpectArgument.Throws(() => engine.MaxPoolBackward(spec, y, x, dx), "x", count);
        ExpectArgument.Throws(() => engine.AvgPoolBackward(spec, y, shape, dx), "inputShape", count);
        Assert.That(rt.Calls.Where(c => c.StartsWith("launch", StringComparison.Ordinal)), Is.Empty, "nothing was launched");
    }

    // The average's divisor (count_include_pad: the window's padded size, at most min(k, in + 2p) per dimension, the
    // first window's) is a 32-bit integer on the CPU and in kernels/pool.ptx. A 65537 x 65537 window padded 32768 on a
    // 1 x 1 input has 4,295,098,369 (PyTorch divides by that, in 64 bits: 3e9 -> 0.6985); it wrapped to 131,073 and the
    // average came out 22888.01, its gradient 7.63e-6 (PyTorch 2.33e-10). Refused now, before any work; the
    // clipped divisor (count_include_pad false) and a window just under 2^31 still run, with PyTorch's values.
    [Test]
    public void AnAveragePoolWhosePaddedWindowPassesInt32IsRefused_NotWrappedAround()
    {
        using var cpu = Cpu();
        using var x = cpu.Upload(new HostTensor(new TensorShape(1, 1, 1, 1), [3.0e9f]));
        using var dy = cpu.Upload(new HostTensor(new TensorShape(1, 1, 1, 1), [1f]));
        var huge = new PoolSpec([65537, 65537], [1], [32768]);
        ExpectArgument.Throws(() => cpu.AvgPool(huge, x), "spec", "4295098369", "[65537, 65537]", "[32768, 32768]", "[1, 1, 1, 1]");
        ExpectArgument.Throws(() => cpu.AvgPoolBackward(huge, dy, x.Shape), "spec", "4295098369");
        Assert.That(cpu.Download(cpu.AvgPool(huge with { CountIncludePad = false }, x)).Data, Is.EqualTo(new[] { 3.0e9f }),
            "the clipped divisor is 1");
        Assert.That(cpu.Download(cpu.MaxPool(huge, x)).Data, Is.EqualTo(new[] { 3.0e9f }), "max pooling has no divisor");
        // 46341 x 46341 = 2,147,488,281 passes int.MaxValue; 46341 x 46339 = 2,147,395,599 does not.
        ExpectArgument.Throws(() => cpu.AvgPool(new PoolSpec([46341, 46341], [1], [23170]), x), "spec", "2147488281");
        var largest = new PoolSpec([46341, 46339], [1], [23170, 23169]);
        Assert.That(cpu.Download(cpu.AvgPool(largest, x)).Data, Is.EqualTo(new[] { 3.0e9f / 2147395599L }));
        Assert.That(cpu.Download(cpu.AvgPoolBackward(largest, dy, x.Shape)).Data, Is.EqualTo(new[] { 1f / 2147395599L }));
        // 3-d: 1291^3 = 2,151,685,171 on a 1 x 1 x 1 input.
        using var x3 = cpu.Upload(new HostTensor(new TensorShape(1, 1, 1, 1, 1), [1f]));
        ExpectArgument.Throws(() => cpu.AvgPool(new PoolSpec([1291, 1291, 1291], [1], [645]), x3), "spec", "2151685171");
        var rt = new SimulatedPtxRuntime();
        using var device = Simulated(rt);
        using var onDevice = device.Upload(new HostTensor(new TensorShape(1, 1, 1, 1), [3.0e9f]));
        ExpectArgument.Throws(() => device.AvgPool(huge, onDevice), "spec", "4295098369");
        Assert.That(rt.Calls.Where(c => c.StartsWith("launch", StringComparison.Ordinal)), Is.Empty, "nothing was launched");
    }

    [Test]
    public void AnotherMemoryAndDisposedTensorsAndEnginesAreRefused()
    {
        var rt = new SimulatedPtxRuntime();
        using var device = Simulated(rt);
        using var cpu = Cpu();
        using var onHost = cpu.Upload(HostTensor.Random(new TensorShape(1, 1, 4, 4), 1));
        using var onDevice = device.Allocate(new TensorShape(1, 1, 4, 4));
        ExpectArgument.Throws(() => device.MaxPool(new PoolSpec([2, 2]), onHost), "x", "in Host memory but this engine works in Device memory");
        ExpectArgument.Throws(() => cpu.GlobalAvgPool(onDevice), "x", "in Device memory");
        ExpectArgument.Throws(() => device.AvgPool(new PoolSpec([2, 2]), onDevice, output: cpu.Allocate(new TensorShape(1, 1, 2, 2))), "output", "in Host memory");
        var y = cpu.Allocate(new TensorShape(1, 1, 2, 2));
        var before = cpu.Download(y).Data;
        ((IDisposable)onHost).Dispose();
        ExpectArgument.Throws(() => cpu.MaxPool(new PoolSpec([2, 2]), onHost, y), "x", "x was disposed");
        Assert.That(cpu.Download(y).Data, Is.EqualTo(before), "the output was not written");
        Assert.That(rt.Calls.Where(c => c.StartsWith("launch", StringComparison.Ordinal)), Is.Empty, "nothing was launched");
        var x = cpu.Allocate(new TensorShape(1, 1, 4, 4));
        cpu.Dispose();
        Assert.Throws<ObjectDisposedException>(() => cpu.MaxPool(new PoolSpec([2, 2]), x));
        Assert.Throws<ObjectDisposedException>(() => cpu.GlobalAvgPool(x));
    }
}
