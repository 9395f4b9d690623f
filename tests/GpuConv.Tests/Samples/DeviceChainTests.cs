using GpuConv.DeviceChain;

namespace GpuConv.Tests.Samples;

/// <summary>
/// samples/GpuConv.DeviceChain's core in this process on the CPU path (what CI and any machine without a GPU run):
/// the network's device-resident chain (host memory here, same code) matches the CPU backend's host-tensor chain and
/// the float64 reference (max |error| / max |reference| ≤ 1e-4, <see cref="ChainResult.Tolerance"/>), with two caller
/// threads; the training step's dW, db (accumulated over two micro-batches) and dx match float64; the plan cache written
/// by one run serves the next. The GPU side is DeviceChainFakeRunTests.
/// </summary>
public class DeviceChainTests
{
    static ChainOptions Small(StringWriter output, string? planCache = null) => new()
    {
        Cpu = true, Batch = 2, Height = 16, Width = 12, Batches = 2, Threads = 2,
        PlanCachePath = planCache, Out = output, Trace = TextWriter.Null,
    };

    [Test]
    public void CpuPath_MatchesTheCpuBackendAndTheReference_TwoThreads()
    {
        var output = new StringWriter();
        var result = DeviceChainApp.Run(Small(output));
        TestContext.Out.WriteLine(output);
        Assert.That(result.Memory, Is.EqualTo("host memory"));
        Assert.That(output.ToString(), Does.Contain("GPU path off: not requested (Device = Cpu) — running on the CPU"), "one line says why");
        Assert.That(result.WorstVsCpu, Is.LessThanOrEqualTo(ChainResult.Tolerance));
        Assert.That(result.WorstVsReference, Is.Not.Null.And.LessThanOrEqualTo(ChainResult.Tolerance));
        Assert.That(result.Training, Is.Not.Null);
        Assert.That(result.Training!.WeightGradient.MaxRelative, Is.LessThanOrEqualTo(ChainResult.Tolerance));
        Assert.That(result.Training.BiasGradient.MaxRelative, Is.LessThanOrEqualTo(ChainResult.Tolerance));
        Assert.That(result.Training.InputGradient.MaxRelative, Is.LessThanOrEqualTo(ChainResult.Tolerance));
        Assert.That(result.Plans, Has.Count.EqualTo(TinyNet.Create().Count));
        Assert.That(result.Passed, Is.True);
        Assert.That(output.ToString(), Does.EndWith("devicechain: PASS" + Environment.NewLine));
    }

    [Test]
    public void CpuPath_EnginePerThread_MatchesTheCpuBackend()
    {
        var output = new StringWriter();
        var result = DeviceChainApp.Run(Small(output) with { EnginePerThread = true, Train = false });
        Assert.That(output.ToString(), Does.Contain("on 2 thread(s), an engine each"));
        Assert.That(result.WorstVsCpu, Is.LessThanOrEqualTo(ChainResult.Tolerance));
        Assert.That(result.Passed, Is.True, output.ToString());
    }

    [Test]
    public void PlanCache_WrittenByOneRun_ServesTheNext()
    {
        var dir = Directory.CreateTempSubdirectory("devicechain-plans-");
        try
        {
            string cache = Path.Join(dir.FullName, "plans.json");
            var first = DeviceChainApp.Run(Small(new StringWriter(), cache) with { Train = false, Reference = false, Threads = 1 });
            Assert.That(first.PlansInCacheAtStart, Is.Zero);
            Assert.That(File.Exists(cache), Is.True, "the engine saved its plans at dispose");
            var second = DeviceChainApp.Run(Small(new StringWriter(), cache) with { Train = false, Reference = false, Threads = 1 });
            Assert.That(second.PlansInCacheAtStart, Is.GreaterThanOrEqualTo(second.Plans.Count));
            Assert.That(second.Plans, Has.All.Contains("(Cache,"), string.Join(Environment.NewLine, second.Plans));
            Assert.That(second.Passed, Is.True);
        }
        finally { dir.Delete(recursive: true); }
    }

    [Test]
    public void ReferenceNetwork_DetectsAWrongLayer()
    {
        // The judge can fail: one changed weight moves the float64 result well past the tolerance.
        var layers = TinyNet.Create();
        var x = GpuConv.Tensors.HostTensor.Random(new GpuConv.Tensors.TensorShape(1, 3, 8, 8), 3);
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var good = HostNetwork.RunOnEngine(cpu, layers, x);
        var changed = layers.ToList();
        var head = changed[^1];
        var w = head.Weight.Clone();
        w.Data[0] += 0.5f;
        changed[^1] = head with { Weight = w };
        var reference = HostNetwork.RunReference(changed, x);
        var error = ErrorMetrics.Compare(good.Data, reference);
        Assert.That(error.MaxRelative, Is.GreaterThan(100 * ChainResult.Tolerance));
        Assert.That(ErrorMetrics.Compare(good.Data, HostNetwork.RunReference(layers, x)).MaxRelative, Is.LessThanOrEqualTo(ChainResult.Tolerance));
    }

    [TestCase(0, 16, 16, 1, 1, "Batch"), TestCase(1, 15, 16, 1, 1, "Height"), TestCase(1, 16, 0, 1, 1, "Width"),
     TestCase(1, 16, 16, 0, 1, "Batches"), TestCase(1, 16, 16, 1, 17, "Threads")]
    public void BadOptions_AreArgumentExceptionsNamingTheField(int batch, int h, int w, int batches, int threads, string field)
    {
        var o = new ChainOptions { Cpu = true, Batch = batch, Height = h, Width = w, Batches = batches, Threads = threads, Out = TextWriter.Null };
        var e = Assert.Throws<ArgumentException>(() => DeviceChainApp.Run(o));
        Assert.That(e!.ParamName, Is.EqualTo(field));
    }
}
