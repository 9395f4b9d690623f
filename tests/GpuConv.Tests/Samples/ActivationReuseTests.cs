using GpuConv.Networks;
using GpuConv.Networks.InvertedResiduals;
using GpuConv.Networks.ResNet50;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Samples;

/// <summary>
/// samples/GpuConv.Networks' activation buffers reused once dead (<c>DeviceNetwork.Take</c> / <c>Release</c>): the most
/// recently released buffer of as many elements comes back (seen with the asked shape), a new one only when none is free;
/// both networks hold fewer activation bytes than a buffer each and still match the unfolded network in float64, the
/// same logits run after run (a buffer released while still read would corrupt a later layer).
/// </summary>
public class ActivationReuseTests
{
    /// <summary>A network that only takes and releases buffers, for the pool's rules.</summary>
    sealed class Pool(ConvEngine engine) : DeviceNetwork(engine, new TensorShape(1, 1, 1, 1))
    {
        public Tensor TakeBuffer(TensorShape shape) => Take(shape);
        public void ReleaseBuffer(Tensor t) => Release(t);
        public override void Run() { }
    }

    [Test]
    public void TakeReturnsTheMostRecentlyReleasedBufferOfAsManyElements()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        using var pool = new Pool(engine);
        TensorShape a = new(1, 4, 3, 3), b = new(1, 9, 2, 2), c = new(1, 5, 3, 3);
        var first = (HostTensor)pool.TakeBuffer(a);
        var second = (HostTensor)pool.TakeBuffer(a);
        Assert.That(second.Data, Is.Not.SameAs(first.Data), "two live buffers never share memory");
        pool.ReleaseBuffer(first);
        pool.ReleaseBuffer(second);

        Assert.That(pool.TakeBuffer(a), Is.SameAs(second), "the last released first");
        var view = (HostTensor)pool.TakeBuffer(b);
        Assert.That(view.Shape, Is.EqualTo(b));
        Assert.That(view.Data, Is.SameAs(first.Data), "as many elements (36) in another shape: a view of the released buffer");
        var fresh = (HostTensor)pool.TakeBuffer(c);
        Assert.That(fresh.Data, Is.Not.SameAs(first.Data).And.Not.SameAs(second.Data), "none of 45 elements free: a new buffer");

        Assert.That(pool.ActivationBytes, Is.EqualTo((36 + 36 + 45) * sizeof(float)));
        Assert.That(pool.ActivationBytesWithoutReuse, Is.EqualTo((36 + 36 + 36 + 36 + 45) * sizeof(float)));
    }

    static (float[] First, float[] Second, DeviceNetwork Net) RunTwice(INetworkModel model, ConvEngine engine, HostTensor x)
    {
        var net = model.Place(engine, x.Shape);
        engine.Upload(x.Data, net.Input);
        net.Run();
        var first = engine.Download(net.Logits).Data;
        net.Run();
        return (first, engine.Download(net.Logits).Data, net);
    }

    [Test]
    public void MobileNetV2_ReusesBuffersAndMatchesFloat64RunAfterRun()
    {
        var model = MobileNetV2Model.Create(seed: 11, classes: 10);
        var x = HostTensor.Random(new TensorShape(1, 3, 64, 64), 12);
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var (first, second, net) = RunTwice(model, engine, x);
        using (net)
        {
            // 224 × 224: 17.6 MB against 25.9 (the large unique shapes of the first blocks stay).
            Assert.That(net.ActivationBytes, Is.LessThan(0.75 * net.ActivationBytesWithoutReuse));
            Assert.That(second, Is.EqualTo(first), "the same logits on the second run");
            Assert.That(ErrorMetrics.Compare(first, model.Reference(x)).MaxRelative, Is.LessThanOrEqualTo(NetworkResult.Tolerance));
        }
    }

    [Test]
    public void ResNet50_ReusesBuffersAndMatchesFloat64RunAfterRun()
    {
        var model = ResNet50Model.Create(seed: 13, classes: 10);
        var x = HostTensor.Random(new TensorShape(1, 3, 64, 64), 14);
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var (first, second, net) = RunTwice(model, engine, x);
        using (net)
        {
            // 224 × 224: 8.6 MB against 23.2 (each stage's blocks share their buffers).
            Assert.That(net.ActivationBytes, Is.LessThan(0.45 * net.ActivationBytesWithoutReuse));
            Assert.That(second, Is.EqualTo(first), "the same logits on the second run");
            Assert.That(ErrorMetrics.Compare(first, model.Reference(x)).MaxRelative, Is.LessThanOrEqualTo(NetworkResult.Tolerance));
        }
    }

    /// <summary>The squeeze-and-excitation networks: the SE blocks' small buffers taken and released between the
    /// depthwise output they scale in place and the projection; the same logits run after run and float64's.</summary>
    [TestCase(NetworkModel.MobileNetV3)]   // 224 × 224: 11.1 MB against 16.0
    [TestCase(NetworkModel.EfficientNetB0)]
    public void SqueezeExcitationNetworks_ReuseBuffersAndMatchFloat64RunAfterRun(NetworkModel which)
    {
        var model = NetworkApp.Create(which, seed: 15, classes: 10);
        var x = HostTensor.Random(new TensorShape(1, 3, 64, 64), 16);
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var (first, second, net) = RunTwice(model, engine, x);
        using (net)
        {
            Assert.That(net.ActivationBytes, Is.LessThan(0.8 * net.ActivationBytesWithoutReuse));
            Assert.That(second, Is.EqualTo(first), "the same logits on the second run");
            Assert.That(ErrorMetrics.Compare(first, model.Reference(x)).MaxRelative, Is.LessThanOrEqualTo(NetworkResult.Tolerance));
        }
    }
}
