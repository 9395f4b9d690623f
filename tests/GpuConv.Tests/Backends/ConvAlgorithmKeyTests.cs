using GpuConv.Backends;

namespace GpuConv.Tests.Backends;

/// <summary>
/// ConvAlgorithm.Key is formatted once, when its parts are set, so that backends read it per run without allocating;
/// a copy made with <c>with</c> must still carry its own key, and equality must not depend on whether Key was read.
/// </summary>
public class ConvAlgorithmKeyTests
{
    static readonly ConvAlgorithm Algo1 = new("cudnn", "ALGO_1", 1, 2368, Deterministic: true);

    [Test]
    public void KeyNamesBackendNameAndNonStrictMath()
    {
        Assert.That(Algo1.Key, Is.EqualTo("cudnn/ALGO_1"));
        Assert.That(new ConvAlgorithm("ptx", "im2col-gemm", 1, 0, true, MathMode.TF32).Key, Is.EqualTo("ptx/im2col-gemm+TF32"));
        Assert.That(Algo1.ToString(), Is.EqualTo(Algo1.Key));
    }

    [Test]
    public void WithChangesTheKeyWithItsParts()
    {
        _ = Algo1.Key;
        Assert.That((Algo1 with { Name = "ALGO_0" }).Key, Is.EqualTo("cudnn/ALGO_0"));
        Assert.That((Algo1 with { Backend = "fake-gpu" }).Key, Is.EqualTo("fake-gpu/ALGO_1"));
        Assert.That((Algo1 with { Math = MathMode.TF32 }).Key, Is.EqualTo("cudnn/ALGO_1+TF32"));
        Assert.That((Algo1 with { Math = MathMode.TF32, Name = "FFT", Backend = "x" }).Key, Is.EqualTo("x/FFT+TF32"));
        Assert.That((Algo1 with { Math = MathMode.TF32 } with { Math = MathMode.Strict }).Key, Is.EqualTo("cudnn/ALGO_1"));
        Assert.That((Algo1 with { WorkspaceBytes = 0 }).Key, Is.EqualTo("cudnn/ALGO_1"));
    }

    [Test]
    public void EqualityAndHashFollowThePartsOnly()
    {
        var built = new ConvAlgorithm("cudnn", "ALGO_1", 1, 2368, Deterministic: true);
        var viaWith = new ConvAlgorithm("cudnn", "ALGO_0", 1, 2368, Deterministic: true) with { Name = "ALGO_1" };
        Assert.That(viaWith, Is.EqualTo(built));
        Assert.That(viaWith.GetHashCode(), Is.EqualTo(built.GetHashCode()));
        Assert.That(Algo1 with { Name = "ALGO_0" }, Is.Not.EqualTo(Algo1));
    }

    [Test]
    public void ReadingKeyAllocatesNothing()
    {
        string key = Algo1.Key;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) key = Algo1.Key;
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(1000), key);
    }
}
