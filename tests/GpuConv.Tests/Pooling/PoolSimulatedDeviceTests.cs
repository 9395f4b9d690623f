using GpuConv.Backends;
using GpuConv.Backends.Ptx;
using GpuConv.Planning;
using GpuConv.Tensors;
using GpuConv.Tests.Elementwise;
using GpuConv.Tests.Planning;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Pooling;

/// <summary>
/// The engine's pools on a device memory that launches kernels — the simulated GPU runtime, whose launches run
/// kernels/pool.ptx in the PTX interpreter — against the CPU engine bit for bit: the device path of
/// ConvEngine.Pooling (pointers, argument order, the stream) without a GPU; no copy to the host, no wait. And a device
/// memory without kernels still works through host copies.
/// </summary>
public class PoolSimulatedDeviceTests
{
    [Test]
    public void EveryPoolMatchesTheCpuEngineBitForBit_OnTheStream_WithoutDownloads()
    {
        var rt = new SimulatedPtxRuntime();
        using var device = EngineOnBackends.Open(new PtxConvBackend(rt));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var shape = new TensorShape(2, 3, 11, 9);
        var x = new HostTensor(shape, ElementwiseKernelTests.Values(shape.ElementCountInt, 5));
        using var dx = device.Upload(x);
        var cx = cpu.Upload(x);
        var stem = new PoolSpec([3, 3], [2], [1]);
        var ceil = new PoolSpec([3, 2], [2, 2], [1, 1], CeilMode: true, CountIncludePad: false);
        var dilated = new PoolSpec([2, 3], [1, 2], [1, 1], [2, 1], CeilMode: true);
        var results = new (string Op, Tensor Device, Tensor Cpu)[]
        {
            ("max stem", device.MaxPool(stem, dx), cpu.MaxPool(stem, cx)),
            ("max dilated ceil", device.MaxPool(dilated, dx), cpu.MaxPool(dilated, cx)),
            ("avg stem", device.AvgPool(stem, dx), cpu.AvgPool(stem, cx)),
            ("avg ceil exclude-pad", device.AvgPool(ceil, dx), cpu.AvgPool(ceil, cx)),
            ("global", device.GlobalAvgPool(dx), cpu.GlobalAvgPool(cx)),
        };
        var dyShape = stem.OutputShape(shape);
        var dy = new HostTensor(dyShape, ElementwiseKernelTests.Values(dyShape.ElementCountInt, 6));
        using var ddy = device.Upload(dy);
        var cdy = cpu.Upload(dy);
        var dyCeil = HostTensor.Random(ceil.OutputShape(shape), 7);
        using var ddyCeil = device.Upload(dyCeil);
        results =
        [
            .. results,
            ("max backward", device.MaxPoolBackward(stem, ddy, dx), cpu.MaxPoolBackward(stem, cdy, cx)),
            ("avg backward", device.AvgPoolBackward(stem, ddy, shape), cpu.AvgPoolBackward(stem, cdy, shape)),
            ("avg backward ceil exclude-pad", device.AvgPoolBackward(ceil, ddyCeil, shape), cpu.AvgPoolBackward(ceil, cpu.Upload(dyCeil), shape)),
        ];
        Assert.That(rt.CopiesToHost, Is.Zero, "nothing went through the host");
        Assert.That(rt.Synchronizations, Is.Zero, "no call waited for the device");
        Assert.That(rt.Calls.Where(c => c.StartsWith("launch", StringComparison.Ordinal)), Is.EqualTo(new[]
        {
            "launch max_pool_f32", "launch max_pool_f32", "launch avg_pool_f32", "launch avg_pool_f32", "launch global_avg_pool_f32",
            "launch max_pool_backward_f32", "launch avg_pool_backward_f32", "launch avg_pool_backward_f32",
        }));
        foreach (var (op, d, c) in results)
        {
            Assert.That(d.Shape, Is.EqualTo(c.Shape), op);
            Assert.That(PoolKernelTests.Bits(device.Download(d).Data), Is.EqualTo(PoolKernelTests.Bits(cpu.Download(c).Data)), op);
        }
    }

    [Test]
    public void ADeviceMemoryWithoutKernelsGoesThroughHostCopies()
    {
        var memory = new FakeDeviceMemory();
        using var engine = EngineOnBackends.Open(new DeviceResident.DeviceResidentTests.StreamOrderedFake(memory));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var x = HostTensor.Random(new TensorShape(1, 2, 5, 5), 4);
        using var t = engine.Upload(x);
        var spec = new PoolSpec([2, 2], CeilMode: true);
        Assert.That(engine.Download(engine.MaxPool(spec, t)).Data, Is.EqualTo(cpu.Download(cpu.MaxPool(spec, x)).Data));
        Assert.That(engine.Download(engine.AvgPool(spec, t)).Data, Is.EqualTo(cpu.Download(cpu.AvgPool(spec, x)).Data));
        Assert.That(engine.Download(engine.GlobalAvgPool(t)).Data, Is.EqualTo(cpu.Download(cpu.GlobalAvgPool(x)).Data));
        var dy = HostTensor.Random(spec.OutputShape(x.Shape), 5);
        using var ddy = engine.Upload(dy);
        Assert.That(engine.Download(engine.MaxPoolBackward(spec, ddy, t)).Data, Is.EqualTo(cpu.Download(cpu.MaxPoolBackward(spec, dy, x)).Data));
        Assert.That(engine.Download(engine.AvgPoolBackward(spec, ddy, x.Shape)).Data, Is.EqualTo(cpu.Download(cpu.AvgPoolBackward(spec, dy, x.Shape)).Data));
    }
}
