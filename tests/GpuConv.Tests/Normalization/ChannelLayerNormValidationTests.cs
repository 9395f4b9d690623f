using GpuConv.Tensors;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// Bad input to the channels-first LayerNorm calls: an <see cref="ArgumentException"/> naming the field or parameter
/// and the values, before any work — the outputs given are still as they were.
/// </summary>
public class ChannelLayerNormValidationTests
{
    static readonly TensorShape Shape = new(2, 6, 4, 5);
    static readonly TensorShape Ch = new(6);
    static readonly TensorShape Positions = new(2, 4, 5);

    static HostTensor X() => new(Shape, BatchNormTestData.Values(Shape, 1));
    static HostTensor C(float v = 1f) => new(Ch, [v, v + 1, v + 2, v + 3, v + 4, v + 5]);
    static HostTensor P(float v = 1f) => new(Positions, [.. Enumerable.Repeat(v, 40)]);

    static ConvEngine Open() => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    static void Refused(Action call, string param, params string[] fragments)
    {
        var e = Assert.Catch<ArgumentException>(() => call())!;
        Assert.That(e.ParamName, Is.EqualTo(param), e.Message);
        foreach (var f in fragments) Assert.That(e.Message, Does.Contain(f));
    }

    [TestCase(0.0, "0")]
    [TestCase(-1e-5, "-1E-05")]
    [TestCase(double.NaN, "NaN")]
    [TestCase(double.PositiveInfinity, "Infinity")]
    [TestCase(1e-50, "1E-50")]
    public void BadEpsilonIsRefused(double eps, string value)
    {
        using var cpu = Open();
        var spec = new LayerNormSpec(eps);
        Refused(() => _ = cpu.ChannelLayerNorm(spec, X()), "Epsilon", value);
        Refused(() => _ = cpu.ChannelLayerNormBackward(spec, X(), X(), P(), P(), null), "Epsilon", value);
    }

    [Test]
    public void BadShapesAreRefused()
    {
        using var cpu = Open();
        var spec = new LayerNormSpec();
        Refused(() => _ = cpu.ChannelLayerNorm(spec, new HostTensor(new TensorShape(6))), "x", "[6]", "rank 2 to 5");
        Refused(() => _ = cpu.ChannelLayerNorm(spec, new HostTensor(new TensorShape(2, 6, 2, 2, 2, 2))), "x", "rank 2 to 5");
        Refused(() => _ = cpu.ChannelLayerNorm(spec, X(), new HostTensor(new TensorShape(4)), C()), "weight", "[4]", "[6]");
        Refused(() => _ = cpu.ChannelLayerNorm(spec, X(), C(), new HostTensor(new TensorShape(1, 6))), "bias", "[1, 6]", "[6]");
        Refused(() => _ = cpu.ChannelLayerNorm(spec, X(), C(), null), "bias", "null", "both");
        Refused(() => _ = cpu.ChannelLayerNorm(spec, X(), null, C()), "weight", "null", "both");
        Refused(() => _ = cpu.ChannelLayerNorm(spec, X(), savedMean: new HostTensor(new TensorShape(2, 5, 4))), "savedMean", "[2, 5, 4]", "[2, 4, 5]");
        Refused(() => _ = cpu.ChannelLayerNorm(spec, X(), savedRstd: new HostTensor(new TensorShape(2, 6))), "savedRstd", "[2, 6]", "[2, 4, 5]");
        Refused(() => _ = cpu.ChannelLayerNorm(spec, X(), output: new HostTensor(new TensorShape(2, 6, 5, 4))), "output", "[2, 6, 5, 4]");
        Refused(() => _ = cpu.ChannelLayerNormBackward(spec, new HostTensor(new TensorShape(2, 6, 4, 4)), X(), P(), P(), null), "dy", "[2, 6, 4, 4]", "[2, 6, 4, 5]");
        Refused(() => _ = cpu.ChannelLayerNormBackward(spec, X(), X(), new HostTensor(new TensorShape(2, 20)), P(), null), "savedMean", "[2, 20]", "[2, 4, 5]");
        Refused(() => _ = cpu.ChannelLayerNormBackward(spec, X(), X(), P(), new HostTensor(new TensorShape(40)), null), "savedRstd", "[40]");
        Refused(() => _ = cpu.ChannelLayerNormBackward(spec, X(), X(), P(), P(), new HostTensor(new TensorShape(3))), "weight", "[3]", "[6]");
        Refused(() => _ = cpu.ChannelLayerNormBackward(spec, X(), X(), P(), P(), C(), dWeight: new HostTensor(new TensorShape(4))), "dWeight", "[4]");
        Refused(() => _ = cpu.ChannelLayerNormBackward(spec, X(), X(), P(), P(), null, dBias: C()), "dBias", "weight is null");
        Refused(() => _ = cpu.ChannelLayerNormBackward(spec, X(), X(), P(), P(), null, dx: new HostTensor(new TensorShape(2, 6, 20))), "dx", "[2, 6, 20]");
    }

    [Test]
    public void AnNcInputHasPerSampleStatistics()
    {
        using var cpu = Open();
        var x = new HostTensor(new TensorShape(3, 4), [1, 2, 3, 4, 5, 6, 7, 9, -1, 0.5f, 2, 3]);
        var r = cpu.ChannelLayerNorm(new LayerNormSpec(), x);
        Assert.That(r.Mean.Shape, Is.EqualTo(new TensorShape(3)));
        Assert.That(((HostTensor)r.Mean).Data, Is.EqualTo(new[] { 2.5f, 6.75f, 1.125f }));
        Refused(() => _ = cpu.ChannelLayerNorm(new LayerNormSpec(), x, savedMean: new HostTensor(new TensorShape(3, 1))), "savedMean", "[3, 1]", "[3]");
    }

    [Test]
    public void AliasingIsRefusedBeforeAnyWrite()
    {
        using var cpu = Open();
        var spec = new LayerNormSpec();
        var x = X();
        var mean = P(0.5f);
        float[] mean0 = (float[])mean.Data.Clone();
        Refused(() => _ = cpu.ChannelLayerNorm(spec, x, output: x), "output", "x");
        Refused(() => _ = cpu.ChannelLayerNorm(spec, x, savedMean: mean, savedRstd: mean), "savedMean", "savedRstd");
        Assert.That(mean.Data, Is.EqualTo(mean0), "saved mean untouched");
        var dy = X();
        var w = C();
        Refused(() => _ = cpu.ChannelLayerNormBackward(spec, dy, x, P(), P(), null, dx: dy), "dx", "dy");
        Refused(() => _ = cpu.ChannelLayerNormBackward(spec, dy, x, P(), P(), w, dWeight: w), "dWeight", "weight");
        var both = C();
        Refused(() => _ = cpu.ChannelLayerNormBackward(spec, dy, x, P(), P(), w, dWeight: both, dBias: both), "dWeight", "dBias");
    }

    [Test]
    public void DisposedAndNullTensorsAreRefused()
    {
        using var cpu = Open();
        var x = X();
        ((IDisposable)x).Dispose();
        Refused(() => _ = cpu.ChannelLayerNorm(new LayerNormSpec(), x), "x", "disposed");
        var w = C();
        ((IDisposable)w).Dispose();
        Refused(() => _ = cpu.ChannelLayerNorm(new LayerNormSpec(), X(), w, C()), "weight", "disposed");
        Assert.Throws<ArgumentNullException>(() => cpu.ChannelLayerNorm(null!, X()));
        Assert.Throws<ArgumentNullException>(() => cpu.ChannelLayerNorm(new LayerNormSpec(), null!));
        Assert.Throws<ArgumentNullException>(() => cpu.ChannelLayerNormBackward(new LayerNormSpec(), X(), X(), null!, P(), null));
    }
}
