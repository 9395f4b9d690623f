using GpuConv.Backends.Ptx;
using GpuConv.Planning;
using GpuConv.Tensors;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Concat;

/// <summary>
/// Bad input to Concat, Narrow and Split: an ArgumentException naming the parameter and quoting the values, before any
/// work (no launch, a given output untouched) — an empty list, null entries, rank and size mismatches (which input, which
/// dim, both sizes), dims out of PyTorch's range, ranges outside the dim, sizes that do not add up, a wrong output shape,
/// an output sharing memory with an input, tensors of another memory or engine, disposed tensors.
/// </summary>
public class ConcatValidationTests
{
    static ConvEngine Cpu() => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    static ConvEngine Simulated(SimulatedPtxRuntime rt) =>
        ConvEngine.Adopt(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false },
            new BackendSet([new PtxConvBackend(rt)], DeviceIdentity.ForCpu(), DeviceIdentity.ForCpu(), null));

    static IEnumerable<string> Launches(SimulatedPtxRuntime rt) => rt.Calls.Where(c => c.StartsWith("launch", StringComparison.Ordinal));

    [Test]
    public void BadConcatCallsNameTheParameter_NothingIsLaunched()
    {
        var rt = new SimulatedPtxRuntime();
        using var engine = Simulated(rt);
        using var a = engine.Upload(HostTensor.Random(new TensorShape(2, 3, 4, 5), 1));
        using var b = engine.Upload(HostTensor.Random(new TensorShape(2, 2, 4, 5), 2));
        using var c = engine.Upload(HostTensor.Random(new TensorShape(2, 3, 4, 6), 3));
        using var flat = engine.Upload(HostTensor.Random(new TensorShape(2, 3, 20), 4));
        ExpectArgument.Throws(() => engine.Concat([]), "inputs", "inputs is empty");
        ExpectArgument.Throws(() => engine.Concat([a, null!]), "inputs", "inputs[1] is null");
        ExpectArgument.Throws(() => engine.Concat([a, flat]), "inputs", "inputs[1] has rank 3 (shape [2, 3, 20]) but inputs[0] has rank 4 (shape [2, 3, 4, 5])");
        ExpectArgument.Throws(() => engine.Concat([a, b, c]), "inputs", "inputs[2] has size 6 in dim 3 but inputs[0] has 5", "[2, 3, 4, 6]", "every dim but dim 1");
        ExpectArgument.Throws(() => engine.Concat([a, b], 0), "inputs", "inputs[1] has size 2 in dim 1 but inputs[0] has 3", "every dim but dim 0");
        ExpectArgument.Throws(() => engine.Concat([a, b], 4), "dim", "dim 4 is out of range for rank 4", "[-4, 3]");
        ExpectArgument.Throws(() => engine.Concat([a, b], -5), "dim", "dim -5 is out of range");
        using var wrong = engine.Allocate(new TensorShape(2, 6, 4, 5));
        ExpectArgument.Throws(() => engine.Concat([a, b], 1, wrong), "output", "output has shape [2, 6, 4, 5], expected [2, 5, 4, 5]");
        // An output over an input's memory: a view starting inside b (allocated after a).
        var overB = new SimulatedPtxRuntime.SimTensor(new TensorShape(2, 5, 4, 5), ((SimulatedPtxRuntime.SimTensor)b).Pointer + 16);
        ExpectArgument.Throws(() => engine.Concat([a, b], 1, overB), "output", "output shares memory with inputs[1]");
        ExpectArgument.Throws(() => engine.Concat([a], 1, a), "output", "output shares memory with inputs[0]");
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.Concat(null!))!.ParamName, Is.EqualTo("inputs"));
        Assert.That(Launches(rt), Is.Empty, "nothing was launched");
    }

    [Test]
    public void BadNarrowAndSplitCallsNameTheParameter_NothingIsLaunched()
    {
        var rt = new SimulatedPtxRuntime();
        using var engine = Simulated(rt);
        using var x = engine.Upload(HostTensor.Random(new TensorShape(2, 6, 3), 1));
        ExpectArgument.Throws(() => engine.Narrow(x, 3, 0, 1), "dim", "dim 3 is out of range for rank 3", "[-3, 2]");
        ExpectArgument.Throws(() => engine.Narrow(x, 1, 7, 1), "start", "start 7 is outside [-6, 6]", "size 6");
        ExpectArgument.Throws(() => engine.Narrow(x, 1, -7, 1), "start", "start -7 is outside [-6, 6]");
        ExpectArgument.Throws(() => engine.Narrow(x, 1, 4, 3), "length", "length 3 does not fit dim 1", "from start 4", "1 to 2");
        ExpectArgument.Throws(() => engine.Narrow(x, -2, -2, 3), "length", "from start 4");
        ExpectArgument.Throws(() => engine.Narrow(x, 1, 6, 1), "length", "1 to 0");
        ExpectArgument.Throws(() => engine.Narrow(x, 1, 0, 0), "length", "length 0");
        using var wrong = engine.Allocate(new TensorShape(2, 3, 3));
        ExpectArgument.Throws(() => engine.Narrow(x, 1, 0, 2, wrong), "output", "output has shape [2, 3, 3], expected [2, 2, 3]");
        var overX = new SimulatedPtxRuntime.SimTensor(new TensorShape(2, 2, 3), ((SimulatedPtxRuntime.SimTensor)x).Pointer + 4);
        ExpectArgument.Throws(() => engine.Narrow(x, 1, 0, 2, overX), "output", "output shares memory with x");

        ExpectArgument.Throws(() => engine.Split(x, 1, []), "sizes", "sizes is empty", "size 6");
        ExpectArgument.Throws(() => engine.Split(x, 1, [2, 0, 4]), "sizes", "sizes[1] is 0");
        ExpectArgument.Throws(() => engine.Split(x, 1, [2, -1, 5]), "sizes", "sizes[1] is -1");
        ExpectArgument.Throws(() => engine.Split(x, 1, [2, 3]), "sizes", "sizes [2, 3] add up to 5 but dim 1 of x [2, 6, 3] has size 6");
        ExpectArgument.Throws(() => engine.Split(x, 1, [2, long.MaxValue]), "sizes", "add up to");
        ExpectArgument.Throws(() => engine.Split(x, -4, [6]), "dim", "dim -4 is out of range");
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.Narrow(null!, 0, 0, 1))!.ParamName, Is.EqualTo("x"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.Split(x, 0, null!))!.ParamName, Is.EqualTo("sizes"));

        using var p2 = engine.Allocate(new TensorShape(2, 2, 3));
        using var p4 = engine.Allocate(new TensorShape(2, 4, 3));
        using var p3 = engine.Allocate(new TensorShape(2, 3, 3));
        using var flat = engine.Allocate(new TensorShape(2, 12));
        using var wide = engine.Allocate(new TensorShape(2, 4, 4));
        ExpectArgument.Throws(() => engine.SplitInto(x, 1, []), "outputs", "outputs is empty", "size 6");
        ExpectArgument.Throws(() => engine.SplitInto(x, 1, [p2, null!]), "outputs[1]", "outputs[1] is null");
        ExpectArgument.Throws(() => engine.SplitInto(x, 1, [p2, flat]), "outputs[1]", "outputs[1] has shape [2, 12] but x is [2, 6, 3]");
        ExpectArgument.Throws(() => engine.SplitInto(x, 1, [p2, wide]), "outputs[1]", "outputs[1] has shape [2, 4, 4], expected [2, 4, 3]");
        ExpectArgument.Throws(() => engine.SplitInto(x, 1, [p2, p3]), "outputs", "add up to 5 but x [2, 6, 3] has 6");
        ExpectArgument.Throws(() => engine.SplitInto(x, 1, [p2, p2, p2]), "outputs[1]", "outputs[1] shares memory with outputs[0]");
        var overP4 = new SimulatedPtxRuntime.SimTensor(new TensorShape(2, 2, 3), ((SimulatedPtxRuntime.SimTensor)p4).Pointer + 8);
        ExpectArgument.Throws(() => engine.SplitInto(x, 1, [p4, overP4]), "outputs[1]", "outputs[1] shares memory with outputs[0]");
        var overX2 = new SimulatedPtxRuntime.SimTensor(new TensorShape(2, 4, 3), ((SimulatedPtxRuntime.SimTensor)x).Pointer + 4);
        ExpectArgument.Throws(() => engine.SplitInto(x, 1, [p2, overX2]), "outputs[1]", "outputs[1] shares memory with x");
        ExpectArgument.Throws(() => engine.SplitInto(x, 3, [p2, p4]), "dim", "dim 3 is out of range");
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.SplitInto(x, 0, null!))!.ParamName, Is.EqualTo("outputs"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => engine.SplitInto(null!, 0, [p2]))!.ParamName, Is.EqualTo("x"));
        Assert.That(Launches(rt), Is.Empty, "nothing was launched");
    }

    [Test]
    public void AnotherMemoryAnotherEngineAndDisposedTensorsAreRefused_TheOutputUntouched()
    {
        var rt = new SimulatedPtxRuntime();
        using var device = Simulated(rt);
        using var cpu = Cpu();
        var onHost = cpu.Upload(HostTensor.Random(new TensorShape(2, 3), 1));
        using var onDevice = device.Upload(HostTensor.Random(new TensorShape(2, 3), 2));
        ExpectArgument.Throws(() => device.Concat([onDevice, onHost]), "inputs[1]", "inputs[1] is in Host memory but this engine works in Device memory");
        ExpectArgument.Throws(() => cpu.Concat([onHost, onDevice], 0), "inputs[1]", "in Device memory");
        ExpectArgument.Throws(() => device.Concat([onDevice], 0, cpu.Allocate(new TensorShape(2, 3))), "output", "in Host memory");
        ExpectArgument.Throws(() => device.Narrow(onHost, 0, 0, 1), "x", "in Host memory");
        ExpectArgument.Throws(() => cpu.Split(onDevice, 0, [1, 1]), "x", "in Device memory");
        var y = cpu.Upload(HostTensor.Random(new TensorShape(4, 3), 3));
        var before = cpu.Download(y).Data;
        var gone = cpu.Upload(HostTensor.Random(new TensorShape(2, 3), 4));
        ((IDisposable)gone).Dispose();
        ExpectArgument.Throws(() => cpu.Concat([onHost, gone], 0, y), "inputs[1]", "inputs[1] was disposed");
        ExpectArgument.Throws(() => cpu.Narrow(gone, 0, 0, 1), "x", "x was disposed");
        Assert.That(cpu.Download(y).Data, Is.EqualTo(before), "the output was not written");
        Assert.That(Launches(rt), Is.Empty, "nothing was launched");
        cpu.Dispose();
        Assert.Throws<ObjectDisposedException>(() => cpu.Concat([onHost], 0));
        Assert.Throws<ObjectDisposedException>(() => cpu.Narrow(onHost, 0, 0, 1));
        Assert.Throws<ObjectDisposedException>(() => cpu.Split(onHost, 0, [2]));
    }
}
