using GpuConv.Tensors;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// Bad input to the GroupNorm calls: an <see cref="ArgumentException"/> naming the field or parameter and the values,
/// before any work — the outputs given are still as they were.
/// </summary>
public class GroupNormValidationTests
{
    static readonly TensorShape Shape = new(2, 6, 4, 5);
    static readonly TensorShape Ch = new(6);
    static readonly TensorShape Units = new(2, 3);

    static HostTensor X() => new(Shape, BatchNormTestData.Values(Shape, 1));
    static HostTensor C(float v = 1f) => new(Ch, [v, v + 1, v + 2, v + 3, v + 4, v + 5]);
    static HostTensor U(float v = 1f) => new(Units, [v, v, v, v, v, v]);

    static ConvEngine Open() => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    static void Refused(Action call, string param, params string[] fragments)
    {
        var e = Assert.Catch<ArgumentException>(() => call())!;
        Assert.That(e.ParamName, Is.EqualTo(param), e.Message);
        foreach (var f in fragments) Assert.That(e.Message, Does.Contain(f));
    }

    [TestCase(3, 0.0, "Epsilon", "0")]
    [TestCase(3, -1e-5, "Epsilon", "-1E-05")]
    [TestCase(3, double.NaN, "Epsilon", "NaN")]
    [TestCase(3, double.PositiveInfinity, "Epsilon", "Infinity")]
    [TestCase(3, 1e-50, "Epsilon", "1E-50")]
    [TestCase(0, 1e-5, "Groups", "0")]
    [TestCase(-2, 1e-5, "Groups", "-2")]
    public void BadSpecIsRefused(int groups, double eps, string param, string value)
    {
        using var cpu = Open();
        var spec = new GroupNormSpec(groups, eps);
        Refused(() => _ = cpu.GroupNorm(spec, X()), param, value);
        Refused(() => _ = cpu.GroupNormBackward(spec, X(), X(), U(), U(), null), param, value);
    }

    [Test]
    public void ChannelsNotDivisibleByGroupsAreRefused()
    {
        using var cpu = Open();
        Refused(() => _ = cpu.GroupNorm(new GroupNormSpec(4), X()), "x", "C = 6", "Groups = 4", "not divisible");
        Refused(() => _ = cpu.GroupNormBackward(new GroupNormSpec(5), X(), X(), U(), U(), null), "x", "C = 6", "Groups = 5");
        Refused(() => _ = cpu.GroupNorm(new GroupNormSpec(12), X()), "x", "C = 6", "Groups = 12");
    }

    [Test]
    public void BadShapesAreRefused()
    {
        using var cpu = Open();
        var spec = new GroupNormSpec(3);
        Refused(() => _ = cpu.GroupNorm(spec, new HostTensor(new TensorShape(6))), "x", "[6]", "rank 2 to 5");
        Refused(() => _ = cpu.GroupNorm(spec, new HostTensor(new TensorShape(2, 6, 2, 2, 2, 2))), "x", "rank 2 to 5");
        Refused(() => _ = cpu.GroupNorm(spec, X(), new HostTensor(new TensorShape(4)), C()), "weight", "[4]", "[6]");
        Refused(() => _ = cpu.GroupNorm(spec, X(), C(), new HostTensor(new TensorShape(1, 6))), "bias", "[1, 6]", "[6]");
        Refused(() => _ = cpu.GroupNorm(spec, X(), C(), null), "bias", "null", "both");
        Refused(() => _ = cpu.GroupNorm(spec, X(), null, C()), "weight", "null", "both");
        Refused(() => _ = cpu.GroupNorm(spec, X(), savedMean: new HostTensor(new TensorShape(3, 2))), "savedMean", "[3, 2]", "[2, 3]");
        Refused(() => _ = cpu.GroupNorm(spec, X(), savedRstd: new HostTensor(new TensorShape(6))), "savedRstd", "[6]", "[2, 3]");
        Refused(() => _ = cpu.GroupNorm(spec, X(), output: new HostTensor(new TensorShape(2, 6, 5, 4))), "output", "[2, 6, 5, 4]");
        Refused(() => _ = cpu.GroupNormBackward(spec, new HostTensor(new TensorShape(2, 6, 4, 4)), X(), U(), U(), null), "dy", "[2, 6, 4, 4]", "[2, 6, 4, 5]");
        Refused(() => _ = cpu.GroupNormBackward(spec, X(), X(), new HostTensor(new TensorShape(2, 2)), U(), null), "savedMean", "[2, 2]", "[2, 3]");
        Refused(() => _ = cpu.GroupNormBackward(spec, X(), X(), U(), new HostTensor(new TensorShape(6)), null), "savedRstd", "[6]");
        Refused(() => _ = cpu.GroupNormBackward(spec, X(), X(), U(), U(), new HostTensor(new TensorShape(3))), "weight", "[3]", "[6]");
        Refused(() => _ = cpu.GroupNormBackward(spec, X(), X(), U(), U(), C(), dWeight: new HostTensor(new TensorShape(4))), "dWeight", "[4]");
        Refused(() => _ = cpu.GroupNormBackward(spec, X(), X(), U(), U(), null, dBias: C()), "dBias", "weight is null");
        Refused(() => _ = cpu.GroupNormBackward(spec, X(), X(), U(), U(), null, dx: new HostTensor(new TensorShape(2, 6, 20))), "dx", "[2, 6, 20]");
    }

    [Test]
    public void AliasingIsRefusedBeforeAnyWrite()
    {
        using var cpu = Open();
        var spec = new GroupNormSpec(3);
        var x = X();
        var mean = U(0.5f);
        float[] mean0 = (float[])mean.Data.Clone();
        Refused(() => _ = cpu.GroupNorm(spec, x, output: x), "output", "x");
        Refused(() => _ = cpu.GroupNorm(spec, x, savedMean: mean, savedRstd: mean), "savedMean", "savedRstd");
        Assert.That(mean.Data, Is.EqualTo(mean0), "saved mean untouched");
        var dy = X();
        var w = C();
        Refused(() => _ = cpu.GroupNormBackward(spec, dy, x, U(), U(), null, dx: dy), "dx", "dy");
        Refused(() => _ = cpu.GroupNormBackward(spec, dy, x, U(), U(), w, dWeight: w), "dWeight", "weight");
        var both = C();
        Refused(() => _ = cpu.GroupNormBackward(spec, dy, x, U(), U(), w, dWeight: both, dBias: both), "dWeight", "dBias");
    }

    [Test]
    public void DisposedAndNullTensorsAreRefused()
    {
        using var cpu = Open();
        var x = X();
        ((IDisposable)x).Dispose();
        Refused(() => _ = cpu.GroupNorm(new GroupNormSpec(3), x), "x", "disposed");
        var w = C();
        ((IDisposable)w).Dispose();
        Refused(() => _ = cpu.GroupNorm(new GroupNormSpec(3), X(), w, C()), "weight", "disposed");
        Assert.Throws<ArgumentNullException>(() => cpu.GroupNorm(null!, X()));
        Assert.Throws<ArgumentNullException>(() => cpu.GroupNorm(new GroupNormSpec(3), null!));
        Assert.Throws<ArgumentNullException>(() => cpu.GroupNormBackward(new GroupNormSpec(3), X(), X(), null!, U(), null));
    }
}
