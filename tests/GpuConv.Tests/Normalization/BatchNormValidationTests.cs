using GpuConv.Tensors;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// Bad input to the BatchNorm calls: an <see cref="ArgumentException"/> naming the parameter (and the values) before
/// any work — the running statistics are still as they were.
/// </summary>
public class BatchNormValidationTests
{
    static readonly TensorShape Shape = new(2, 3, 4, 5);
    static readonly TensorShape Ch = new(3);

    static HostTensor X() => new(Shape, BatchNormTestData.Values(Shape, 1));
    static HostTensor C(float v = 1f) => new(Ch, [v, v + 1, v + 2]);

    static void Refused(Action call, string param, params string[] fragments)
    {
        var e = Assert.Catch<ArgumentException>(() => call())!;
        Assert.That(e.ParamName, Is.EqualTo(param), e.Message);
        foreach (var f in fragments) Assert.That(e.Message, Does.Contain(f));
    }

    [TestCase(0.0, 0.1, "Epsilon", "0")]
    [TestCase(-1e-5, 0.1, "Epsilon", "-1E-05")]
    [TestCase(double.NaN, 0.1, "Epsilon", "NaN")]
    [TestCase(double.PositiveInfinity, 0.1, "Epsilon", "Infinity")]
    [TestCase(1e-50, 0.1, "Epsilon", "1E-50")]
    [TestCase(1e-5, -0.1, "Momentum", "-0.1")]
    [TestCase(1e-5, 1.5, "Momentum", "1.5")]
    [TestCase(1e-5, double.NaN, "Momentum", "NaN")]
    public void BadSpecIsRefused(double eps, double momentum, string param, string value)
    {
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var spec = new BatchNormSpec(eps, momentum);
        Refused(() => _ = cpu.BatchNormTraining(spec, X()), param, value);
        Refused(() => _ = cpu.BatchNormInference(spec, X(), null, null, C(), C()), param, value);
    }

    [Test]
    public void BadShapesAreRefused()
    {
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var spec = new BatchNormSpec();
        Refused(() => _ = cpu.BatchNormTraining(spec, new HostTensor(new TensorShape(6))), "x", "[6]", "rank 2 to 5");
        Refused(() => _ = cpu.BatchNormTraining(spec, new HostTensor(new TensorShape(2, 3, 2, 2, 2, 2))), "x", "rank 2 to 5");
        Refused(() => _ = cpu.BatchNormTraining(spec, new HostTensor(new TensorShape(1, 3))), "x", "more than 1 value per channel");
        Refused(() => _ = cpu.BatchNormTraining(spec, new HostTensor(new TensorShape(1, 3, 1, 1))), "x", "more than 1 value per channel");
        Refused(() => _ = cpu.BatchNormTraining(spec, X(), gamma: new HostTensor(new TensorShape(4))), "gamma", "[4]", "[3]");
        Refused(() => _ = cpu.BatchNormTraining(spec, X(), beta: new HostTensor(new TensorShape(1, 3))), "beta", "[3]");
        Refused(() => _ = cpu.BatchNormTraining(spec, X(), savedMean: new HostTensor(new TensorShape(2))), "savedMean", "[2]");
        Refused(() => _ = cpu.BatchNormTraining(spec, X(), output: new HostTensor(new TensorShape(2, 3, 5, 4))), "output", "[2, 3, 5, 4]");
        Refused(() => _ = cpu.BatchNormInference(spec, X(), null, null, C(), new HostTensor(new TensorShape(5))), "runningVar", "[5]");
        Refused(() => _ = cpu.BatchNormBackward(new HostTensor(new TensorShape(2, 3, 4, 4)), X(), null, C(), C()), "dy", "[2, 3, 4, 4]");
        Refused(() => _ = cpu.BatchNormBackward(X(), X(), null, C(), new HostTensor(new TensorShape(2))), "savedInvStd", "[2]");
        Refused(() => _ = cpu.BatchNormBackward(X(), X(), null, C(), C(), dGamma: new HostTensor(new TensorShape(4))), "dGamma", "[4]");
    }

    [Test]
    public void OneRunningStatisticWithoutTheOtherIsRefused()
    {
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        Refused(() => _ = cpu.BatchNormTraining(new BatchNormSpec(), X(), runningMean: C()), "runningVar", "null");
        Refused(() => _ = cpu.BatchNormTraining(new BatchNormSpec(), X(), runningVar: C()), "runningMean", "null");
    }

    [Test]
    public void DisposedTensorsAreRefused()
    {
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var x = X();
        ((IDisposable)x).Dispose();
        Refused(() => _ = cpu.BatchNormTraining(new BatchNormSpec(), x), "x", "disposed");
        var gamma = C();
        ((IDisposable)gamma).Dispose();
        Refused(() => _ = cpu.BatchNormTraining(new BatchNormSpec(), X(), gamma), "gamma", "disposed");
        Refused(() => _ = cpu.BatchNormBackward(X(), X(), gamma, C(), C()), "gamma", "disposed");
        var rv = C();
        ((IDisposable)rv).Dispose();
        Refused(() => _ = cpu.BatchNormInference(new BatchNormSpec(), X(), null, null, C(), rv), "runningVar", "disposed");
    }

    [Test]
    public void AliasingIsRefusedBeforeTheRunningStatisticsChange()
    {
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var spec = new BatchNormSpec();
        var x = X();
        var rm = C(0.5f);
        var rv = C(2f);
        float[] rm0 = (float[])rm.Data.Clone(), rv0 = (float[])rv.Data.Clone();
        Refused(() => _ = cpu.BatchNormTraining(spec, x, output: x), "output", "x");
        Refused(() => _ = cpu.BatchNormTraining(spec, x, null, null, rm, rm), "runningMean", "runningVar");
        Refused(() => _ = cpu.BatchNormTraining(spec, x, null, null, rm, rv, savedMean: rm), "savedMean", "runningMean");
        Refused(() => _ = cpu.BatchNormTraining(spec, x, rm, null, rm, rv), "runningMean", "gamma");
        Refused(() => _ = cpu.BatchNormTraining(spec, x, null, null, rm, rv, savedMean: C(), savedInvStd: rv), "savedInvStd", "runningVar");
        Assert.That(rm.Data, Is.EqualTo(rm0), "running mean untouched");
        Assert.That(rv.Data, Is.EqualTo(rv0), "running var untouched");
        Refused(() => _ = cpu.BatchNormInference(spec, x, null, null, rm, rv, x), "output", "x");
        var dy = X();
        var mean = C();
        Refused(() => _ = cpu.BatchNormBackward(dy, x, null, mean, C(), dx: dy), "dx", "dy");
        Refused(() => _ = cpu.BatchNormBackward(dy, x, null, mean, C(), dGamma: mean), "dGamma", "savedMean");
        var both = C();
        Refused(() => _ = cpu.BatchNormBackward(dy, x, null, mean, C(), dGamma: both, dBeta: both), "dGamma", "dBeta");
    }

    [Test]
    public void NullTensorsAreRefused()
    {
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        Assert.Throws<ArgumentNullException>(() => cpu.BatchNormTraining(new BatchNormSpec(), null!));
        Assert.Throws<ArgumentNullException>(() => cpu.BatchNormBackward(X(), X(), null, null!, C()));
    }
}
