using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.DeviceResident;

/// <summary>
/// <see cref="ConvEngine.DownloadAsync"/> on the CPU path: an already completed task holding a copy (later calls
/// writing the tensor do not change it), equal to <see cref="ConvEngine.Download(Tensor)"/> and to the float64
/// reference (max rel 1e-5); argument and disposal errors as the synchronous download gives them.
/// </summary>
public class DownloadAsyncTests
{
    static readonly ConvSpec Spec = new([3, 3], padBegin: [1]);

    static ConvEngine OpenCpu() => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    [Test]
    public void CpuPath_ReturnsACompletedCopy_EqualToDownloadAndTheReference()
    {
        using var engine = OpenCpu();
        var x = HostTensor.Random(new TensorShape(2, 3, 8, 8), 1);
        var w = HostTensor.Random(new TensorShape(4, 3, 3, 3), 2);
        using var dx = engine.Upload(x);
        using var dw = engine.Upload(w);
        using var y = engine.Forward(Spec, dx, dw);

        var task = engine.DownloadAsync(y);
        Assert.That(task.IsCompletedSuccessfully, Is.True, "nothing to wait for on the CPU path");
        var expected = engine.Download(y);
        // A later call writing y must not change the downloaded copy.
        engine.Forward(Spec, dx, dw, output: y, accumulate: true);

        var got = task.Result;
        Assert.That(got, Is.Not.SameAs(y));
        Assert.That(got.Shape, Is.EqualTo(y.Shape));
        Assert.That(got.Data, Is.EqualTo(expected.Data));
        var p = ConvProblem.Create(Spec, x.Shape, w.Shape);
        var reference = ReferenceConv.Run(p, x.Data, w.Data, [], []);
        var err = ErrorMetrics.Compare(got.Data, reference);
        Assert.That(err.MaxRelative, Is.LessThan(1e-5), err.ToString());
        Assert.That(engine.Download(y).Data, Is.Not.EqualTo(got.Data), "y itself was written by the later call");
    }

    [Test]
    public void CanceledToken_GivesACanceledTask()
    {
        using var engine = OpenCpu();
        using var t = engine.Upload(HostTensor.Random(new TensorShape(4), 3));
        var task = engine.DownloadAsync(t, new CancellationToken(canceled: true));
        Assert.That(task.IsCanceled, Is.True);
    }

    [Test]
    public void BadArguments_AndADisposedEngine_ThrowBeforeAnyWork()
    {
        var engine = OpenCpu();
        var t = engine.Upload(HostTensor.Random(new TensorShape(4), 4));
        var e = Assert.Throws<ArgumentNullException>(() => engine.DownloadAsync(null!))!;
        Assert.That(e.ParamName, Is.EqualTo("tensor"));
        ((IDisposable)t).Dispose();
        var disposed = Assert.Throws<ArgumentException>(() => engine.DownloadAsync(t))!;
        Assert.That(disposed.Message, Does.Contain("tensor was disposed"));
        engine.Dispose();
        Assert.Throws<ObjectDisposedException>(() => engine.DownloadAsync(new HostTensor(new TensorShape(4))));
    }
}
