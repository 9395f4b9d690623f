using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Backends;

/// <summary>
/// IConvBackend used directly (docs/library.md: "can be used directly with ConvTensors"): the reference backend
/// checks its arguments as the CPU backend does. Null arguments were NullReferenceExceptions, and an
/// algorithm of another backend ran as the reference without a word.
/// </summary>
public class ReferenceBackendArgumentTests
{
    static readonly ConvSpec Spec = new([3, 3], padBegin: [1]);
    static readonly ConvProblem Problem = ConvProblem.Create(Spec, new TensorShape(1, 2, 5, 5), new TensorShape(3, 2, 3, 3));

    static ConvTensors Tensors() => new(HostTensor.Random(Problem.XShape, 1), HostTensor.Random(Problem.WShape, 2), new HostTensor(Problem.YShape));

    [Test]
    public void NullArgumentsAreArgumentNullExceptionsNamingThem()
    {
        using var backend = new ReferenceBackend();
        var algorithm = backend.GetAlgorithms(Problem, ConvPrecision.Strict)[0];
        Assert.That(Assert.Throws<ArgumentNullException>(() => backend.Run(null!, algorithm, Tensors()))!.ParamName, Is.EqualTo("problem"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => backend.Run(Problem, null!, Tensors()))!.ParamName, Is.EqualTo("algorithm"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => backend.Run(Problem, algorithm, null!))!.ParamName, Is.EqualTo("tensors"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => backend.TimeRun(Problem, algorithm, null!))!.ParamName, Is.EqualTo("tensors"));
    }

    [Test]
    public void AnotherBackendsAlgorithmIsRefused()
    {
        using var reference = new ReferenceBackend();
        using var cpu = new CpuBackend(1);
        var cpuAlgorithm = cpu.GetAlgorithms(Problem, ConvPrecision.Strict)[0];
        var e = Assert.Throws<ArgumentException>(() => reference.Run(Problem, cpuAlgorithm, Tensors()));
        Assert.That(e!.ParamName, Is.EqualTo("algorithm"));
        Assert.That(e.Message, Does.Contain(cpuAlgorithm.Key).And.Contain("'reference'"));
    }
}
