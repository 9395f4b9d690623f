using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Planning;

namespace GpuConv.Tests.Backends;

/// <summary>The sweep helper itself: an empty candidate list and a NaN in an output must both fail.</summary>
public class ConvCheckTests
{
    static readonly ConvProblem Problem = ConvProblem.Create(
        new ConvSpec([3, 3], [2, 1], padBegin: [1, 0], padEnd: [0, 1]), new TensorShape(1, 2, 6, 5), new TensorShape(3, 2, 3, 3));

    [Test]
    public void NoCandidateIsAnInfiniteError()
    {
        using var empty = new FakeBackend("empty", 0);
        var tally = new SweepTally();
        var (err, where) = ConvCheck.AllAlgorithms(empty, Problem, 1, withBias: false, tally);
        Assert.That(err, Is.EqualTo(double.PositiveInfinity));
        Assert.That(where, Does.Contain("offers no algorithm"));
        Assert.That(tally.Total, Is.Zero);
        Assert.That(() => tally.AssertRan([ConvOp.Forward], [2]), Throws.InstanceOf<AssertionException>());
    }

    [Test]
    public void ACorrectCandidateIsCountedAndPasses()
    {
        using var fake = new FakeBackend("fake", 0).With("a").With("b");
        var tally = new SweepTally();
        var (err, _) = ConvCheck.AllAlgorithms(fake, Problem, 1, withBias: true, tally);
        Assert.That(err, Is.LessThan(1e-6));
        Assert.That((tally.Runs(ConvOp.Forward, 2), tally.Total), Is.EqualTo((2, 2)));
    }

    [TestCase(ConvOp.Forward)]
    [TestCase(ConvOp.BackwardData)]
    [TestCase(ConvOp.BackwardFilter)]
    public void ANaNInTheOutputIsAnInfiniteError(ConvOp op)
    {
        using var poisoned = new NaNAfterRun(new CpuBackend(maxDegreeOfParallelism: 1));
        var (err, where) = ConvCheck.AllAlgorithms(poisoned, Problem.WithOp(op), 1, withBias: false);
        Assert.That(err, Is.EqualTo(double.PositiveInfinity), where);
    }

    /// <summary>Runs the inner backend, then overwrites one element in the middle of the output with NaN.</summary>
    sealed class NaNAfterRun(IConvBackend inner) : IConvBackend
    {
        public string Name => inner.Name;
        public IMemorySpace Memory => inner.Memory;
        public int Priority => inner.Priority;
        public string? WhyUnsupported(ConvProblem problem) => inner.WhyUnsupported(problem);
        public IReadOnlyList<ConvAlgorithm> GetAlgorithms(ConvProblem problem, ConvPrecision precision) => inner.GetAlgorithms(problem, precision);
        public double TimeRun(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors) => inner.TimeRun(problem, algorithm, tensors);
        public void Dispose() => inner.Dispose();

        public void Run(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
        {
            inner.Run(problem, algorithm, tensors);
            var output = (HostTensor)(problem.Op switch { ConvOp.Forward => tensors.Y, ConvOp.BackwardData => tensors.X, _ => tensors.W })!;
            output.Data[output.Data.Length / 2] = float.NaN;
        }
    }
}
