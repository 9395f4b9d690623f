using GpuConv.Backends;
using GpuConv.Cli;
using GpuConv.Cli.Execution;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cli;

/// <summary>What a newcomer reads from `gpuconv demo`: the device first, then cold and warm times per layer.</summary>
public class DemoOutputTests
{
    [Test]
    public void Demo_PrintsTheDeviceFirst_ThenColdAndWarmColumns()
    {
        var (exit, output, error) = CliHarness.Invoke("demo", "--limit", "2", "--runs", "3");
        Assert.That(exit, Is.EqualTo(0), output + error);
        var first = output.Split('\n')[0];
        Assert.That(first, Does.StartWith("device: "));
        if (first.Contains("device: CPU"))
            Assert.That(first, Does.Contain("logical cores").And.Contain("GPU path off: "));
        else
            Assert.That(first, Does.Contain("GPU").And.Contain("driver"));
        Assert.That(output, Does.Contain("cold ms").And.Contain("warm ms"));
        Assert.That(output, Does.Contain(" ms warm (").And.Contain("first calls "));
    }

    [Test]
    public void DemoJob_TimesWarmRunsApartFromTheColdOne()
    {
        using var h = new CliHarness();
        string csv = h.Path("two.csv");
        File.WriteAllText(csv, "name,n,c,h,w,k,r,s,stride_h,stride_w,pad_h,pad_w,dil_h,dil_w,groups\n" +
            "a,1,4,9,9,6,3,3,2,2,1,1,1,1,2\nb,1,8,7,7,8,3,3,1,1,1,1,1,1,1\n");
        var timed = new CountingBackend();
        using var backends = new CliBackends([timed]);
        var layers = DemoJob.Run(backends, ShapeSet.Load(csv), batch: 1, limit: null, runs: 4).ToList();
        Assert.That(layers, Has.Count.EqualTo(2));
        foreach (var l in layers)
        {
            Assert.That(l.ColdMilliseconds, Is.EqualTo(50.0), "the first run is the cold one");
            Assert.That(l.Milliseconds, Is.EqualTo(2.0), "median of the warm runs (2, 2, 3, 1 -> 2)");
            Assert.That(l.TimedRuns, Is.EqualTo(4));
            Assert.That(l.Passed, Is.True);
        }
        Assert.That(timed.Calls, Is.EqualTo(2 * 5), "one cold + four warm runs per layer");
    }

    [Test]
    public void Demo_RefusesZeroRuns()
    {
        var (exit, _, error) = CliHarness.Invoke("demo", "--limit", "1", "--runs", "0");
        Assert.That(exit, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain("--runs"));
    }

    /// <summary>Computes with the reference and reports fake times: 50 ms for a layer's first call, then 2, 2, 3, 1 ms.</summary>
    sealed class CountingBackend : IConvBackend
    {
        readonly ReferenceBackend inner = new();
        static readonly double[] Warm = [2, 2, 3, 1];
        int perLayer;
        public int Calls { get; private set; }
        public string Name => "counting";
        public IMemorySpace Memory => HostMemorySpace.Instance;
        public int Priority => 0;
        public string? WhyUnsupported(ConvProblem p) => null;
        public IReadOnlyList<ConvAlgorithm> GetAlgorithms(ConvProblem p, ConvPrecision precision) => [new("counting", "ref", 0, 0, true)];
        public void Run(ConvProblem p, ConvAlgorithm a, ConvTensors t) => inner.Run(p, inner.GetAlgorithms(p, ConvPrecision.Strict)[0], t);

        public double TimeRun(ConvProblem p, ConvAlgorithm a, ConvTensors t)
        {
            Run(p, a, t);
            Calls++;
            double ms = perLayer == 0 ? 50 : Warm[(perLayer - 1) % Warm.Length];
            perLayer = (perLayer + 1) % 5;
            return ms;
        }

        public void Dispose() => inner.Dispose();
    }
}
