using GpuConv.Tensors;

namespace GpuConv.Tests.Shuffles;

/// <summary>
/// The CPU engine's PixelShuffle, PixelUnshuffle and ChannelShuffle against the index-by-index reference on random
/// shapes and factors (bit for bit: rearrangements), each undone by its inverse, split over two worker threads with the same bits, into an
/// output the caller holds without allocating, and refused with the field and its values before anything is written.
/// </summary>
public class ShuffleCpuEngineTests
{
    static ConvEngine Cpu(int threads = 1) => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = threads });

    internal static HostTensor Random(TensorShape shape, Random rng) =>
        new(shape, [.. Enumerable.Range(0, shape.ElementCountInt).Select(_ => (float)(rng.NextDouble() * 8 - 4) is var v && v != 0 ? v : 0.5f)]);

    static uint[] Bits(float[] v) => ShuffleTorchCasesTests.Bits(v);

    [TestCase(1, 4, 3, 5, 2)]
    [TestCase(2, 9, 4, 4, 3)]
    [TestCase(3, 32, 2, 3, 4)]
    [TestCase(1, 3, 6, 1, 1)]
    [TestCase(2, 50, 7, 3, 5)]
    public void BothOpsMatchTheReference_AndUndoEachOther(int n, int c, int h, int w, int r)
    {
        using var cpu = Cpu();
        var rng = new Random(n * 1000 + c * 10 + r);
        var x = Random(new TensorShape(n, c * r * r, h, w), rng);
        var y = cpu.Download(cpu.PixelShuffle(x, r));
        Assert.That(y.Shape, Is.EqualTo(new TensorShape(n, c, h * r, w * r)));
        Assert.That(Bits(y.Data), Is.EqualTo(Bits(ReferenceShuffles.PixelShuffle(x.Shape, x.Data, r))), "shuffle");
        var back = cpu.Download(cpu.PixelUnshuffle(y, r));
        Assert.That(back.Shape, Is.EqualTo(x.Shape));
        Assert.That(Bits(back.Data), Is.EqualTo(Bits(x.Data)), "unshuffle undoes shuffle");
        Assert.That(Bits(ReferenceShuffles.PixelUnshuffle(y.Shape, y.Data, r)), Is.EqualTo(Bits(x.Data)), "the references undo each other");
        if (r > 1) Assert.That(Bits(y.Data), Is.Not.EqualTo(Bits(x.Data)), "a factor above 1 moves values");
    }

    [TestCase(new[] { 1, 6, 3, 2 }, 2)]
    [TestCase(new[] { 2, 24, 5 }, 3)]
    [TestCase(new[] { 2, 116, 7, 7 }, 2)]
    [TestCase(new[] { 1, 8, 2, 3, 2 }, 4)]
    [TestCase(new[] { 3, 10 }, 5)]
    public void ChannelShuffleMatchesTheReference_AndTheShuffleByCOverGroupsUndoesIt(int[] dims, int groups)
    {
        using var cpu = Cpu();
        var x = Random(new TensorShape(dims), new Random(dims.Sum() + groups));
        var y = cpu.Download(cpu.ChannelShuffle(x, groups));
        Assert.That(y.Shape, Is.EqualTo(x.Shape));
        Assert.That(Bits(y.Data), Is.EqualTo(Bits(ReferenceShuffles.ChannelShuffle(x.Shape, x.Data, groups))));
        Assert.That(Bits(y.Data), Is.Not.EqualTo(Bits(x.Data)), "groups between 1 and C move channels");
        Assert.That(Bits(cpu.Download(cpu.ChannelShuffle(y, dims[1] / groups)).Data), Is.EqualTo(Bits(x.Data)), "the inverse");
    }

    /// <summary>A tensor large enough for the workers (above the parallel threshold) gives the single thread's bits.</summary>
    [Test]
    public void TwoWorkerThreadsGiveOneThreadsBits()
    {
        using var one = Cpu(1);
        using var two = Cpu(2);
        var x = Random(new TensorShape(2, 64, 48, 48), new Random(3));
        Assert.That(x.Shape.ElementCount, Is.GreaterThan(GpuConv.Cpu.Layers.CpuSlabCopy.ParallelThreshold));
        Assert.That(Bits(two.Download(two.PixelShuffle(x, 2)).Data), Is.EqualTo(Bits(one.Download(one.PixelShuffle(x, 2)).Data)));
        Assert.That(Bits(two.Download(two.PixelUnshuffle(x, 4)).Data), Is.EqualTo(Bits(ReferenceShuffles.PixelUnshuffle(x.Shape, x.Data, 4))));
        Assert.That(Bits(two.Download(two.ChannelShuffle(x, 4)).Data), Is.EqualTo(Bits(ReferenceShuffles.ChannelShuffle(x.Shape, x.Data, 4))));
    }

    [Test]
    public void IntoTheCallersOutput_AWarmCallAllocatesNothing()
    {
        using var cpu = Cpu();
        var rng = new Random(7);
        var x = cpu.Upload(Random(new TensorShape(1, 12, 5, 6), rng));
        var y = cpu.Allocate(new TensorShape(1, 3, 10, 12));
        var back = cpu.Allocate(x.Shape);
        var mixed = cpu.Allocate(x.Shape);
        for (int i = 0; i < 20; i++) { cpu.PixelShuffle(x, 2, y); cpu.PixelUnshuffle(y, 2, back); cpu.ChannelShuffle(x, 3, mixed); }
        long fewest = long.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10; i++) { cpu.PixelShuffle(x, 2, y); cpu.PixelUnshuffle(y, 2, back); cpu.ChannelShuffle(x, 3, mixed); }
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.That(fewest, Is.Zero);
        Assert.That(Bits(cpu.Download(back).Data), Is.EqualTo(Bits(cpu.Download(x).Data)));
    }

    public static IEnumerable<TestCaseData> Refusals()
    {
        static TestCaseData Case(string name, Func<ConvEngine, Tensor, Tensor> call, string field, params string[] values) =>
            new TestCaseData(call, field, values).SetArgDisplayNames(name);
        yield return Case("rank 5", (e, _) => e.PixelShuffle(e.Allocate(new TensorShape(1, 4, 2, 2, 2)), 2), "x", "[1, 4, 2, 2, 2]", "rank 5");
        yield return Case("factor 0", (e, x) => e.PixelShuffle(x, 0), "upscaleFactor", "got 0");
        yield return Case("negative factor", (e, x) => e.PixelUnshuffle(x, -2), "downscaleFactor", "got -2");
        yield return Case("channels not a multiple of r²", (e, x) => e.PixelShuffle(x, 3), "x", "8 channels", "upscaleFactor² = 9");
        yield return Case("height not a multiple of r", (e, x) => e.PixelUnshuffle(x, 4), "x", "6 × 4", "downscaleFactor 4");
        yield return Case("wrong output shape", (e, x) => e.PixelShuffle(x, 2, e.Allocate(new TensorShape(1, 2, 6, 8))), "output", "[1, 2, 6, 8]", "[1, 2, 12, 8]");
        yield return Case("output is x", (e, x) => e.PixelUnshuffle(x, 1, x), "output", "shares memory with x");
        yield return Case("channel shuffle of rank 1", (e, _) => e.ChannelShuffle(e.Allocate(new TensorShape(6)), 2), "x", "[6]", "rank 1");
        yield return Case("groups 0", (e, x) => e.ChannelShuffle(x, 0), "groups", "got 0");
        yield return Case("groups not dividing the channels", (e, x) => e.ChannelShuffle(x, 3), "groups", "8 channels", "groups 3");
        yield return Case("channel shuffle into a wrong shape", (e, x) => e.ChannelShuffle(x, 2, e.Allocate(new TensorShape(1, 8, 4, 6))), "output", "[1, 8, 4, 6]", "[1, 8, 6, 4]");
        yield return Case("output is a view of x",
            (e, x) => e.PixelShuffle(x, 2, e.Reshape(x, new TensorShape(1, 2, 12, 8))), "output", "shares memory with x");
    }

    [TestCaseSource(nameof(Refusals))]
    public void BadInputIsRefusedNamingTheFieldAndValues(Func<ConvEngine, Tensor, Tensor> call, string field, string[] values)
    {
        using var cpu = Cpu();
        var x = cpu.Upload(Random(new TensorShape(1, 8, 6, 4), new Random(1)));
        var before = Bits(cpu.Download(x).Data);
        var e = Assert.Throws<ArgumentException>(() => call(cpu, x))!;
        Assert.That(e.ParamName, Is.EqualTo(field));
        foreach (var v in values) Assert.That(e.Message, Does.Contain(v));
        Assert.That(Bits(cpu.Download(x).Data), Is.EqualTo(before), "nothing written");
    }

    [Test]
    public void ATensorOfAnotherMemoryIsRefused()
    {
        using var cpu = Cpu();
        var device = new Planning.FakeDeviceMemory();
        var x = device.Allocate(new TensorShape(1, 4, 2, 2));
        var e = Assert.Throws<ArgumentException>(() => cpu.PixelShuffle(x, 2))!;
        Assert.That(e.ParamName, Is.EqualTo("x"));
    }
}
