using GpuConv.Backends;
using GpuConv.Backends.Ptx;
using GpuConv.Cli;
using GpuConv.Cli.Execution;
using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Ptx;

namespace GpuConv.Tests.Cli;

/// <summary>
/// `gpuconv smoke` (the GPU check's second step): every op of every small case passes against the
/// reference on what this machine has (the cpu backend; the ptx backend on the simulated runtime, its
/// shipped kernels interpreted), a wrong result is reported FAIL with a failing exit status, and a
/// backend that is not available fails the run with the reason, never silently.
/// </summary>
public class RunSmokeTests
{
    static readonly string[] Ops = ["Forward", "BackwardData", "BackwardFilter"];
    static readonly string[] CaseNames = ["2d-pad1", "2d-asym-pads-groups-stride", "2d-depthwise", "3d-stride-dilation"];

    static string[] Runs(string output, string verdict) =>
        [.. output.Split('\n').Where(l => l.StartsWith(verdict, StringComparison.Ordinal))];

    [Test]
    public void CpuBackendPassesEveryOpAndCase()
    {
        var (exit, output, error) = CliHarness.Invoke("smoke", "--backends", "cpu");

        Assert.That(exit, Is.EqualTo(0), output + error);
        Assert.That(Runs(output, "FAIL"), Is.Empty);
        foreach (var op in Ops)
            foreach (var c in CaseNames)
                Assert.That(Runs(output, "PASS").Any(l => l.Contains($" {op} ", StringComparison.Ordinal) && l.Contains(c, StringComparison.Ordinal)), $"{op} {c} ran");
        Assert.That(output, Does.Match(@"smoke: \d+ passed, 0 failed, 0 declined"));
    }

    [Test]
    public void SimulatedPtxBackendPassesEveryOpAndCase()
    {
        using var backends = new CliBackends([new PtxConvBackend(new SimulatedPtxRuntime())]);
        var output = new StringWriter();

        int exit = SmokeJob.Execute(["ptx"], new CliIO(output, new StringWriter()), backends);

        Assert.That(exit, Is.EqualTo(0), output.ToString());
        Assert.That(Runs(output.ToString(), "FAIL"), Is.Empty, output.ToString());
        foreach (var op in Ops)
            Assert.That(Runs(output.ToString(), "PASS").Count(l => l.Contains($" {op} ", StringComparison.Ordinal)), Is.GreaterThanOrEqualTo(CaseNames.Length), op);
    }

    [Test]
    public void AWrongResultIsAFailure()
    {
        using var backends = new CliBackends([new OffByOneBackend()]);
        var output = new StringWriter();

        int exit = SmokeJob.Execute(["off-by-one"], new CliIO(output, new StringWriter()), backends);

        Assert.That(exit, Is.EqualTo(ExitCodes.Mismatch));
        Assert.That(Runs(output.ToString(), "PASS"), Is.Empty, output.ToString());
        Assert.That(Runs(output.ToString(), "FAIL"), Has.Length.EqualTo(Ops.Length * CaseNames.Length));
        Assert.That(output.ToString(), Does.Contain("max rel"));
    }

    [Test]
    public void AnUnavailableBackendFailsTheRunWithTheReason()
    {
        // A machine without the ptx backend (whatever this one has).
        using var cpuOnly = new CliBackends([new CpuBackend()]);
        var output = new StringWriter();
        int exit = SmokeJob.Execute(["cpu", "ptx"], new CliIO(output, new StringWriter()), cpuOnly);

        Assert.That(exit, Is.EqualTo(1));
        Assert.That(output.ToString(), Does.Contain("SKIP     ptx: not available (").And.Contain("not available: ptx"));
    }

    [Test]
    public void AMisspeltBackendIsBadInputNamingTheOption()
    {
        // Was exit 1 with "SKIP ptxx: not available (libcuda.so.1 not found…)": a typo read as a missing GPU.
        var (exit, output, error) = CliHarness.Invoke("smoke", "--backends", "cpu,ptxx");

        Assert.That(exit, Is.EqualTo(2), output + error);
        Assert.That(error.Trim(), Does.StartWith("error: --backends: 'ptxx' is not a backend; known: cudnn, ptx, cpu, reference."));
        Assert.That(output, Does.Not.Contain("PASS"), "nothing ran");
    }

    [Test]
    public void ARefusedAlgorithmIsDeclinedButACaseWithEveryAlgorithmRefusedFails()
    {
        // Some refused: the others still prove the case, and the run passes.
        using (var some = new CliBackends([new RefusingBackend(refuseAll: false)]))
        {
            var output = new StringWriter();
            int exit = SmokeJob.Execute(["refusing"], new CliIO(output, new StringWriter()), some);
            Assert.That(exit, Is.EqualTo(0), output.ToString());
            Assert.That(Runs(output.ToString(), "DECLINED"), Has.Length.EqualTo(Ops.Length * CaseNames.Length), output.ToString());
            Assert.That(output.ToString(), Does.Contain("CUDNN_STATUS_BAD_PARAM"));
        }
        // All refused: what a wrong binding argument looks like; every case fails.
        using (var all = new CliBackends([new RefusingBackend(refuseAll: true)]))
        {
            var output = new StringWriter();
            int exit = SmokeJob.Execute(["refusing"], new CliIO(output, new StringWriter()), all);
            Assert.That(exit, Is.EqualTo(ExitCodes.Mismatch), output.ToString());
            Assert.That(Runs(output.ToString(), "FAIL").Where(l => l.Contains("every listed algorithm was declined")).ToArray(),
                Has.Length.EqualTo(Ops.Length * CaseNames.Length), output.ToString());
        }
    }

    /// <summary>The cpu backend listing its first algorithm twice, the first listing refused at run time (all of them with refuseAll).</summary>
    sealed class RefusingBackend(bool refuseAll) : IConvBackend
    {
        readonly CpuBackend _inner = new(maxDegreeOfParallelism: 1);
        public string Name => "refusing";
        public IMemorySpace Memory => _inner.Memory;
        public int Priority => 0;
        public string? WhyUnsupported(ConvProblem problem) => _inner.WhyUnsupported(problem);
        public IReadOnlyList<ConvAlgorithm> GetAlgorithms(ConvProblem problem, ConvPrecision precision)
        {
            var first = _inner.GetAlgorithms(problem, precision)[0];
            return [first with { Name = "refused" }, first];
        }
        public void Run(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
        {
            if (refuseAll || algorithm.Name == "refused") throw new AlgorithmDeclinedException(algorithm.Key, "CUDNN_STATUS_BAD_PARAM");
            _inner.Run(problem, algorithm, tensors);
        }
        public double TimeRun(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
        {
            Run(problem, algorithm, tensors);
            return 0;
        }
        public void Dispose() => _inner.Dispose();
    }

    /// <summary>The cpu backend with one output element changed by 1: a planted bug the smoke must see.</summary>
    sealed class OffByOneBackend : IConvBackend
    {
        readonly CpuBackend _inner = new(maxDegreeOfParallelism: 1);
        public string Name => "off-by-one";
        public IMemorySpace Memory => _inner.Memory;
        public int Priority => 0;
        public string? WhyUnsupported(ConvProblem problem) => _inner.WhyUnsupported(problem);
        public IReadOnlyList<ConvAlgorithm> GetAlgorithms(ConvProblem problem, ConvPrecision precision) => _inner.GetAlgorithms(problem, precision).Take(1).ToList();
        public void Run(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
        {
            _inner.Run(problem, algorithm, tensors);
            var output = (HostTensor)(problem.Op switch { ConvOp.Forward => tensors.Y, ConvOp.BackwardData => tensors.X, _ => tensors.W });
            output.Data[^1] += 1;
        }
        public double TimeRun(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
        {
            Run(problem, algorithm, tensors);
            return 0;
        }
        public void Dispose() => _inner.Dispose();
    }
}
