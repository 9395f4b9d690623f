using GpuConv.Backends.Ptx;
using GpuConv.Planning;
using GpuConv.Tensors;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Elementwise;

/// <summary>
/// Bad input to the element-wise calls: an ArgumentException naming the parameter and quoting the shapes, before any
/// work (no launch, the output untouched) — shape mismatches (no broadcasting), a tensor of another memory, a disposed
/// tensor, an output that partly overlaps an input, a disposed engine.
/// </summary>
public class ElementwiseValidationTests
{
    static ConvEngine Cpu() => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    static ConvEngine Simulated(SimulatedPtxRuntime rt) =>
        ConvEngine.Adopt(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false },
            new BackendSet([new PtxConvBackend(rt)], DeviceIdentity.ForCpu(), DeviceIdentity.ForCpu(), null));

    [Test]
    public void ShapeMismatchesNameTheParameterAndBothShapes()
    {
        using var engine = Cpu();
        using var a = engine.Allocate(new TensorShape(2, 3, 4));
        using var b = engine.Allocate(new TensorShape(2, 12));
        using var c = engine.Allocate(new TensorShape(2, 3, 4));
        ExpectArgument.Throws(() => engine.Add(a, b), "b", "b has shape [2, 12] but a has shape [2, 3, 4]", "no broadcasting");
        ExpectArgument.Throws(() => engine.ReluBackward(a, b), "y", "y has shape [2, 12] but dy has shape [2, 3, 4]");
        ExpectArgument.Throws(() => engine.Relu6Backward(a, b), "x", "x has shape [2, 12] but dy has shape [2, 3, 4]");
        ExpectArgument.Throws(() => engine.Relu6(a, output: b), "output", "[2, 12]", "[2, 3, 4]");
        ExpectArgument.Throws(() => engine.SiluBackward(a, b), "x", "x has shape [2, 12] but dy has shape [2, 3, 4]");
        ExpectArgument.Throws(() => engine.Silu(a, output: b), "output", "[2, 12]", "[2, 3, 4]");
        ExpectArgument.Throws(() => engine.AddScaled(a, 1f, b), "x", "x has shape [2, 12] but y has shape [2, 3, 4]");
        ExpectArgument.Throws(() => engine.Add(a, c, output: b), "output", "output has shape [2, 12], expected [2, 3, 4]");
        ExpectArgument.Throws(() => engine.Relu(a, output: b), "output", "[2, 12]", "[2, 3, 4]");
        ExpectArgument.Throws(() => engine.Scale(a, 2f, output: b), "output", "[2, 12]");
    }

    [Test]
    public void NullsAreRefusedByName()
    {
        using var engine = Cpu();
        using var a = engine.Allocate(new TensorShape(4));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.Add(a, null!))!.ParamName, Is.EqualTo("b"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.Relu(null!))!.ParamName, Is.EqualTo("x"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.ReluBackward(null!, a))!.ParamName, Is.EqualTo("dy"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.Relu6(null!))!.ParamName, Is.EqualTo("x"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.Relu6Backward(a, null!))!.ParamName, Is.EqualTo("x"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.Silu(null!))!.ParamName, Is.EqualTo("x"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.SiluBackward(null!, a))!.ParamName, Is.EqualTo("dy"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.SiluBackward(a, null!))!.ParamName, Is.EqualTo("x"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.AddScaled(a, 1f, null!))!.ParamName, Is.EqualTo("x"));
    }

    [Test]
    public void ATensorOfAnotherMemoryIsRefused()
    {
        var rt = new SimulatedPtxRuntime();
        using var device = Simulated(rt);
        using var cpu = Cpu();
        using var onDevice = device.Allocate(new TensorShape(8));
        using var onHost = cpu.Allocate(new TensorShape(8));
        ExpectArgument.Throws(() => cpu.Relu(onDevice), "x", "in Device memory but this engine works in Host memory");
        ExpectArgument.Throws(() => cpu.Relu6(onDevice), "x", "in Device memory but this engine works in Host memory");
        ExpectArgument.Throws(() => device.Relu6Backward(onDevice, onHost), "x", "in Host memory");
        ExpectArgument.Throws(() => cpu.Silu(onDevice), "x", "in Device memory but this engine works in Host memory");
        ExpectArgument.Throws(() => device.SiluBackward(onDevice, onHost), "x", "in Host memory");
        ExpectArgument.Throws(() => device.Add(onDevice, onHost), "b", "in Host memory but this engine works in Device memory", "upload it first");
        ExpectArgument.Throws(() => device.Scale(onDevice, 2f, output: onHost), "output", "in Host memory");
        ExpectArgument.Throws(() => device.AddScaled(onHost, 2f, onDevice), "y", "in Host memory");
        Assert.That(rt.Calls, Is.Empty, "nothing was launched");
    }

    [Test]
    public void DisposedTensorsAndEnginesAreRefused()
    {
        using var engine = Cpu();
        var a = engine.Upload(HostTensor.Random(new TensorShape(5), 1));
        using var b = engine.Upload(HostTensor.Random(new TensorShape(5), 2));
        var before = engine.Download(b).Data;
        ((IDisposable)a).Dispose();
        ExpectArgument.Throws(() => engine.Add(a, b, output: b), "a", "a was disposed");
        ExpectArgument.Throws(() => engine.ReluBackward(b, a, output: b), "y", "y was disposed");
        ExpectArgument.Throws(() => engine.Relu6Backward(b, a, output: b), "x", "x was disposed");
        ExpectArgument.Throws(() => engine.Relu6(b, output: a), "output", "output was disposed");
        ExpectArgument.Throws(() => engine.SiluBackward(b, a, output: b), "x", "x was disposed");
        ExpectArgument.Throws(() => engine.Silu(b, output: a), "output", "output was disposed");
        ExpectArgument.Throws(() => engine.Relu(b, output: a), "output", "output was disposed");
        ExpectArgument.Throws(() => engine.AddScaled(b, 1f, a), "x", "x was disposed");
        Assert.That(engine.Download(b).Data, Is.EqualTo(before), "the output was not written");
        engine.Dispose();
        Assert.Throws<ObjectDisposedException>(() => engine.Relu(b));
    }

    [Test]
    public void APartlyOverlappingOutputIsRefused_TheSameMemoryIsNot()
    {
        var rt = new SimulatedPtxRuntime();
        using var engine = Simulated(rt);
        var shape = new TensorShape(16);
        using var x = engine.Upload(HostTensor.Random(shape, 1));
        var t = (SimulatedPtxRuntime.SimTensor)x;
        var shifted = new SimulatedPtxRuntime.SimTensor(shape, t.Pointer + 4); // x's elements 1.. and one more (a Wrap could do this on a GPU)
        var same = new SimulatedPtxRuntime.SimTensor(shape, t.Pointer);
        ExpectArgument.Throws(() => engine.Relu(x, output: shifted), "output", "output partly overlaps x", "not on shifted views");
        ExpectArgument.Throws(() => engine.Relu6(x, output: shifted), "output", "output partly overlaps x");
        ExpectArgument.Throws(() => engine.Relu6Backward(x, x, output: shifted), "output", "output partly overlaps dy");
        ExpectArgument.Throws(() => engine.Silu(x, output: shifted), "output", "output partly overlaps x");
        ExpectArgument.Throws(() => engine.SiluBackward(x, x, output: shifted), "output", "output partly overlaps dy");
        ExpectArgument.Throws(() => engine.Add(x, x, output: shifted), "output", "partly overlaps a");
        ExpectArgument.Throws(() => engine.AddScaled(shifted, 1f, x), "y", "y partly overlaps x");
        Assert.That(rt.Calls, Is.Empty, "nothing was launched");
        // The same elements through another tensor object: in place, allowed.
        engine.Scale(x, 2f, output: same);
        Assert.That(rt.Calls, Is.EqualTo(new[] { "launch scale_f32" }));
    }
}
