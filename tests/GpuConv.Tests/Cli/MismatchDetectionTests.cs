using GpuConv.Backends;
using GpuConv.Cli;
using GpuConv.Cli.Commands;
using GpuConv.Cli.Execution;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cli;

/// <summary>verify and demo must catch a wrong backend: a tiny error, a crash, or an unsupported problem.</summary>
public class MismatchDetectionTests
{
    /// <summary>The reference backend with a fault: its output is nudged, or it throws, or it declines depthwise.</summary>
    sealed class FaultyBackend(string fault) : IConvBackend
    {
        readonly ReferenceBackend inner = new();
        public string Name => "faulty";
        public IMemorySpace Memory => HostMemorySpace.Instance;
        public int Priority => 0;
        public string? WhyUnsupported(ConvProblem p) => fault == "no-depthwise" && p.IsDepthwise ? "depthwise not implemented" : null;
        public IReadOnlyList<ConvAlgorithm> GetAlgorithms(ConvProblem p, ConvPrecision precision) => [new("faulty", "nudged", 0, 0, true)];

        public void Run(ConvProblem p, ConvAlgorithm a, ConvTensors t)
        {
            if (fault == "throw") throw new InvalidOperationException("kernel launch failed");
            inner.Run(p, inner.GetAlgorithms(p, ConvPrecision.Strict)[0], t);
            if (fault != "nudge") return;
            var output = (HostTensor)(p.Op switch { ConvOp.Forward => t.Y, ConvOp.BackwardData => t.X, _ => t.W });
            // Every output element off by 1e-3 of the largest: ten times the strict tolerance.
            float scale = output.Data.Max(MathF.Abs);
            for (int i = 0; i < output.Data.Length; i++) output.Data[i] += 1e-3f * scale;
        }

        public double TimeRun(ConvProblem p, ConvAlgorithm a, ConvTensors t) { Run(p, a, t); return 1; }
        public void Dispose() => inner.Dispose();
    }

    static (int Exit, string Out) PrintVerify(string fault)
    {
        using var backends = new CliBackends([new FaultyBackend(fault)]);
        var output = new StringWriter();
        int exit = VerifyCommand.Print(new CliIO(output, new StringWriter()), VerifyJob.Run(backends, VerifyCases.BuiltIn()));
        return (exit, output.ToString());
    }

    [Test]
    public void VerifyFailsOnAnErrorTenTimesTheTolerance()
    {
        var (exit, output) = PrintVerify("nudge");
        Assert.That(exit, Is.EqualTo(ExitCodes.Mismatch));
        Assert.That(output, Does.Contain("MISMATCH").And.Contain("verify: 0 passed, 48 failed"));
    }

    [Test]
    public void VerifyReportsACrashingBackendAsFailedAndCarriesOn()
    {
        var (exit, output) = PrintVerify("throw");
        Assert.That(exit, Is.EqualTo(ExitCodes.Mismatch));
        Assert.That(output, Does.Contain("FAILED: InvalidOperationException: kernel launch failed").And.Contain("48 failed"));
    }

    [Test]
    public void VerifySkipsWhatABackendDeclinesWithItsReason()
    {
        var (exit, output) = PrintVerify("no-depthwise");
        Assert.That(exit, Is.EqualTo(ExitCodes.Ok));
        Assert.That(output, Does.Contain("skipped: depthwise not implemented").And.Contain("verify: 42 passed, 0 failed, 6 skipped"));
    }

    [Test]
    public void DemoFailsOnANudgedBackend()
    {
        using var backends = new CliBackends([new FaultyBackend("nudge")]);
        var layers = DemoJob.Run(backends, ShapeSet.Load("resnet18"), batch: 1, limit: 2).ToList();
        Assert.That(layers.Select(l => l.Passed), Is.All.False);
        Assert.That(layers.Select(l => l.Error.MaxRelative), Is.All.GreaterThan(5e-4));
        var output = new StringWriter();
        var io = new CliIO(output, new StringWriter());
        Assert.That(DemoCommand.Print(io, io.CreateConsole(), "resnet18", layers), Is.EqualTo(ExitCodes.Mismatch));
        Assert.That(output.ToString(), Does.Contain("2 MISMATCH(ES)"));
    }

    [Test]
    public void DemoPicksTheBackendWithTheLowestPriorityThatSupportsTheLayer()
    {
        using var backends = new CliBackends([new ReferenceBackend(), new FaultyBackend("none")]);
        var layer = DemoJob.Run(backends, ShapeSet.Load("resnet18"), batch: 1, limit: 1).Single();
        Assert.That(layer.Backend, Is.EqualTo("faulty"));
        Assert.That(layer.Passed, Is.True);
    }
}
