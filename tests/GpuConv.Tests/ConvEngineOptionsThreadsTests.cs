using GpuConv.Backends;

namespace GpuConv.Tests;

/// <summary>
/// CpuThreads = int.MaxValue (a user's "as many as you like") threw an OverflowException from the CPU
/// backend's per-thread counters; it is an ArgumentException naming CpuThreads, before any discovery.
/// </summary>
public class ConvEngineOptionsThreadsTests
{
    [TestCase(0)]
    [TestCase(-1)]
    [TestCase(CpuBackend.MaxThreads + 1)]
    [TestCase(int.MaxValue)]
    public void CpuThreadsOutsideTheRangeIsRejectedNamingIt(int threads)
    {
        var e = Assert.Throws<ArgumentException>(() => ConvEngine.Open(new ConvEngineOptions { CpuThreads = threads, PersistPlans = false }));
        Assert.That(e!.ParamName, Is.EqualTo("CpuThreads"));
        Assert.That(e.Message, Does.Contain($"1..{CpuBackend.MaxThreads}").And.Contain(threads.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public void CpuBackendRefusesTooManyThreadsNamingTheParameter()
    {
        var e = Assert.Throws<ArgumentException>(() => new CpuBackend(int.MaxValue));
        Assert.That(e!.ParamName, Is.EqualTo("maxDegreeOfParallelism"));
    }

    [Test]
    public void OneThreadIsAccepted()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { CpuThreads = 1, Device = DeviceKind.Cpu, PersistPlans = false });
        Assert.That(engine.Backends.OfType<CpuBackend>().Single().MaxDegreeOfParallelism, Is.EqualTo(1));
    }
}
