using GpuConv.Conv;
using GpuConv.Cuda.Discovery;
using GpuConv.Tensors;

namespace GpuConv.Tests.DeviceResident;

/// <summary>
/// engine.Reshape: a view with another shape over the same memory (PyTorch's view on a contiguous tensor). Checked on
/// whichever memory the engine works in: flatten + linear as a 1x1 convolution on the view against float64 sums
/// written out here (max |error| / max |reference| ≤ 1e-5), writes through the view seen through the source, a view
/// refused once its source is disposed, a wrong element count and an output aliasing an input refused before any work.
/// </summary>
static class ReshapeChecks
{
    public static void FlattenThenLinear_MatchesTheSums(ConvEngine engine)
    {
        var x = HostTensor.Random(new TensorShape(2, 4, 3, 3), 1);
        var w = HostTensor.Random(new TensorShape(5, 36, 1, 1), 2);
        var b = HostTensor.Random(new TensorShape(5), 3);
        using var dx = engine.Upload(x);
        using var dw = engine.Upload(w);
        using var db = engine.Upload(b);
        using var flat = engine.Reshape(dx, new TensorShape(2, 36, 1, 1));     // x.view(N, -1, 1, 1)
        Assert.That(flat.Shape, Is.EqualTo(new TensorShape(2, 36, 1, 1)));
        using var y = engine.Forward(new ConvSpec([1, 1]), flat, dw, db);       // nn.Linear(36, 5) as a 1x1 convolution
        var got = engine.Download(y).Data;
        var expected = new double[10];
        for (int n = 0; n < 2; n++)
            for (int k = 0; k < 5; k++)
            {
                double sum = b.Data[k];
                for (int i = 0; i < 36; i++) sum += (double)x.Data[n * 36 + i] * w.Data[k * 36 + i];
                expected[n * 5 + k] = sum;
            }
        Assert.That(ErrorMetrics.Compare(got, expected).MaxRelative, Is.LessThanOrEqualTo(1e-5));

        // The same memory: new data uploaded through the view is what the source holds.
        var fresh = HostTensor.Random(flat.Shape, 4);
        engine.Upload(fresh.Data, flat);
        Assert.That(engine.Download(dx).Data, Is.EqualTo(fresh.Data));
    }

    public static void Misuse_IsRefusedNamingTheArgument(ConvEngine engine)
    {
        using var x = engine.Upload(HostTensor.Random(new TensorShape(1, 4, 2, 2), 5));
        var e = Assert.Throws<ArgumentException>(() => engine.Reshape(x, new TensorShape(1, 15)));
        Assert.That(e!.ParamName, Is.EqualTo("shape"));
        Assert.That(e.Message, Does.Contain("15 elements").And.Contain("16"));

        // An output that is a view of the input: refused like the input itself.
        using var w = engine.Upload(HostTensor.Random(new TensorShape(4, 4, 1, 1), 6));
        using var alias = engine.Reshape(x, x.Shape);
        e = Assert.Throws<ArgumentException>(() => engine.Forward(new ConvSpec([1, 1]), x, w, output: alias));
        Assert.That(e!.ParamName, Is.EqualTo("output"));
        Assert.That(e.Message, Does.Contain("shares memory"));

        // Disposing the source ends the view (its memory is gone on a GPU): refused on every path alike.
        var source = engine.Upload(HostTensor.Random(new TensorShape(1, 4, 2, 2), 7));
        var view = engine.Reshape(source, new TensorShape(1, 16, 1, 1));
        source.Dispose();
        using var w16 = engine.Upload(HostTensor.Random(new TensorShape(3, 16, 1, 1), 8));
        e = Assert.Throws<ArgumentException>(() => engine.Forward(new ConvSpec([1, 1]), view, w16));
        Assert.That(e!.ParamName, Is.EqualTo("x"));
        Assert.That(e.Message, Does.Contain("disposed"));
        view.Dispose();
    }
}

public class ReshapeTests
{
    ConvEngine engine = null!;

    [OneTimeSetUp]
    public void Open() => engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    [OneTimeTearDown]
    public void Close() => engine?.Dispose();

    [Test]
    public void FlattenThenLinear_OnAView_MatchesTheSums_Cpu() => ReshapeChecks.FlattenThenLinear_MatchesTheSums(engine);

    [Test]
    public void Misuse_IsRefusedNamingTheArgument_Cpu() => ReshapeChecks.Misuse_IsRefusedNamingTheArgument(engine);

    [Test]
    public void DisposingTheView_LeavesTheSourceUsable()
    {
        using var x = engine.Upload(HostTensor.Random(new TensorShape(1, 2, 2, 2), 9));
        engine.Reshape(x, new TensorShape(8)).Dispose();
        Assert.That(engine.Download(x).Data, Has.Length.EqualTo(8));
    }
}

[TestFixture, Category("Gpu"), NonParallelizable]
public class ReshapeGpuTests
{
    ConvEngine engine = null!;

    [OneTimeSetUp]
    public void Open()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, Backend = "cudnn", PersistPlans = false });
    }

    [OneTimeTearDown]
    public void Close() => engine?.Dispose();

    [Test]
    public void FlattenThenLinear_OnAView_MatchesTheSums_Gpu()
    {
        ReshapeChecks.FlattenThenLinear_MatchesTheSums(engine);
        using var x = engine.Upload(HostTensor.Random(new TensorShape(2, 3), 1));
        using var v = engine.Reshape(x, new TensorShape(6));
        Assert.That(v, Is.InstanceOf<DeviceTensor>());
        Assert.That(((DeviceTensor)v).Pointer, Is.EqualTo(((DeviceTensor)x).Pointer), "no copy: the same device memory");
    }

    [Test]
    public void Misuse_IsRefusedNamingTheArgument_Gpu() => ReshapeChecks.Misuse_IsRefusedNamingTheArgument(engine);
}
