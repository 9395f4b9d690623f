using GpuConv.Cpu.Layers;
using GpuConv.Cpu.Threading;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Softmax;

/// <summary>
/// The CPU engine's Softmax and LogSoftmax, forward and backward, against the float64 reference on random inputs
/// (logits in ±6, and ±60 where x − m rounds), every layout of <see cref="SoftmaxTestData.Shapes"/>, within
/// <see cref="SoftmaxTestData"/>'s bounds; prints the worst error. And the CPU definition's own invariants: the same bits
/// with and without vectors and with 1, 2 or 3 worker threads; warm calls into given tensors allocate nothing.
/// </summary>
public class SoftmaxCpuTests
{
    static ConvEngine OpenCpu(int threads = 0) =>
        ConvEngine.Open(threads > 0
            ? new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = threads }
            : new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    static IEnumerable<TestCaseData> ShapesBothKinds() =>
        SoftmaxTestData.Shapes().SelectMany(t => new[] { false, true }.Select(log =>
            new TestCaseData(t.Arguments[0], t.Arguments[1], log).SetArgDisplayNames(
                $"[{string.Join(", ", (int[])t.Arguments[0]!)}] dim={t.Arguments[1]} {(log ? "log" : "softmax")}")));

    [TestCaseSource(nameof(ShapesBothKinds))]
    public void ForwardAndBackwardMatchTheReference(int[] dims, int dim, bool log)
    {
        using var cpu = OpenCpu();
        var shape = new TensorShape(dims);
        var s = SoftmaxShape.Of(shape, dim, "x");
        foreach (float scale in new[] { 6f, 60f })
        {
            var x = SoftmaxTestData.Values(shape.ElementCount, dims.Sum() + (int)scale, scale);
            var dy = SoftmaxTestData.Values(shape.ElementCount, dims.Sum() + 1000, 1f);
            var hx = new HostTensor(shape, x);
            var y = ((HostTensor)(log ? cpu.LogSoftmax(hx, dim) : cpu.Softmax(hx, dim))).Data;
            var reference = ReferenceSoftmax.Forward(SoftmaxTestData.D(x), s.Outer, s.Axis, s.Inner, log);
            SoftmaxTestData.AssertWithin(y, reference, SoftmaxTestData.ForwardBounds(x, s, log), $"y (logits in ±{scale})");

            var hy = new HostTensor(shape, y);
            var dx = ((HostTensor)(log ? cpu.LogSoftmaxBackward(new HostTensor(shape, dy), hy, dim) : cpu.SoftmaxBackward(new HostTensor(shape, dy), hy, dim))).Data;
            var dxReference = ReferenceSoftmax.Backward(SoftmaxTestData.D(dy), SoftmaxTestData.D(y), s.Outer, s.Axis, s.Inner, log);
            SoftmaxTestData.AssertWithin(dx, dxReference, SoftmaxTestData.BackwardBounds(dy, y, s, log), $"dx (logits in ±{scale})");
        }
    }

    [Test]
    public void SoftmaxRowsSumToOne_AndLogSoftmaxExponentiatesToTheSoftmax()
    {
        using var cpu = OpenCpu();
        var shape = new TensorShape(16, 100);
        var x = new HostTensor(shape, SoftmaxTestData.Values(shape.ElementCount, 5, 8f));
        var y = ((HostTensor)cpu.Softmax(x, -1)).Data;
        var ly = ((HostTensor)cpu.LogSoftmax(x, -1)).Data;
        for (int r = 0; r < 16; r++)
            Assert.That(y.Skip(r * 100).Take(100).Sum(v => (double)v), Is.EqualTo(1.0).Within(2e-6), $"row {r}");
        for (int i = 0; i < y.Length; i++)
            Assert.That(Math.Exp(ly[i]), Is.EqualTo(y[i]).Within(2e-6 * y[i] + 1e-30), $"element {i}");
    }

    public static IEnumerable<TestCaseData> LargeShapes()
    {
        yield return new TestCaseData(new[] { 64, 1000 }, 1).SetArgDisplayNames("[64, 1000] dim=1 (rows)");
        yield return new TestCaseData(new[] { 4, 19, 30, 30 }, 1).SetArgDisplayNames("[4, 19, 30, 30] dim=1 (inner 900)");
        yield return new TestCaseData(new[] { 3, 7, 41, 43 }, -2).SetArgDisplayNames("[3, 7, 41, 43] dim=-2 (inner 43)");
    }

    [TestCaseSource(nameof(LargeShapes))]
    public void SameBitsWithAndWithoutVectorsAndForAnyThreadCount(int[] dims, int dim)
    {
        var shape = new TensorShape(dims);
        var s = SoftmaxShape.Of(shape, dim, "x");
        var x = SoftmaxTestData.Values(shape.ElementCount, 7, 20f);
        var dy = SoftmaxTestData.Values(shape.ElementCount, 8, 1f);
        foreach (bool log in new[] { false, true })
        {
            var y = new float[x.Length];
            var dx = new float[x.Length];
            CpuSoftmax.Forward(x, s, log, y, null, vector: false);
            CpuSoftmax.Backward(dy, y, s, log, dx, null, vector: false);
            foreach (int threads in new[] { 1, 2, 3 })
                foreach (bool vector in new[] { false, true })
                {
                    using var workers = new CpuWorkers(threads);
                    var y2 = new float[x.Length];
                    var dx2 = new float[x.Length];
                    CpuSoftmax.Forward(x, s, log, y2, workers, vector);
                    CpuSoftmax.Backward(dy, y, s, log, dx2, workers, vector);
                    string tag = $"{(log ? "log" : "softmax")}, {threads} threads, vector {vector}";
                    Assert.That(SoftmaxTestData.Bits(y2), Is.EqualTo(SoftmaxTestData.Bits(y)), $"y ({tag})");
                    Assert.That(SoftmaxTestData.Bits(dx2), Is.EqualTo(SoftmaxTestData.Bits(dx)), $"dx ({tag})");
                }
        }
    }

    [Test]
    public void NaNResultsAreTheCanonicalNaN()
    {
        var shape = new TensorShape(2, 40);
        var s = SoftmaxShape.Of(shape, 1, "x");
        var x = SoftmaxTestData.Values(shape.ElementCount, 9, 3f);
        x[5] = BitConverter.UInt32BitsToSingle(0xFFC1_2345); // a NaN with a payload and the sign set
        foreach (bool vector in new[] { false, true })
        {
            var y = new float[x.Length];
            CpuSoftmax.Forward(x, s, log: false, y, null, vector);
            Assert.That(y.Take(40).Select(BitConverter.SingleToUInt32Bits), Is.All.EqualTo(0x7FFF_FFFFu), "row 0 NaN throughout");
            Assert.That(y.Skip(40).All(float.IsFinite), "row 1 untouched by row 0's NaN");
        }
    }

    /// <summary>
    /// Warm forward and backward calls into given tensors allocate nothing on the calling thread: below the parallel
    /// threshold (the whole call on this thread) and above it on a one-thread engine (a struct loop, stack partials).
    /// </summary>
    [TestCase(new[] { 8, 10 }, -1)]
    [TestCase(new[] { 2, 21, 40, 40 }, 1)]
    [TestCase(new[] { 64, 1000 }, 1)]
    public void WarmCallsIntoGivenTensorsAllocateNothing(int[] dims, int dim)
    {
        using var cpu = OpenCpu(threads: 1);
        var shape = new TensorShape(dims);
        HostTensor x = new(shape, SoftmaxTestData.Values(shape.ElementCount, 41, 4f)), dy = new(shape, SoftmaxTestData.Values(shape.ElementCount, 42, 1f)),
            y = new(shape), ly = new(shape), dx = new(shape);
        void Calls()
        {
            cpu.Softmax(x, dim, y);
            cpu.SoftmaxBackward(dy, y, dim, dx);
            cpu.LogSoftmax(x, dim, ly);
            cpu.LogSoftmaxBackward(dy, ly, dim, dx);
        }
        Calls();
        Calls();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Calls();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.Zero, "bytes allocated by warm Softmax/LogSoftmax forward + backward");
    }
}
