using GpuConv.Cuda;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cuda;

/// <summary>DeviceTensor's checks and bookkeeping, with host memory standing in for the device.</summary>
public class DeviceTensorTests
{
    HostBackedRuntime _runtime = null!;

    [SetUp] public void SetUp() => _runtime = new HostBackedRuntime();
    [TearDown] public void TearDown() => _runtime.Dispose();

    [Test]
    public void RoundTripIsExact()
    {
        var host = HostTensor.Random(new TensorShape(2, 3, 5, 7), seed: 11);
        using var t = new DeviceTensor(_runtime, host.Shape);
        t.CopyFrom(host);
        Assert.That(t.Memory, Is.EqualTo(MemoryKind.Device));
        Assert.That(t.ByteCount, Is.EqualTo(2 * 3 * 5 * 7 * 4));
        Assert.That(t.Download(), Is.EqualTo(host.Data));
        Assert.That(t.ToHost().Shape, Is.EqualTo(host.Shape));
    }

    [Test]
    public void DeviceToDeviceCopy()
    {
        var host = HostTensor.Random(new TensorShape(4, 9), seed: 3);
        using var a = new DeviceTensor(_runtime, host.Shape);
        using var b = new DeviceTensor(_runtime, host.Shape);
        a.CopyFrom(host.Data);
        b.CopyFrom(a);
        Assert.That(b.Download(), Is.EqualTo(host.Data));
    }

    [Test]
    public void WrongLengthIsRejectedBeforeAnyCopy()
    {
        using var t = new DeviceTensor(_runtime, new TensorShape(2, 3));
        var ex = Assert.Throws<ArgumentException>(() => t.CopyFrom(new float[5]));
        Assert.That(ex!.ParamName, Is.EqualTo("source"));
        Assert.That(ex.Message, Does.Contain("source has 5 elements but DeviceTensor[2, 3] holds 6"));
        Assert.Throws<ArgumentException>(() => t.CopyTo(new float[7]));
        Assert.That(_runtime.Copies, Is.Zero);
    }

    [Test]
    public void WrongShapeIsRejectedEvenWithTheSameCount()
    {
        using var t = new DeviceTensor(_runtime, new TensorShape(2, 3));
        var ex = Assert.Throws<ArgumentException>(() => t.CopyFrom(new HostTensor(3, 2)));
        Assert.That(ex!.Message, Does.Contain("has shape [3, 2]"));
    }

    [Test]
    public void UseAfterDisposeThrowsObjectDisposed()
    {
        var t = new DeviceTensor(_runtime, new TensorShape(8));
        t.Dispose();
        t.Dispose();
        Assert.That(t.IsDisposed, Is.True);
        Assert.Throws<ObjectDisposedException>(() => _ = t.Pointer);
        Assert.Throws<ObjectDisposedException>(() => t.CopyFrom(new float[8]));
        Assert.Throws<ObjectDisposedException>(() => t.Download());
        Assert.That(_runtime.Pool.Statistics.BlocksInUse, Is.Zero);
    }

    [Test]
    public void TensorsComeFromThePoolAndGoBack()
    {
        var shape = new TensorShape(1, 16, 32, 32);
        ulong first;
        using (var t = new DeviceTensor(_runtime, shape)) first = t.Pointer;
        using var again = new DeviceTensor(_runtime, shape);
        Assert.That(again.Pointer, Is.EqualTo(first));
        Assert.That(_runtime.Pool.Statistics.NativeAllocations, Is.EqualTo(1));
    }

    [Test]
    public void MemorySpaceMovesDataGenerically()
    {
        IMemorySpace space = new CudaMemorySpace(_runtime);
        var host = HostTensor.Random(new TensorShape(3, 4, 5), seed: 5);
        var t = space.Allocate(host.Shape);
        Assert.That(space.Kind, Is.EqualTo(MemoryKind.Device));
        Assert.That(t, Is.InstanceOf<DeviceTensor>());
        space.CopyFromHost(host.Data, t);
        var back = new float[host.Data.Length];
        space.CopyToHost(t, back);
        Assert.That(back, Is.EqualTo(host.Data));
        ((DeviceTensor)t).Dispose();
        var ex = Assert.Throws<ArgumentException>(() => space.CopyToHost(host, back));
        Assert.That(ex!.Message, Does.Contain("expected a device tensor, got HostTensor"));
    }
}
