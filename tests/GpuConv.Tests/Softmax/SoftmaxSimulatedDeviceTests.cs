using GpuConv.Backends.Ptx;
using GpuConv.Tensors;
using GpuConv.Tests.Planning;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Softmax;

/// <summary>
/// The engine's Softmax and LogSoftmax on a device memory that launches kernels — the simulated GPU runtime, whose
/// launches run kernels/softmax.ptx in the PTX interpreter — against the CPU engine bit for bit: the device path of
/// ConvEngine.Softmax (entry choice by layout, pointers, argument order, the log flag, the stream) without a GPU; no
/// copy to the host, no wait. And a device memory without kernels still works through host copies.
/// </summary>
public class SoftmaxSimulatedDeviceTests
{
    [TestCase(new[] { 3, 70 }, -1, "rows")]
    [TestCase(new[] { 2, 5, 3, 4 }, 1, "columns")]
    public void ForwardAndBackwardMatchTheCpuEngineBitForBit_OnTheStream_WithoutDownloads(int[] dims, int dim, string entries)
    {
        var rt = new SimulatedPtxRuntime();
        using var device = EngineOnBackends.Open(new PtxConvBackend(rt));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var shape = new TensorShape(dims);
        var x = new HostTensor(shape, SoftmaxTestData.Values(shape.ElementCount, 70, 8f));
        var dy = new HostTensor(shape, SoftmaxTestData.Values(shape.ElementCount, 71, 1f));
        using Tensor dx = device.Upload(x), ddy = device.Upload(dy);
        int copiesBefore = rt.CopiesToHost;

        var y = device.Softmax(dx, dim);
        var ly = device.LogSoftmax(dx, dim);
        var g = device.SoftmaxBackward(ddy, y, dim);
        var lg = device.LogSoftmaxBackward(ddy, ly, dim);
        var cy = cpu.Softmax(x, dim);
        var cly = cpu.LogSoftmax(x, dim);
        var cg = cpu.SoftmaxBackward(dy, cy, dim);
        var clg = cpu.LogSoftmaxBackward(dy, cly, dim);

        Assert.That(rt.CopiesToHost, Is.EqualTo(copiesBefore), "nothing went through the host");
        Assert.That(rt.Synchronizations, Is.Zero, "no call waited for the device");
        string forward = entries == "rows" ? SoftmaxKernels.RowsEntry : SoftmaxKernels.ColumnsEntry;
        string backward = entries == "rows" ? SoftmaxKernels.BackwardRowsEntry : SoftmaxKernels.BackwardColumnsEntry;
        Assert.That(rt.Calls.Where(c => c.StartsWith("launch", StringComparison.Ordinal)), Is.EqualTo(new[]
        {
            "launch " + forward, "launch " + forward, "launch " + backward, "launch " + backward,
        }));
        foreach (var (what, d, c) in new (string, Tensor, Tensor)[] { ("y", y, cy), ("log y", ly, cly), ("dx", g, cg), ("log dx", lg, clg) })
            Assert.That(SoftmaxTestData.Bits(device.Download(d).Data), Is.EqualTo(SoftmaxTestData.Bits(cpu.Download(c).Data)), what);
    }

    [Test]
    public void ADeviceMemoryWithoutKernelsGoesThroughHostCopies()
    {
        var memory = new FakeDeviceMemory();
        using var engine = EngineOnBackends.Open(new DeviceResident.DeviceResidentTests.StreamOrderedFake(memory));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var shape = new TensorShape(3, 4, 5);
        var x = new HostTensor(shape, SoftmaxTestData.Values(shape.ElementCount, 80, 5f));
        var dy = new HostTensor(shape, SoftmaxTestData.Values(shape.ElementCount, 81, 1f));
        using Tensor t = engine.Upload(x), tdy = engine.Upload(dy);
        var y = engine.LogSoftmax(t, 1);
        var c = cpu.LogSoftmax(x, 1);
        Assert.That(engine.Download(y).Data, Is.EqualTo(((HostTensor)c).Data));
        var g = engine.LogSoftmaxBackward(tdy, y, 1);
        var cg = cpu.LogSoftmaxBackward(dy, c, 1);
        Assert.That(engine.Download(g).Data, Is.EqualTo(((HostTensor)cg).Data));
        var s = engine.Softmax(t, -1);
        Assert.That(engine.Download(s).Data, Is.EqualTo(((HostTensor)cpu.Softmax(x, -1)).Data));
    }
}
