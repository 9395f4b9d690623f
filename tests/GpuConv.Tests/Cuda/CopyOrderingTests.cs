using System.Reflection;
using GpuConv.Cuda;
using GpuConv.Cuda.Native;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cuda;

/// <summary>
/// Copies are ordered with the stream the work runs on: every copy goes to a stream (the runtime's own
/// when the caller names none, never the legacy NULL stream) and, where the API promises a finished
/// copy, is followed by a wait on that same stream. Checked on the operation log of the host-backed fake.
/// </summary>
public class CopyOrderingTests
{
    HostBackedRuntime _runtime = null!;

    [SetUp] public void SetUp() => _runtime = new HostBackedRuntime();
    [TearDown] public void TearDown() => _runtime.Dispose();

    [Test]
    public void UploadWithoutAStreamRunsOnTheOwnStreamAndWaitsForIt()
    {
        using var t = new DeviceTensor(_runtime, new TensorShape(2, 3));
        t.CopyFrom(new float[] { 1, 2, 3, 4, 5, 6 });
        Assert.That(_runtime.Operations, Is.EqualTo(new[] { "HtoD own", "Sync own" }));
    }

    [Test]
    public void DownloadWaitsForTheCopyBeforeReturning()
    {
        using var t = new DeviceTensor(_runtime, new TensorShape(4));
        t.CopyFrom(new float[] { 1, 2, 3, 4 });
        _runtime.Operations.Clear();
        Assert.That(t.Download(), Is.EqualTo(new float[] { 1, 2, 3, 4 }));
        Assert.That(_runtime.Operations, Is.EqualTo(new[] { "DtoH own", "Sync own" }));
        _runtime.Operations.Clear();
        t.CopyTo(new float[4]);
        Assert.That(_runtime.Operations, Is.EqualTo(new[] { "DtoH own", "Sync own" }));
    }

    [Test]
    public void DeviceToDeviceWithoutAStreamIsFinishedOnReturn()
    {
        using var a = new DeviceTensor(_runtime, new TensorShape(3));
        using var b = new DeviceTensor(_runtime, new TensorShape(3));
        _runtime.Operations.Clear();
        b.CopyFrom(a);
        Assert.That(_runtime.Operations, Is.EqualTo(new[] { "DtoD own", "Sync own" }));
    }

    [Test]
    public void HostTensorUploadAndContextStyleUploadFollowTheSameOrder()
    {
        var host = HostTensor.Random(new TensorShape(2, 2), seed: 1);
        using var t = new DeviceTensor(_runtime, host.Shape);
        t.CopyFrom(host);
        Assert.That(_runtime.Operations, Is.EqualTo(new[] { "HtoD own", "Sync own" }));
    }

    [Test]
    public void MemorySpaceCopiesRunOnTheOwnStreamAndAreWaitedFor()
    {
        IMemorySpace space = new CudaMemorySpace(_runtime);
        var t = space.Allocate(new TensorShape(5));
        space.CopyFromHost(new float[5], t);
        space.CopyToHost(t, new float[5]);
        Assert.That(_runtime.Operations, Is.EqualTo(new[] { "HtoD own", "Sync own", "DtoH own", "Sync own" }));
        ((DeviceTensor)t).Dispose();
    }

    [Test]
    public void EveryCopyIsFollowedByAWaitOnTheSameStreamBeforeTheHostSeesIt()
    {
        // A round trip through three tensors: no copy result is read on the host before a wait.
        var data = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();
        using var a = new DeviceTensor(_runtime, new TensorShape(12));
        using var b = new DeviceTensor(_runtime, new TensorShape(12));
        a.CopyFrom(data);
        b.CopyFrom(a);
        var back = b.Download();
        Assert.That(back, Is.EqualTo(data));
        var ops = _runtime.Operations;
        for (int i = 0; i < ops.Count; i++)
            if (!ops[i].StartsWith("Sync", StringComparison.Ordinal))
                Assert.That(i + 1 < ops.Count && ops[i + 1] == "Sync own", $"operation {i} ({ops[i]}) is not waited for: {string.Join(", ", ops)}");
    }

    [Test]
    public void TheDriverBindingsOfferNoNullStreamCopyOrMemset()
    {
        // The synchronous cuMemcpy*/cuMemset* run on the legacy NULL stream; only the Async forms are bound.
        var names = typeof(CudaDriver).GetMethods(BindingFlags.Public | BindingFlags.Static).Select(m => m.Name).ToList();
        Assert.That(names, Does.Contain("cuMemcpyHtoDAsync_v2"));
        var nullStream = names.Where(n => (n.StartsWith("cuMemcpy", StringComparison.Ordinal) || n.StartsWith("cuMemset", StringComparison.Ordinal))
            && !n.Contains("Async", StringComparison.Ordinal)).ToList();
        Assert.That(nullStream, Is.Empty);
    }
}
