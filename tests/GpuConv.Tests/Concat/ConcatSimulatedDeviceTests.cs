using GpuConv.Tensors;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Concat;

/// <summary>
/// Concat, Narrow and Split on a device memory that launches kernels — the simulated GPU runtime, whose launches run
/// kernels/strided_copy.ptx in the PTX interpreter: bit for bit the CPU engine's (and the definition's), one
/// strided_copy_f32 launch per input or part, on the stream, with no copy to the host and no wait. And on a device
/// memory that launches no kernels (a test stand-in), through host copies, with the same bits.
/// </summary>
public class ConcatSimulatedDeviceTests
{
    [TestCase(2, 0)]
    [TestCase(2, 1)]
    [TestCase(3, 2)]
    [TestCase(4, 1)]
    [TestCase(4, 3)]
    [TestCase(5, 2)]
    [TestCase(5, 4)]
    public void ConcatNarrowAndSplitMatchTheCpuEngineBitForBit_OneLaunchEach_WithoutDownloads(int rank, int dim)
    {
        var rt = new SimulatedPtxRuntime();
        using var device = EngineOnBackends.Open(new GpuConv.Backends.Ptx.PtxConvBackend(rt));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var rng = new Random(rank * 10 + dim);
        var xs = ConcatReference.RandomInputs(rank, dim, 3, rng);
        var onDevice = xs.Select(device.Upload).ToArray();
        rt.Calls.Clear();
        using var y = device.Concat(onDevice, dim - rank);
        Assert.That(Launches(rt), Is.EqualTo(Enumerable.Repeat("launch strided_copy_f32", 3)), "one copy per input");
        int size = y.Shape[dim], start = rng.Next(size), length = rng.Next(1, size - start + 1);
        using var narrowed = device.Narrow(y, dim, start, length);
        var parts = device.Split(y, dim, [.. xs.Select(x => (long)x.Shape[dim])]);
        Assert.That(Launches(rt).Count(), Is.EqualTo(3 + 1 + 3), "one copy per narrow and per part");
        Assert.That(rt.CopiesToHost, Is.Zero, "nothing went through the host");
        Assert.That(rt.Synchronizations, Is.Zero, "no call waited for the device");

        var cy = cpu.Concat(xs, dim);
        Assert.That(Bits(device.Download(y).Data), Is.EqualTo(Bits(cpu.Download(cy).Data)), "concat");
        Assert.That(Bits(device.Download(y).Data), Is.EqualTo(Bits(ConcatReference.Cat(xs, dim, out _))), "concat as the definition");
        Assert.That(Bits(device.Download(narrowed).Data), Is.EqualTo(Bits(cpu.Download(cpu.Narrow(cy, dim, start, length)).Data)), $"narrow [{start}, +{length})");
        for (int i = 0; i < parts.Length; i++)
            Assert.That(Bits(device.Download(parts[i]).Data), Is.EqualTo(Bits(xs[i].Data)), $"part {i}");
    }

    /// <summary>A concatenation writes only its own output: memory around it (another allocation) keeps its bits.</summary>
    [Test]
    public void ACopyWritesOnlyItsSlab()
    {
        var rt = new SimulatedPtxRuntime();
        using var device = EngineOnBackends.Open(new GpuConv.Backends.Ptx.PtxConvBackend(rt));
        var rng = new Random(5);
        var a = ConcatReference.Random(new TensorShape(3, 2, 5), rng);
        var b = ConcatReference.Random(new TensorShape(3, 4, 5), rng);
        var held = ConcatReference.Random(new TensorShape(3, 6, 5), rng);
        using var output = device.Upload(held);
        using var after = device.Upload(held);
        device.Concat([device.Upload(a), device.Upload(b)], 1, output);
        Assert.That(Bits(device.Download(output).Data), Is.EqualTo(Bits(ConcatReference.Cat([a, b], 1, out _))));
        Assert.That(Bits(device.Download(after).Data), Is.EqualTo(Bits(held.Data)), "the next allocation is untouched");
    }

    [Test]
    public void ADeviceMemoryWithoutKernelsConcatenatesThroughHostCopies()
    {
        var memory = new GpuConv.Tests.Planning.FakeDeviceMemory();
        using var engine = EngineOnBackends.Open(new DeviceResident.DeviceResidentTests.StreamOrderedFake(memory));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var rng = new Random(9);
        var xs = ConcatReference.RandomInputs(4, 1, 3, rng);
        var onDevice = xs.Select(engine.Upload).ToArray();
        var y = engine.Concat(onDevice, 1);
        var cy = cpu.Concat(xs, 1);
        Assert.That(Bits(engine.Download(y).Data), Is.EqualTo(Bits(cpu.Download(cy).Data)), "concat");
        Assert.That(Bits(engine.Download(engine.Narrow(y, -3, 1, 2)).Data), Is.EqualTo(Bits(cpu.Download(cpu.Narrow(cy, -3, 1, 2)).Data)), "narrow");
        var parts = engine.Split(y, 1, [.. xs.Select(x => (long)x.Shape[1])]);
        for (int i = 0; i < parts.Length; i++)
            Assert.That(Bits(engine.Download(parts[i]).Data), Is.EqualTo(Bits(xs[i].Data)), $"part {i}");
    }

    static IEnumerable<string> Launches(SimulatedPtxRuntime rt) => rt.Calls.Where(c => c.StartsWith("launch", StringComparison.Ordinal));

    static uint[] Bits(float[] v) => ConcatReference.Bits(v);
}
