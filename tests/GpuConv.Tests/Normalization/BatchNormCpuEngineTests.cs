using GpuConv.Cpu.Layers;
using GpuConv.Cpu.Threading;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// The CPU engine's BatchNorm against the float64 reference (ReferenceBatchNorm) on random non-zero inputs with
/// per-channel offsets: training forward with the running-statistics update, eval forward, backward; gamma/beta given
/// and absent; every rank. Tolerance: 2e-6·max(1, κ) of the tensor's largest reference magnitude (fp32 rounds at 6e-8;
/// κ = max |x|·invstd, the conditioning of x − mean, <see cref="BatchNormTestData.Kappa"/>); dgamma and dbeta within 2e-6
/// of the sum of their terms' magnitudes (their summation bound, <see cref="BatchNormTestData.AssertSumClose"/>). And the CPU definition's own invariants: the same bits with and without vectors,
/// with and without worker threads.
/// </summary>
public class BatchNormCpuEngineTests
{
    const double Tolerance = 2e-6;

    static ConvEngine OpenCpu() => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    [TestCaseSource(typeof(BatchNormTestData), nameof(BatchNormTestData.Shapes))]
    public void TrainingForwardAndRunningStatisticsMatchTheReference(int[] dims)
    {
        foreach (bool affine in new[] { true, false })
        {
            using var cpu = OpenCpu();
            var shape = new TensorShape(dims);
            int n = dims[0], c = dims[1], s = shape.ElementCountInt / n / c;
            var spec = new BatchNormSpec(1e-5, 0.1);
            var x = BatchNormTestData.Values(shape, dims.Sum());
            var gamma = BatchNormTestData.Channel(c, 1, 1f, 0.5f);
            var beta = BatchNormTestData.Channel(c, 2, 0f, 0.5f);
            var rm = BatchNormTestData.Channel(c, 3, 0.2f, 0.5f);
            var rv = BatchNormTestData.Channel(c, 4, 1.5f, 0.5f);
            var hrm = new HostTensor(new TensorShape(c), (float[])rm.Clone());
            var hrv = new HostTensor(new TensorShape(c), (float[])rv.Clone());
            var result = cpu.BatchNormTraining(spec, new HostTensor(shape, x), affine ? new HostTensor(new TensorShape(c), gamma) : null,
                affine ? new HostTensor(new TensorShape(c), beta) : null, hrm, hrv);

            double[] refRm = BatchNormTestData.Wide(rm), refRv = BatchNormTestData.Wide(rv);
            var (y, mean, invStd) = ReferenceBatchNorm.Training(BatchNormTestData.Wide(x), n, c, s, spec.Epsilon, spec.Momentum,
                affine ? BatchNormTestData.Wide(gamma) : null, affine ? BatchNormTestData.Wide(beta) : null, refRm, refRv);
            string tag = affine ? "affine" : "no affine";
            double kappa = BatchNormTestData.Kappa(x, n, c, s, invStd);
            BatchNormTestData.AssertClose(((HostTensor)result.Output).Data, y, Tolerance * kappa, $"y ({tag})");
            BatchNormTestData.AssertClose(((HostTensor)result.SavedMean).Data, mean, Tolerance, $"saved mean ({tag})");
            BatchNormTestData.AssertClose(((HostTensor)result.SavedInvStd).Data, invStd, Tolerance * kappa, $"saved invstd ({tag})");
            BatchNormTestData.AssertClose(hrm.Data, refRm, Tolerance, $"running mean ({tag})");
            BatchNormTestData.AssertClose(hrv.Data, refRv, Tolerance * kappa, $"running var ({tag})");
            Assert.That(hrm.Data, Is.Not.EqualTo(rm), "running mean updated");
        }
    }

    [TestCaseSource(typeof(BatchNormTestData), nameof(BatchNormTestData.Shapes))]
    public void InferenceMatchesTheReference(int[] dims)
    {
        using var cpu = OpenCpu();
        var shape = new TensorShape(dims);
        int n = dims[0], c = dims[1], s = shape.ElementCountInt / n / c;
        var spec = new BatchNormSpec(1e-3);
        var x = BatchNormTestData.Values(shape, dims.Sum() + 7);
        var gamma = BatchNormTestData.Channel(c, 5, 1f, 0.5f);
        var beta = BatchNormTestData.Channel(c, 6, 0f, 0.5f);
        var rm = BatchNormTestData.Channel(c, 7, 0.2f, 1f);
        var rv = BatchNormTestData.Channel(c, 8, 1.5f, 1f);
        var ch = new TensorShape(c);
        var y = cpu.BatchNormInference(spec, new HostTensor(shape, x), new HostTensor(ch, gamma), new HostTensor(ch, beta), new HostTensor(ch, rm), new HostTensor(ch, rv));
        var expected = ReferenceBatchNorm.Normalize(BatchNormTestData.Wide(x), n, c, s, BatchNormTestData.Wide(rm), BatchNormTestData.Wide(rv), spec.Epsilon,
            BatchNormTestData.Wide(gamma), BatchNormTestData.Wide(beta));
        var rvInv = rv.Select(v => 1 / Math.Sqrt(v + spec.Epsilon)).ToArray();
        BatchNormTestData.AssertClose(((HostTensor)y).Data, expected, Tolerance * BatchNormTestData.Kappa(x, n, c, s, rvInv), "eval y");
    }

    [TestCaseSource(typeof(BatchNormTestData), nameof(BatchNormTestData.Shapes))]
    public void BackwardMatchesTheReference(int[] dims)
    {
        foreach (bool affine in new[] { true, false })
        {
            using var cpu = OpenCpu();
            var shape = new TensorShape(dims);
            int n = dims[0], c = dims[1], s = shape.ElementCountInt / n / c;
            var x = BatchNormTestData.Values(shape, dims.Sum() + 11);
            var dy = BatchNormTestData.Values(shape, dims.Sum() + 12, offset: 0.5f, spread: 1f);
            var gamma = BatchNormTestData.Channel(c, 9, 1f, 0.5f);
            var ch = new TensorShape(c);
            var hx = new HostTensor(shape, x);
            var forward = cpu.BatchNormTraining(new BatchNormSpec(), hx, affine ? new HostTensor(ch, gamma) : null);
            var grads = cpu.BatchNormBackward(new HostTensor(shape, dy), hx, affine ? new HostTensor(ch, gamma) : null, forward.SavedMean, forward.SavedInvStd);

            var (mean, variance) = ReferenceBatchNorm.Statistics(BatchNormTestData.Wide(x), n, c, s);
            var invStd = variance.Select(v => 1 / Math.Sqrt(v + 1e-5)).ToArray();
            var (dx, dGamma, dBeta) = ReferenceBatchNorm.Backward(BatchNormTestData.Wide(dy), BatchNormTestData.Wide(x), n, c, s, mean, invStd,
                affine ? BatchNormTestData.Wide(gamma) : null);
            string tag = affine ? "affine" : "no affine";
            // dx cancels (n·dy − Σdy − x̂·Σdy·x̂), so its error is measured against the terms' size: |dy|·invstd·gamma.
            double kappa = BatchNormTestData.Kappa(x, n, c, s, invStd);
            double dxScale = dy.Max(Math.Abs) * invStd.Max() * (affine ? gamma.Max(Math.Abs) : 1) * kappa;
            double dxWorst = dx.Select((r, i) => Math.Abs(((HostTensor)grads.Dx).Data[i] - r)).Max();
            Assert.That(dxWorst, Is.LessThanOrEqualTo(Tolerance * dxScale), $"dx ({tag})");
            var (gm, bm) = BatchNormTestData.SumMagnitudes(dy, x, n, c, s, mean, invStd);
            BatchNormTestData.AssertSumClose(((HostTensor)grads.DGamma).Data, dGamma, gm, Tolerance, $"dgamma ({tag})");
            BatchNormTestData.AssertSumClose(((HostTensor)grads.DBeta).Data, dBeta, bm, Tolerance, $"dbeta ({tag})");
        }
    }

    [TestCaseSource(typeof(BatchNormTestData), nameof(BatchNormTestData.Shapes))]
    public void VectorsAndWorkersGiveTheSameBitsAsTheScalarSingleThreadedDefinition(int[] dims)
    {
        using var workers = new CpuWorkers(2);
        var shape = new TensorShape(dims);
        var bn = BatchNormSpec.ShapeOf(shape, "x");
        int c = dims[1];
        var x = BatchNormTestData.Values(shape, 21);
        var dy = BatchNormTestData.Values(shape, 22, 0.5f, 1f);
        var gamma = BatchNormTestData.Channel(c, 23, 1f, 0.5f);
        var beta = BatchNormTestData.Channel(c, 24, 0f, 0.5f);
        float[][] Run(bool vector, CpuWorkers? w)
        {
            float[] mean = new float[c], inv = new float[c], rm = BatchNormTestData.Channel(c, 25, 0f, 1f), rv = BatchNormTestData.Channel(c, 26, 1.5f, 1f);
            float[] y = new float[x.Length], ye = new float[x.Length], dx = new float[x.Length], dg = new float[c], db = new float[c];
            CpuBatchNorm.Statistics(x, bn, 1e-5f, mean, inv, rm, rv, 0.1f, 0.9f, w, vector);
            CpuBatchNorm.Normalize(x, y, bn, mean, inv, false, 1e-5f, gamma, beta, w, vector);
            CpuBatchNorm.Normalize(x, ye, bn, rm, rv, true, 1e-5f, gamma, beta, w, vector);
            CpuBatchNorm.Backward(dy, x, bn, mean, inv, gamma, dx, dg, db, w, vector);
            return [mean, inv, rm, rv, y, ye, dx, dg, db];
        }
        var scalar = Run(false, null);
        Assert.That(Run(true, null), Is.EqualTo(scalar), "vector lanes");
        Assert.That(Run(true, workers), Is.EqualTo(scalar), "vector lanes on 2 workers");
        Assert.That(Run(false, workers), Is.EqualTo(scalar), "scalar on 2 workers");
    }

    [Test]
    public void OutputsGoIntoTheTensorsGiven()
    {
        using var cpu = OpenCpu();
        var shape = new TensorShape(2, 3, 4, 5);
        var x = new HostTensor(shape, BatchNormTestData.Values(shape, 31));
        var ch = new TensorShape(3);
        HostTensor y = new(shape), mean = new(ch), inv = new(ch);
        var r = cpu.BatchNormTraining(new BatchNormSpec(), x, output: y, savedMean: mean, savedInvStd: inv);
        Assert.That(r.Output, Is.SameAs(y));
        Assert.That(r.SavedMean, Is.SameAs(mean));
        Assert.That(r.SavedInvStd, Is.SameAs(inv));
        Assert.That(y.Data.Any(v => v != 0));
        HostTensor dx = new(shape), dg = new(ch), db = new(ch);
        var g = cpu.BatchNormBackward(new HostTensor(shape, BatchNormTestData.Values(shape, 32)), x, null, mean, inv, dx, dg, db);
        Assert.That(g.Dx, Is.SameAs(dx));
        Assert.That(g.DGamma, Is.SameAs(dg));
        Assert.That(g.DBeta, Is.SameAs(db));
        Assert.That(db.Data.All(v => v != 0));
        var e = cpu.BatchNormInference(new BatchNormSpec(), x, null, null, mean, new HostTensor(ch, [1f, 2f, 3f]), y);
        Assert.That(e, Is.SameAs(y));
    }
}
