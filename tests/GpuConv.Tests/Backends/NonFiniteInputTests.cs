using GpuConv.Tests.Support;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Backends;

/// <summary>
/// Issue 14 item 2: one +Inf in x became 445 NaN on the Winograd path where the direct sum (and
/// PyTorch) give 0 NaN and 576 ±Inf; and Validate reported an infinite error for an output that equals
/// the reference. Every CPU algorithm must now give the direct sum's non-finite values.
/// </summary>
public class NonFiniteInputTests
{
    static (ConvProblem P, HostTensor X, HostTensor W) IssueCase(float value)
    {
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(1, 64, 28, 28), new TensorShape(64, 64, 3, 3));
        var x = HostTensor.Random(p.XShape, 1);
        x.Data[5 * 28 * 28 + 10 * 28 + 13] = value;
        return (p, x, HostTensor.Random(p.WShape, 2));
    }

    [TestCase(float.PositiveInfinity)]
    [TestCase(float.NegativeInfinity)]
    [TestCase(float.NaN)]
    public void EveryAlgorithmGivesTheDirectSumsNonFiniteValues(float value)
    {
        var (p, x, w) = IssueCase(value);
        double[] reference = ReferenceConv.Forward(p, x.Data, w.Data);
        int refNaN = reference.Count(double.IsNaN), refInf = reference.Count(double.IsInfinity);
        Assert.That(refNaN + refInf, Is.EqualTo(576), "64 channels x 9 positions read the value");
        if (!float.IsNaN(value)) Assert.That(refNaN, Is.Zero, "as PyTorch: no NaN from a single Inf");
        using var cpu = new CpuBackend(2);
        var algorithms = cpu.GetAlgorithms(p, ConvPrecision.Strict);
        TestContext.Out.WriteLine(string.Join(", ", algorithms.Select(a => a.Name)));
        foreach (var algorithm in algorithms)
            foreach (bool constant in new[] { true, false })
            {
                var y = new HostTensor(p.YShape);
                cpu.Run(p, algorithm, new ConvTensors(x, w, y) { ConstantWeights = constant });
                Assert.That(y.Data.Count(float.IsNaN), Is.EqualTo(refNaN), $"{algorithm.Name} (constant weights {constant}) NaN count");
                Assert.That(y.Data.Count(float.IsInfinity), Is.EqualTo(refInf), $"{algorithm.Name} ±Inf count");
                double error = ErrorMetrics.Compare(y.Data, reference).MaxRelative;
                Assert.That(double.IsFinite(error) && error < 1e-5, $"{algorithm.Name}: max rel error {error}");
            }
    }

    [Test]
    public void WinogradStillRunsOnFiniteInputsAfterANonFiniteOne()
    {
        var (p, x, w) = IssueCase(float.PositiveInfinity);
        using var cpu = new CpuBackend(2);
        var winograd = cpu.GetAlgorithms(p.WithConstantWeights(true), ConvPrecision.Strict).FirstOrDefault(a => a.Name == CpuBackend.Winograd);
        ChannelTileTier.RequireOffered(CpuBackend.Winograd, p.WithConstantWeights(true));
        var y = new HostTensor(p.YShape);
        cpu.Run(p, winograd!, new ConvTensors(x, w, y) { ConstantWeights = true });
        var finite = HostTensor.Random(p.XShape, 3);
        cpu.Run(p, winograd!, new ConvTensors(finite, w, y) { ConstantWeights = true });
        Assert.That(ErrorMetrics.Compare(y.Data, ReferenceConv.Forward(p, finite.Data, w.Data)).MaxRelative, Is.LessThan(1e-5));
    }

    [Test]
    public void ValidateWithAnInfInputReportsTheMatchNotAnInfiniteError()
    {
        var (p, x, w) = IssueCase(float.PositiveInfinity);
        using var engine = ConvEngine.Open(new ConvEngineOptions { Backend = "cpu", PersistPlans = false });
        var report = engine.Validate(p.Spec, x, w);
        // NaN would pass Is.LessThan (NaN compares below every number): require a finite error.
        Assert.That(double.IsFinite(report.Error.MaxRelative) && report.Error.MaxRelative < 1e-5, report.ToString());
    }

    [Test]
    public void ErrorMetricsComparesNonFiniteValuesByValue()
    {
        double inf = double.PositiveInfinity;
        Assert.That(ErrorMetrics.Compare([float.NaN, float.PositiveInfinity, 1f], [double.NaN, inf, 1.0]).MaxRelative, Is.Zero);
        Assert.That(ErrorMetrics.Compare([float.NegativeInfinity, 1f], [inf, 1.0]).MaxRelative, Is.EqualTo(inf));
        Assert.That(ErrorMetrics.Compare([float.NaN, 1f], [inf, 1.0]).MaxRelative, Is.EqualTo(inf));
        Assert.That(ErrorMetrics.Compare([2f, 1f], [inf, 1.0]).MaxRelative, Is.EqualTo(inf));
        // Finite elements keep their normwise relative error.
        Assert.That(ErrorMetrics.Compare([float.NaN, 1.5f, 2f], [double.NaN, 1.0, 2.0]).MaxRelative, Is.EqualTo(0.25).Within(1e-12));
    }
}
