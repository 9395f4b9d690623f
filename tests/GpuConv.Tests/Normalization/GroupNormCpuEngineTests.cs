using GpuConv.Cpu.Layers;
using GpuConv.Cpu.Threading;
using GpuConv.Tensors;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// The CPU engine's GroupNorm against the float64 reference (ReferenceGroupNorm) on random non-zero inputs with
/// per-channel offsets (so units have non-zero means): forward y, mean and rstd; backward dx, dweight and dbias;
/// weight/bias given and absent; every rank; groups = 1, = C and in between; N &gt; 1. Tolerances: y within
/// 2e-6·max(1, κ) of the tensor's largest reference magnitude (fp32 rounds at 6e-8; κ = max |x|·rstd, the
/// conditioning of x − mean, <see cref="GroupNormTestData.Kappa"/>), the mean within 2e-6·max|x|, rstd within
/// 2e-6·κ of the largest rstd, dx within 2e-6 of max |dy|·rstd·|weight|·κ (the size of its cancelling terms),
/// dweight and dbias within 2e-6 of the sum of their terms' magnitudes (their summation bound, CpuGroupNorm). The test
/// prints the worst relative errors seen. And the CPU definition's own invariants: the same bits with and without
/// vectors and worker threads; warm calls into given tensors allocate nothing.
/// </summary>
public class GroupNormCpuEngineTests
{
    const double Tolerance = 2e-6;

    static ConvEngine OpenCpu(int threads = 0) =>
        ConvEngine.Open(threads > 0
            ? new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = threads }
            : new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    static (int N, int C, int S) Dims(int[] dims) => (dims[0], dims[1], (int)(new TensorShape(dims).ElementCount / dims[0] / dims[1]));

    [TestCaseSource(typeof(GroupNormTestData), nameof(GroupNormTestData.Shapes))]
    public void ForwardMatchesTheReference(int[] dims, int groups)
    {
        foreach (bool affine in new[] { true, false })
        {
            using var cpu = OpenCpu();
            var shape = new TensorShape(dims);
            var (n, c, s) = Dims(dims);
            var spec = new GroupNormSpec(groups, 1e-5);
            var x = BatchNormTestData.Values(shape, dims.Sum() + groups);
            var weight = BatchNormTestData.Channel(c, 1, 1f, 0.5f);
            var bias = BatchNormTestData.Channel(c, 2, 0f, 0.5f);
            var ch = new TensorShape(c);
            var r = cpu.GroupNorm(spec, new HostTensor(shape, x), affine ? new HostTensor(ch, weight) : null, affine ? new HostTensor(ch, bias) : null);
            Assert.That(r.Mean.Shape, Is.EqualTo(new TensorShape(n, groups)));
            Assert.That(r.Rstd.Shape, Is.EqualTo(new TensorShape(n, groups)));

            var (y, mean, rstd) = ReferenceGroupNorm.Forward(BatchNormTestData.Wide(x), n, c, s, groups, spec.Epsilon,
                affine ? BatchNormTestData.Wide(weight) : null, affine ? BatchNormTestData.Wide(bias) : null);
            string tag = affine ? "affine" : "no affine";
            double kappa = GroupNormTestData.Kappa(x, c / groups * s, rstd);
            double ey = BatchNormTestData.AssertClose(((HostTensor)r.Output).Data, y, Tolerance * kappa, $"y ({tag})");
            double em = GroupNormTestData.AssertWithin(((HostTensor)r.Mean).Data, mean, Tolerance * x.Max(Math.Abs), $"mean ({tag})") / x.Max(Math.Abs);
            double er = BatchNormTestData.AssertClose(((HostTensor)r.Rstd).Data, rstd, Tolerance * kappa, $"rstd ({tag})");
            TestContext.Out.WriteLine($"{tag}: κ = {kappa:g3}; worst relative errors y {ey:g3}, mean {em:g3} (of max |x|), rstd {er:g3}");
        }
    }

    [TestCaseSource(typeof(GroupNormTestData), nameof(GroupNormTestData.Shapes))]
    public void BackwardMatchesTheReference(int[] dims, int groups)
    {
        foreach (bool affine in new[] { true, false })
        {
            using var cpu = OpenCpu();
            var shape = new TensorShape(dims);
            var (n, c, s) = Dims(dims);
            var spec = new GroupNormSpec(groups, 1e-5);
            var x = BatchNormTestData.Values(shape, dims.Sum() + 11);
            var dy = BatchNormTestData.Values(shape, dims.Sum() + 12, offset: 0.5f, spread: 1f);
            var weight = BatchNormTestData.Channel(c, 9, 1f, 0.5f);
            var bias = BatchNormTestData.Channel(c, 10, 0f, 0.5f);
            var ch = new TensorShape(c);
            var hx = new HostTensor(shape, x);
            HostTensor? hw = affine ? new HostTensor(ch, weight) : null;
            var forward = cpu.GroupNorm(spec, hx, hw, affine ? new HostTensor(ch, bias) : null);
            var grads = cpu.GroupNormBackward(spec, new HostTensor(shape, dy), hx, forward.Mean, forward.Rstd, hw);

            var (_, mean, rstd) = ReferenceGroupNorm.Forward(BatchNormTestData.Wide(x), n, c, s, groups, spec.Epsilon, null, null);
            var (dx, dWeight, dBias) = ReferenceGroupNorm.Backward(BatchNormTestData.Wide(dy), BatchNormTestData.Wide(x), n, c, s, groups, mean, rstd,
                affine ? BatchNormTestData.Wide(weight) : null);
            string tag = affine ? "affine" : "no affine";
            double kappa = GroupNormTestData.Kappa(x, c / groups * s, rstd);
            double dxScale = GroupNormTestData.DxScale(dy, rstd, affine ? weight : null, kappa);
            double edx = GroupNormTestData.AssertWithin(((HostTensor)grads.Dx).Data, dx, Tolerance * dxScale, $"dx ({tag})") / dxScale;
            if (!affine)
            {
                Assert.That(grads.DWeight, Is.Null, "no weight: no dweight");
                Assert.That(grads.DBias, Is.Null, "no weight: no dbias");
                TestContext.Out.WriteLine($"{tag}: worst dx error {edx:g3} of its scale");
                continue;
            }
            var (wm, bm) = GroupNormTestData.SumMagnitudes(dy, x, c, s, c / groups * s, mean, rstd);
            BatchNormTestData.AssertSumClose(((HostTensor)grads.DWeight!).Data, dWeight, wm, Tolerance, $"dweight ({tag})");
            BatchNormTestData.AssertSumClose(((HostTensor)grads.DBias!).Data, dBias, bm, Tolerance, $"dbias ({tag})");
            double ew = ((HostTensor)grads.DWeight!).Data.Select((v, i) => Math.Abs(v - dWeight[i]) / wm[i]).Max();
            double eb = ((HostTensor)grads.DBias!).Data.Select((v, i) => Math.Abs(v - dBias[i]) / bm[i]).Max();
            TestContext.Out.WriteLine($"{tag}: worst dx error {edx:g3} of its scale; dweight {ew:g3}, dbias {eb:g3} of Σ|terms|");
        }
    }

    [TestCaseSource(typeof(GroupNormTestData), nameof(GroupNormTestData.Shapes))]
    public void VectorsAndWorkersGiveTheSameBitsAsTheScalarSingleThreadedDefinition(int[] dims, int groups)
    {
        using var workers = new CpuWorkers(2);
        var shape = new TensorShape(dims);
        var gs = new GroupNormSpec(groups).ShapeOf(shape, "x");
        int c = dims[1];
        var x = BatchNormTestData.Values(shape, 21);
        var dy = BatchNormTestData.Values(shape, 22, 0.5f, 1f);
        var weight = BatchNormTestData.Channel(c, 23, 1f, 0.5f);
        var bias = BatchNormTestData.Channel(c, 24, 0f, 0.5f);
        float[][] Run(bool vector, CpuWorkers? w)
        {
            float[] mean = new float[gs.Units], rstd = new float[gs.Units], y = new float[x.Length], yn = new float[x.Length];
            float[] dx = new float[x.Length], dxn = new float[x.Length], dw = new float[c], db = new float[c];
            CpuGroupNorm.Forward(x, gs, 1e-5f, weight, bias, y, mean, rstd, w, vector);
            CpuGroupNorm.Forward(x, gs, 1e-5f, null, null, yn, mean, rstd, w, vector);
            CpuGroupNorm.Backward(dy, x, gs, mean, rstd, weight, dx, dw, db, w, vector);
            CpuGroupNorm.Backward(dy, x, gs, mean, rstd, null, dxn, null, null, w, vector);
            return [mean, rstd, y, yn, dx, dxn, dw, db];
        }
        var scalar = Run(false, null);
        Assert.That(Run(true, null), Is.EqualTo(scalar), "vector lanes");
        Assert.That(Run(true, workers), Is.EqualTo(scalar), "vector lanes on 2 workers");
        Assert.That(Run(false, workers), Is.EqualTo(scalar), "scalar on 2 workers");
    }

    /// <summary>
    /// The backward's affine sums taken in its dx pass (a task per run of groups) give the bits of the separate pass over
    /// channels: forced apart with more workers than groups, together without workers.
    /// </summary>
    [TestCaseSource(typeof(GroupNormTestData), nameof(GroupNormTestData.Shapes))]
    public void TheOnePassAffineSumsGiveTheTwoPassBits(int[] dims, int groups)
    {
        var shape = new TensorShape(dims);
        var gs = new GroupNormSpec(groups).ShapeOf(shape, "x");
        if (gs.ChannelsPerGroup > CpuGroupNorm.MaxFusedChannels) Assert.Ignore($"{gs.ChannelsPerGroup} channels a group: always two passes");
        using var workers = new CpuWorkers(groups + 1);
        Assert.That(CpuGroupNorm.FusesAffine(gs, null), Is.True);
        Assert.That(CpuGroupNorm.FusesAffine(gs, workers), Is.False);
        int c = dims[1];
        var x = BatchNormTestData.Values(shape, 31);
        var dy = BatchNormTestData.Values(shape, 32, 0.5f, 1f);
        var weight = BatchNormTestData.Channel(c, 33, 1f, 0.5f);
        float[] mean = new float[gs.Units], rstd = new float[gs.Units], y = new float[x.Length];
        CpuGroupNorm.Forward(x, gs, 1e-5f, weight, null, y, mean, rstd);
        foreach (bool vector in new[] { true, false })
        {
            float[][] Run(CpuWorkers? w)
            {
                float[] dx = new float[x.Length], dw = new float[c], db = new float[c];
                CpuGroupNorm.Backward(dy, x, gs, mean, rstd, weight, dx, dw, db, w, vector);
                return [dx, dw, db];
            }
            Assert.That(Run(null), Is.EqualTo(Run(workers)), vector ? "vector lanes" : "scalar");
        }
    }

    [Test]
    public void OutputsGoIntoTheTensorsGiven()
    {
        using var cpu = OpenCpu();
        var shape = new TensorShape(2, 6, 4, 5);
        var spec = new GroupNormSpec(3);
        var x = new HostTensor(shape, BatchNormTestData.Values(shape, 31));
        var ch = new TensorShape(6);
        var units = new TensorShape(2, 3);
        HostTensor y = new(shape), mean = new(units), rstd = new(units), w = new(ch, BatchNormTestData.Channel(6, 1, 1f, 0.5f)), b = new(ch, BatchNormTestData.Channel(6, 2, 0f, 0.5f));
        var r = cpu.GroupNorm(spec, x, w, b, y, mean, rstd);
        Assert.That(r.Output, Is.SameAs(y));
        Assert.That(r.Mean, Is.SameAs(mean));
        Assert.That(r.Rstd, Is.SameAs(rstd));
        Assert.That(y.Data.Any(v => v != 0));
        Assert.That(rstd.Data.All(v => v > 0));
        HostTensor dx = new(shape), dw = new(ch), db = new(ch);
        var g = cpu.GroupNormBackward(spec, new HostTensor(shape, BatchNormTestData.Values(shape, 32)), x, mean, rstd, w, dx, dw, db);
        Assert.That(g.Dx, Is.SameAs(dx));
        Assert.That(g.DWeight, Is.SameAs(dw));
        Assert.That(g.DBias, Is.SameAs(db));
        Assert.That(db.Data.All(v => v != 0));
        Assert.That(dx.Data.Any(v => v != 0));
    }

    /// <summary>
    /// Warm forward and backward calls into given tensors allocate nothing on the calling thread: below the parallel
    /// threshold (the whole call on this thread) and above it on a one-thread engine (a struct loop, stack partials).
    /// </summary>
    [TestCase(2, 6, 4, 5, 3)]
    [TestCase(4, 32, 24, 24, 8)]
    public void WarmCallsIntoGivenTensorsAllocateNothing(int n, int c, int h, int w, int groups)
    {
        using var cpu = OpenCpu(threads: 1);
        var shape = new TensorShape(n, c, h, w);
        var spec = new GroupNormSpec(groups);
        var ch = new TensorShape(c);
        var units = new TensorShape(n, groups);
        HostTensor x = new(shape, BatchNormTestData.Values(shape, 41)), dy = new(shape, BatchNormTestData.Values(shape, 42)),
            weight = new(ch, BatchNormTestData.Channel(c, 43, 1f, 0.5f)), bias = new(ch, BatchNormTestData.Channel(c, 44, 0f, 0.5f)),
            y = new(shape), mean = new(units), rstd = new(units), dx = new(shape), dw = new(ch), db = new(ch);
        void Calls()
        {
            cpu.GroupNorm(spec, x, weight, bias, y, mean, rstd);
            cpu.GroupNormBackward(spec, dy, x, mean, rstd, weight, dx, dw, db);
        }
        Calls();
        Calls();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Calls();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.Zero, "bytes allocated by a warm GroupNorm forward + backward");
    }
}
