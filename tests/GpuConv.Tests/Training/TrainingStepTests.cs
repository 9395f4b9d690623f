using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Training;

/// <summary>
/// Training steps as an application writes them against the device-resident API on the CPU path: forward, the
/// three backward calls, weights refreshed in place every step. Judged by the float64 reference: max relative
/// error below 1e-5 (2e-5 for Winograd's transforms) on random inputs.
/// </summary>
public class TrainingStepTests
{
    static ConvEngineOptions Options() => new() { Device = DeviceKind.Cpu, Backend = "cpu", PersistPlans = false };

    static double Tolerance(string algorithm) => algorithm.StartsWith("winograd", StringComparison.Ordinal) ? 2e-5 : 1e-5;

    static double MaxRel(ReadOnlySpan<float> actual, double[] reference) => ErrorMetrics.Compare(actual, reference).MaxRelative;

    // A layer per case: input, weight (PyTorch layout) and spec; together their problems reach every CPU algorithm of
    // the three ops (asserted in NewWeightsEveryStepAreUsedByEveryCpuAlgorithm).
    internal static readonly (string Name, int[] X, int[] W, ConvSpec Spec)[] Layers =
    [
        ("3x3 64 (winograd-4x4)", [1, 64, 8, 8], [64, 64, 3, 3], new ConvSpec([3, 3], padBegin: [1])),
        ("3x3 16 (winograd)", [2, 16, 20, 20], [32, 16, 3, 3], new ConvSpec([3, 3], padBegin: [1])),
        ("3x3 stride 2", [1, 32, 15, 15], [32, 32, 3, 3], new ConvSpec([3, 3], stride: [2], padBegin: [1])),
        ("1x1", [2, 32, 8, 8], [48, 32, 1, 1], new ConvSpec([1, 1])),
        ("7x7 stem", [1, 3, 40, 40], [16, 3, 7, 7], new ConvSpec([7, 7], stride: [2], padBegin: [3])),
        ("depthwise", [1, 32, 12, 12], [32, 1, 3, 3], new ConvSpec([3, 3], padBegin: [1], groups: 32)),
        ("groups 4", [1, 32, 10, 10], [32, 8, 3, 3], new ConvSpec([3, 3], padBegin: [1], groups: 4)),
        ("transposed k2 s2 (gemm-shuffle)", [1, 32, 8, 8], [32, 16, 2, 2], new ConvSpec([2, 2], stride: [2]).AsTransposed()),
        ("transposed k4 s2", [1, 32, 8, 8], [32, 16, 4, 4], new ConvSpec([4, 4], stride: [2], padBegin: [1]).AsTransposed()),
        ("small dy (weight-stream)", [1, 128, 4, 4], [64, 128, 3, 3], new ConvSpec([3, 3], padBegin: [1])),
        ("1-d", [2, 16, 40], [32, 16, 5], new ConvSpec([5], padBegin: [2])),
        ("3-d", [1, 8, 6, 8, 8], [16, 8, 3, 3, 3], new ConvSpec([3, 3, 3], padBegin: [1])),
    ];

    [Test]
    public void AWrongDyShapeSaysWhichInputShapeItFollowsFrom()
    {
        using var engine = ConvEngine.Open(Options());
        var spec = new ConvSpec([3, 3], padBegin: [1], groups: 2);
        var w = HostTensor.Random(new TensorShape(6, 2, 3, 3), 1);
        var dy = HostTensor.Random(new TensorShape(2, 6, 8, 8), 2);
        var x = HostTensor.Random(new TensorShape(2, 4, 9, 9), 3);
        using var rw = engine.Upload(w);
        using var rdy = engine.Upload(dy);
        using var rx = engine.Upload(x);

        // The caller's mistake is inputShape (or x), but it is dy that cannot match: the message shows both.
        foreach (var e in new[]
        {
            Assert.Throws<ArgumentException>(() => engine.BackwardData(spec, dy, w, x.Shape))!,
            Assert.Throws<ArgumentException>(() => engine.BackwardData(spec, rdy, rw, x.Shape))!,
        })
        {
            Assert.That(e.ParamName, Is.EqualTo("dy"));
            Assert.That(e.Message, Does.Contain("dy has shape [2, 6, 8, 8], expected [2, 6, 9, 9]").And.Contain("inputShape [2, 4, 9, 9]"));
        }
        foreach (var e in new[]
        {
            Assert.Throws<ArgumentException>(() => engine.BackwardFilter(spec, x, dy, w.Shape))!,
            Assert.Throws<ArgumentException>(() => engine.BackwardFilter(spec, rx, rdy, w.Shape))!,
        })
        {
            Assert.That(e.ParamName, Is.EqualTo("dy"));
            Assert.That(e.Message, Does.Contain("expected [2, 6, 9, 9]").And.Contain("x [2, 4, 9, 9]"));
        }
    }

    [Test]
    public void TheBackwardCallsOverwriteTheirOutputsOnEveryCpuAlgorithm()
    {
        using var engine = ConvEngine.Open(Options());
        var cpu = engine.Backends.OfType<CpuBackend>().Single();
        int seed = 1, runs = 0;
        foreach (var (name, xd, wd, spec) in Layers)
            foreach (var op in new[] { ConvOp.BackwardData, ConvOp.BackwardFilter })
            {
                // The layer's backward ops; a transposed layer's backward-data is the underlying forward.
                var problem = ConvProblem.Create(spec, new TensorShape(xd), new TensorShape(wd), op);
                foreach (var algorithm in cpu.GetAlgorithms(problem, ConvPrecision.Strict))
                {
                    var x = HostTensor.Random(problem.XShape, seed++);
                    var w = HostTensor.Random(problem.WShape, seed++);
                    var y = HostTensor.Random(problem.YShape, seed++);
                    var written = problem.Op switch { ConvOp.Forward => y, ConvOp.BackwardData => x, _ => w };
                    Array.Fill(written.Data, float.NaN);   // an op that adds to (or reads) its output keeps NaN
                    cpu.Run(problem, algorithm, new ConvTensors(x, w, y));
                    Assert.That(MaxRel(written.Data, ReferenceConv.Run(problem, x.Data, w.Data, y.Data)), Is.LessThan(Tolerance(algorithm.Name)), $"{name} {op} {algorithm.Name}");
                    runs++;
                }
            }
        Assert.That(runs, Is.GreaterThan(2 * Layers.Length));

        // The engine's own calls, BackwardBias too, into NaN-filled outputs.
        var s = new ConvSpec([3, 3], stride: [2], padBegin: [1], groups: 2);
        using var rx = engine.Upload(HostTensor.Random(new TensorShape(2, 4, 9, 9), 1));
        using var rw = engine.Upload(HostTensor.Random(new TensorShape(6, 2, 3, 3), 2));
        using var rdy = engine.Upload(HostTensor.Random(new TensorShape(2, 6, 5, 5), 3));
        using var dx = engine.Upload(Enumerable.Repeat(float.NaN, 2 * 4 * 81).ToArray(), rx.Shape);
        using var dw = engine.Upload(Enumerable.Repeat(float.NaN, 6 * 2 * 9).ToArray(), rw.Shape);
        using var db = engine.Upload(Enumerable.Repeat(float.NaN, 6).ToArray(), new TensorShape(6));
        engine.BackwardData(s, rdy, rw, rx.Shape, output: dx);
        engine.BackwardFilter(s, rx, rdy, rw.Shape, output: dw);
        engine.BackwardBias(rdy, output: db);
        var p = ConvProblem.Create(s, rx.Shape, rw.Shape);
        float[] X = engine.Download(rx).Data, W = engine.Download(rw).Data, DY = engine.Download(rdy).Data;
        Assert.That(MaxRel(engine.Download(dx).Data, ReferenceConv.BackwardData(p, DY, W)), Is.LessThan(1e-5));
        Assert.That(MaxRel(engine.Download(dw).Data, ReferenceConv.BackwardFilter(p, X, DY)), Is.LessThan(1e-5));
        Assert.That(MaxRel(engine.Download(db).Data, ReferenceConv.BiasGradient(rdy.Shape, DY)), Is.LessThan(1e-6));
    }

    [Test]
    public void NewWeightsEveryStepAreUsedByEveryCpuAlgorithm()
    {
        // One weight tensor per layer, refreshed before each step; the steps mix constant and per-call weights, so a
        // prepared copy (channel panels, Winograd transforms, forward-phases' sub-kernels, gemm-shuffle's Wᵀ,
        // weight-stream's packing) kept past a refresh shows as the previous step's result.
        using var engine = ConvEngine.Open(Options());
        var cpu = engine.Backends.OfType<CpuBackend>().Single();
        var covered = new HashSet<string>();
        int seed = 100;
        foreach (var (name, xd, wd, spec) in Layers)
            foreach (var userOp in new[] { ConvOp.Forward, ConvOp.BackwardData })
            {
                var problem = ConvProblem.Create(spec, new TensorShape(xd), new TensorShape(wd), userOp);
                // Every algorithm, Winograd too (offered for constant weights only, but runnable with per-call ones).
                foreach (var algorithm in cpu.GetAlgorithms(problem.WithConstantWeights(true), ConvPrecision.Strict))
                {
                    covered.Add($"{problem.Op}/{algorithm.Name}");
                    var x = HostTensor.Random(problem.XShape, seed++);
                    var w = HostTensor.Random(problem.WShape, seed++);
                    var y = HostTensor.Random(problem.YShape, seed++);
                    var written = problem.Op == ConvOp.Forward ? y : x;
                    foreach (var (refresh, constant) in new[]
                    {
                        ("none", true), ("upload", true), ("in place", false), ("in place, forgotten", true), ("upload", true),
                    })
                    {
                        var fresh = HostTensor.Random(w.Shape, seed++);
                        if (refresh == "upload") engine.Upload(fresh.Data, w);
                        else if (refresh.StartsWith("in place", StringComparison.Ordinal)) fresh.Data.CopyTo(w.Data, 0);
                        if (refresh.EndsWith("forgotten", StringComparison.Ordinal)) cpu.ForgetPreparedWeights(w);
                        cpu.Run(problem, algorithm, new ConvTensors(x, w, y) { ConstantWeights = constant });
                        Assert.That(MaxRel(written.Data, ReferenceConv.Run(problem, x.Data, w.Data, y.Data)), Is.LessThan(Tolerance(algorithm.Name)),
                            $"{name} {problem.Op} {algorithm.Name}, weights refreshed by '{refresh}', constant {constant}");
                    }
                }
            }
        Assert.That(covered, Is.SupersetOf(ChannelTileTier.OnThisTier(
            "Forward/winograd", "Forward/winograd-4x4", "Forward/channel-tiled", "Forward/direct-depthwise", "Forward/gemm-1x1",
            "BackwardData/forward-phases", "BackwardData/gemm-shuffle", "BackwardData/weight-stream", "BackwardData/gemm-col2im")));
    }

    [Test]
    public void AFrozenLayersBackwardDataKeepsItsWeightsPreparedUntilTheyAreUploadedAgain()
    {
        // Fine-tuning: a frozen layer's W never changes, but dx still flows through it every step.
        using var engine = ConvEngine.Open(Options());
        var cpu = engine.Backends.OfType<CpuBackend>().Single();
        var (_, xd, wd, spec) = Layers[0];
        var xs = new TensorShape(xd);
        var problem = ConvProblem.Create(spec, xs, new TensorShape(wd), ConvOp.BackwardData);
        var hw = HostTensor.Random(problem.WShape, 1);
        using var w = engine.Upload(hw);
        using var dx = engine.Allocate(xs);
        int packsBefore = cpu.PreparedWeightPacks, packsAfterFirst = 0;
        for (int step = 0; step < 4; step++)
        {
            var hdy = HostTensor.Random(problem.YShape, 10 + step);
            using var dy = engine.Upload(hdy);
            engine.BackwardData(spec, dy, w, xs, output: dx, constantWeights: true);
            Assert.That(MaxRel(engine.Download(dx).Data, ReferenceConv.BackwardData(problem, hdy.Data, hw.Data)), Is.LessThan(Tolerance(engine.LastPlan!.Algorithm.Name)), $"step {step}");
            if (step == 0) packsAfterFirst = cpu.PreparedWeightPacks;
        }
        Assert.That(engine.LastPlan!.Algorithm.Name, Is.EqualTo(CpuBackend.ForwardPhases), "the plan this test is about");
        // Forward-phases prepares its sub-kernels' W through channel-tiled / Winograd: on a tier without them (Vector128)
        // nothing is prepared, and the steps above and below check the values only.
        if (ChannelTileTier.HasKernels)
            Assert.That(packsAfterFirst, Is.GreaterThan(packsBefore), "the first call prepares W");
        Assert.That(cpu.PreparedWeightPacks, Is.EqualTo(packsAfterFirst), "the later calls use the prepared W");

        // Unfrozen: new values through Upload are used at once; the host overload takes the promise too.
        hw = HostTensor.Random(problem.WShape, 2);
        engine.Upload(hw.Data, w);
        var last = HostTensor.Random(problem.YShape, 20);
        using (var dy = engine.Upload(last))
            engine.BackwardData(spec, dy, w, xs, output: dx, constantWeights: true);
        var reference = ReferenceConv.BackwardData(problem, last.Data, hw.Data);
        Assert.That(MaxRel(engine.Download(dx).Data, reference), Is.LessThan(2e-5), "after Upload");
        Assert.That(MaxRel(engine.BackwardData(spec, last, hw, xs, constantWeights: true).Data, reference), Is.LessThan(2e-5), "host overload");
    }

    [TestCase(0)]
    [TestCase(6)]
    [TestCase(7)]
    [TestCase(10)]
    public void SgdStepsLowerTheLossWithTheReferenceGradients(int layer)
    {
        // y = conv(x, W) + b, loss = ½‖y − t‖², W -= lr·dW, b -= lr·db, with the weights in engine tensors refreshed by Upload.
        var (name, xd, wd, spec) = Layers[layer];
        using var engine = ConvEngine.Open(Options());
        var xs = new TensorShape(xd);
        var ws = new TensorShape(wd);
        var problem = ConvProblem.Create(spec, xs, ws);
        var hx = HostTensor.Random(xs, 1);
        var hw = HostTensor.Random(ws, 2);
        for (int i = 0; i < hw.Data.Length; i++) hw.Data[i] *= 0.1f;
        var hb = new float[problem.BiasLength];
        var ys = spec.Transposed ? problem.XShape : problem.YShape;
        var target = HostTensor.Random(ys, 3);
        using var x = engine.Upload(hx);
        using var w = engine.Upload(hw);
        using var b = engine.Upload(hb, new TensorShape(hb.Length));
        using var y = engine.Allocate(ys);
        using var dy = engine.Allocate(ys);
        using var dx = engine.Allocate(xs);
        using var dw = engine.Allocate(ws);
        using var db = engine.Allocate(new TensorShape(hb.Length));
        var dyh = new float[ys.ElementCountInt];
        // The loss is quadratic in each output channel's weights and bias, its Hessian's largest eigenvalue at most
        // taps·‖x‖² + outputs per channel: a step below the inverse lowers the loss every time.
        double taps = spec.Kernel.Aggregate(1, (a, k) => a * k), sumSquares = hx.Data.Sum(v => (double)v * v);
        float lr = (float)(1 / (taps * sumSquares + ys.ElementCount / ys.C));
        double first = 0;
        double previous = double.PositiveInfinity;
        for (int step = 0; step < 8; step++)
        {
            engine.Forward(spec, x, w, b, output: y);
            engine.Download(y, dyh);
            double loss = 0;
            for (int i = 0; i < dyh.Length; i++) { dyh[i] -= target.Data[i]; loss += 0.5 * dyh[i] * dyh[i]; }
            Assert.That(loss, Is.LessThan(previous), $"{name}: step {step}");
            if (step == 0) first = loss;
            previous = loss;
            engine.Upload(dyh, dy);
            engine.BackwardData(spec, dy, w, xs, output: dx);
            engine.BackwardFilter(spec, x, dy, ws, output: dw);
            engine.BackwardBias(dy, output: db);

            // The reference gradients of the underlying problem: a transposed layer's input is its y, its dy the underlying x.
            var hdw = engine.Download(dw).Data;
            var hdb = engine.Download(db).Data;
            var wNow = engine.Download(w).Data;
            double[] rdx = spec.Transposed
                ? ReferenceConv.Forward(ConvProblem.Create(spec.AsConvolution(), problem.XShape, ws), dyh, wNow)
                : ReferenceConv.BackwardData(problem, dyh, wNow);
            double[] rdw = spec.Transposed
                ? ReferenceConv.BackwardFilter(problem, dyh, hx.Data)
                : ReferenceConv.BackwardFilter(problem, hx.Data, dyh);
            Assert.That(MaxRel(engine.Download(dx).Data, rdx), Is.LessThan(1e-5), $"{name}: dx at step {step}");
            Assert.That(MaxRel(hdw, rdw), Is.LessThan(1e-5), $"{name}: dW at step {step}");
            Assert.That(MaxRel(hdb, ReferenceConv.BiasGradient(ys, dyh)), Is.LessThan(1e-6), $"{name}: db at step {step}");

            for (int i = 0; i < wNow.Length; i++) wNow[i] -= lr * hdw[i];
            for (int i = 0; i < hb.Length; i++) hb[i] -= lr * hdb[i];
            engine.Upload(wNow, w);
            engine.Upload(hb, b);
        }
        TestContext.Out.WriteLine($"{name}: loss {first:G6} -> {previous:G6} in 8 steps (lr {lr:G3})");
        Assert.That(previous, Is.LessThan(0.999 * first), $"{name}: the loss hardly fell");
    }
}
