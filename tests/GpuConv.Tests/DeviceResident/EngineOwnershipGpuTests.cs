using GpuConv.Conv;
using GpuConv.Cuda.Discovery;
using GpuConv.Tensors;

namespace GpuConv.Tests.DeviceResident;

/// <summary>
/// Two engines on one GPU (an engine per thread, as samples/GpuConv.DeviceChain --engine-per-thread opens them): a
/// tensor made by one is refused by the other before any device work, with a message that says so (both work in the
/// same primary context, so "another CUDA context" alone would mislead); each runs on its own stream.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class EngineOwnershipGpuTests
{
    [Test]
    public void AnotherEnginesTensor_IsRefusedNamingTheArgument()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        using var a = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, Backend = "cudnn", PersistPlans = false });
        using var b = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, Backend = "cudnn", PersistPlans = false });
        Assert.That(a.CudaContextHandle, Is.EqualTo(b.CudaContextHandle), "the same primary context");
        Assert.That(a.CudaStreamHandle, Is.Not.EqualTo(b.CudaStreamHandle), "a stream each");
        using var x = a.Upload(HostTensor.Random(new TensorShape(1, 2, 4, 4), 1));
        using var w = b.Upload(HostTensor.Random(new TensorShape(3, 2, 3, 3), 2));
        var e = Assert.Throws<ArgumentException>(() => b.Forward(new ConvSpec([3, 3], padBegin: [1]), x, w));
        Assert.That(e!.ParamName, Is.EqualTo("x"));
        Assert.That(e.Message, Does.Contain("another engine").And.Contain("upload it through this engine"));
    }
}
