using GpuConv.Backends;
using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Training;

/// <summary>
/// The accumulate option (output += result, PyTorch's <c>.grad +=</c>, cuDNN's beta = 1) on the CPU-run backends:
/// cpu (every algorithm of every op on TrainingStepTests' layers), reference, and ptx on the simulated runtime
/// (the shipped kernels in the PTX interpreter). Random non-zero initial outputs; initial + result judged against
/// initial + the float64 reference, max rel below 1e-5 (2e-5 for Winograd's transforms); accumulate = false
/// afterwards overwrites. The engine's calls: gradients over two micro-batches add up to the whole batch's, dx of
/// two paths sums, misuse throws before any work.
/// </summary>
public class AccumulateTests
{
    static double Tolerance(ConvAlgorithm a) => a.Name.StartsWith("winograd", StringComparison.Ordinal) ? 2e-5 : 1e-5;

    static IEnumerable<ConvProblem> Problems(ConvOp op) =>
        TrainingStepTests.Layers.Select(l => ConvProblem.Create(l.Spec, new TensorShape(l.X), new TensorShape(l.W), op));

    [Test]
    public void TheCpuBackendAccumulatesOnEveryAlgorithmOfEveryOp()
    {
        // One test over the three ops: a transposed layer's ops are the underlying problem's other ops.
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var failures = new List<string>();
        var covered = new HashSet<string>();
        int seed = 1;
        foreach (var op in new[] { ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter })
            foreach (var p in Problems(op))
                foreach (var constant in new[] { false, true })
                {
                    var problem = p.WithConstantWeights(constant);
                    covered.UnionWith(AccumulateCheck.EveryAlgorithm(cpu, problem, ConvPrecision.Strict, seed, withBias: seed % 2 == 0, Tolerance, failures));
                    seed += 101;
                }
        Assert.That(failures, Is.Empty);
        // The algorithms the planner can pick (each one the layers reach: see TrainingStepTests).
        Assert.That(covered, Is.SupersetOf(ChannelTileTier.OnThisTier(
            "Forward/winograd", "Forward/winograd-4x4", "Forward/channel-tiled", "Forward/direct-depthwise", "Forward/gemm-1x1",
            "Forward/im2col-gemm", "Forward/shifted-gemm",
            "BackwardData/forward-phases", "BackwardData/gemm-shuffle", "BackwardData/weight-stream", "BackwardData/gemm-col2im",
            "BackwardData/gemm-1x1",
            "BackwardFilter/reduction-split", "BackwardFilter/direct-depthwise", "BackwardFilter/im2col-gemm")), string.Join(", ", covered));
        TestContext.Out.WriteLine($"covered: {string.Join(", ", covered.Order())}");
    }

    [Test]
    public void TheReferenceBackendAccumulates([Values(ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter)] ConvOp op)
    {
        using var reference = new ReferenceBackend();
        var failures = new List<string>();
        int runs = 0, seed = 50;
        foreach (var p in Problems(op).Take(8))
            runs += AccumulateCheck.EveryAlgorithm(reference, p, ConvPrecision.Strict, seed += 10, withBias: true, _ => 1e-6, failures).Count;
        Assert.That(failures, Is.Empty);
        Assert.That(runs, Is.EqualTo(8));
    }

    [Test]
    public void ThePtxBackendAccumulatesOnTheSimulatedRuntime([Values(ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter)] ConvOp op)
    {
        // Small layers (the interpreter is slow): im2col + GEMM, 1x1 (GEMM beta = 1 into the output), depthwise direct
        // (scratch + add), col2im (scratch + add), grouped, strided with asymmetric padding, a chunked batch.
        (int[] X, int[] W, ConvSpec Spec)[] layers =
        [
            ([2, 4, 6, 6], [6, 4, 3, 3], new ConvSpec([3, 3], padBegin: [1])),
            ([2, 6, 5, 5], [4, 6, 1, 1], new ConvSpec([1, 1])),
            ([1, 4, 6, 6], [4, 1, 3, 3], new ConvSpec([3, 3], padBegin: [1], groups: 4)),
            ([2, 4, 7, 7], [6, 2, 3, 3], new ConvSpec([3, 3], stride: [2], padBegin: [0, 1], padEnd: [1, 0], groups: 2)),
        ];
        var failures = new List<string>();
        var covered = new HashSet<string>();
        int seed = 70;
        foreach (var (x, w, spec) in layers)
            foreach (long workspace in new[] { PtxConvBackend.DefaultMaxWorkspaceBytes, 1 })   // 1 byte: one image per chunk
            {
                var backend = new PtxConvBackend(new SimulatedPtxRuntime(), workspace);
                var p = ConvProblem.Create(spec, new TensorShape(x), new TensorShape(w), op);
                covered.UnionWith(AccumulateCheck.EveryAlgorithm(backend, p, ConvPrecision.Strict, seed += 10, withBias: true, _ => 1e-5, failures));
            }
        Assert.That(failures, Is.Empty);
        Assert.That(covered, Is.SupersetOf(AccumulateCheck.PtxAlgorithms(op).Select(a => $"{op}/{a}")), string.Join(", ", covered));
    }

    [Test]
    public void ThePtxBackendAccumulatesTheBiasGradientOnTheSimulatedRuntime()
    {
        var rt = new SimulatedPtxRuntime();
        var backend = new PtxConvBackend(rt);
        var dy = HostTensor.Random(new TensorShape(2, 5, 3, 4), 1);
        var initial = HostTensor.Random(new TensorShape(5), 2);
        var db = rt.Upload(initial.Data, initial.Shape);
        backend.BackwardBias(rt.Upload(dy.Data, dy.Shape), db, accumulate: true);
        var sums = ReferenceConv.BiasGradient(dy.Shape, dy.Data);
        Assert.That(ErrorMetrics.Compare(rt.Download(db), [.. sums.Select((s, c) => s + initial.Data[c])]).MaxRelative, Is.LessThan(1e-6));
        backend.BackwardBias(rt.Upload(dy.Data, dy.Shape), db);
        Assert.That(ErrorMetrics.Compare(rt.Download(db), sums).MaxRelative, Is.LessThan(1e-6), "accumulate = false overwrites");
    }

    [TestCase("cpu")]
    [TestCase("reference")]
    public void GradientsOfTwoMicroBatchesAddUpToTheWholeBatchs(string backendName)
    {
        // Training with gradient accumulation: dW, db (and, for a residual block's two paths, dx) summed by the calls.
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, Backend = backendName, PersistPlans = false });
        var spec = new ConvSpec([3, 3], stride: [2], padBegin: [1], groups: 2);
        var xs = new TensorShape(2, 4, 9, 9);
        var ws = new TensorShape(6, 2, 3, 3);
        var hx = HostTensor.Random(xs, 1);
        var hw = HostTensor.Random(ws, 2);
        var hdy = HostTensor.Random(new TensorShape(2, 6, 5, 5), 3);
        var p = ConvProblem.Create(spec, xs, ws);
        // The batch's halves as micro-batches.
        HostTensor Half(HostTensor t, int n) => new(t.Shape.WithDim(0, 1), t.Data[(n * t.Data.Length / 2)..((n + 1) * t.Data.Length / 2)]);
        var initialW = HostTensor.Random(ws, 4);
        var initialB = HostTensor.Random(new TensorShape(6), 5);
        using var dw = engine.Upload(initialW);
        using var db = engine.Upload(initialB);
        for (int n = 0; n < 2; n++)
        {
            using var x = engine.Upload(Half(hx, n));
            using var dy = engine.Upload(Half(hdy, n));
            engine.BackwardFilter(spec, x, dy, ws, output: dw, accumulate: true);
            engine.BackwardBias(dy, output: db, accumulate: true);
        }
        var expectedW = ReferenceConv.BackwardFilter(p, hx.Data, hdy.Data).Select((v, i) => v + initialW.Data[i]).ToArray();
        var expectedB = ReferenceConv.BiasGradient(hdy.Shape, hdy.Data).Select((v, i) => v + initialB.Data[i]).ToArray();
        Assert.That(ErrorMetrics.Compare(engine.Download(dw).Data, expectedW).MaxRelative, Is.LessThan(1e-5), "dW");
        Assert.That(ErrorMetrics.Compare(engine.Download(db).Data, expectedB).MaxRelative, Is.LessThan(1e-5), "db");

        // dx of two paths: the skip path's gradient is already in dx, the conv path's is added.
        var skip = HostTensor.Random(xs, 6);
        using var rw = engine.Upload(hw);
        using var rdy = engine.Upload(hdy);
        using var dx = engine.Upload(skip);
        engine.BackwardData(spec, rdy, rw, xs, output: dx, accumulate: true);
        var expectedX = ReferenceConv.BackwardData(p, hdy.Data, hw.Data).Select((v, i) => v + skip.Data[i]).ToArray();
        Assert.That(ErrorMetrics.Compare(engine.Download(dx).Data, expectedX).MaxRelative, Is.LessThan(1e-5), "dx");

        // Forward: y += conv(x, w) + bias.
        var hb = HostTensor.Random(new TensorShape(6), 7);
        var initialY = HostTensor.Random(hdy.Shape, 8);
        using var rx = engine.Upload(hx);
        using var rb = engine.Upload(hb);
        using var y = engine.Upload(initialY);
        engine.Forward(spec, rx, rw, rb, output: y, accumulate: true);
        var expectedY = ReferenceConv.Forward(p, hx.Data, hw.Data, hb.Data).Select((v, i) => v + initialY.Data[i]).ToArray();
        Assert.That(ErrorMetrics.Compare(engine.Download(y).Data, expectedY).MaxRelative, Is.LessThan(1e-5), "y");

        // accumulate = false (the default) still overwrites.
        engine.BackwardFilter(spec, rx, rdy, ws, output: dw);
        Assert.That(ErrorMetrics.Compare(engine.Download(dw).Data, ReferenceConv.BackwardFilter(p, hx.Data, hdy.Data)).MaxRelative, Is.LessThan(1e-5), "dW overwritten");
        engine.BackwardBias(rdy, output: db);
        Assert.That(ErrorMetrics.Compare(engine.Download(db).Data, ReferenceConv.BiasGradient(hdy.Shape, hdy.Data)).MaxRelative, Is.LessThan(1e-6), "db overwritten");
    }

    [Test]
    public void AStagedRunCopiesTheOutputInWhenItAccumulates([Values(ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter)] ConvOp op)
    {
        // A plan whose backend lives in another memory (here: host tensors, the ptx backend on the simulated device):
        // the tensor the op writes must be copied in too, or the sum starts from the pool's garbage (NaN here).
        var rt = new SimulatedPtxRuntime();
        var backend = new PtxConvBackend(rt);
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(2, 3, 5, 5), new TensorShape(4, 3, 3, 3), op);
        var x = HostTensor.Random(p.XShape, 1);
        var w = HostTensor.Random(p.WShape, 2);
        var y = HostTensor.Random(p.YShape, 3);
        var written = op switch { ConvOp.Forward => y, ConvOp.BackwardData => x, _ => w };
        var initial = (float[])written.Data.Clone();
        var expected = ReferenceConv.Run(p, x.Data, w.Data, y.Data).Select((v, i) => v + initial[i]).ToArray();
        var algorithm = backend.GetAlgorithms(p, ConvPrecision.Strict)[0];
        StagedRun.Run(p, backend, new ConvTensors(x, w, y) { Accumulate = true }, HostMemorySpace.Instance, written, copies =>
        {
            Assert.That(copies.Accumulate, Is.True, "the copies carry the flag");
            backend.Run(p, algorithm, copies);
            return 0;
        });
        Assert.That(ErrorMetrics.Compare(written.Data, expected).MaxRelative, Is.LessThan(1e-5));
    }

    [Test]
    public void AccumulateWithoutAnOutputThrowsBeforeAnyWork()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, Backend = "cpu", PersistPlans = false });
        var spec = new ConvSpec([3, 3], padBegin: [1]);
        using var x = engine.Upload(HostTensor.Random(new TensorShape(1, 2, 5, 5), 1));
        using var w = engine.Upload(HostTensor.Random(new TensorShape(3, 2, 3, 3), 2));
        using var dy = engine.Upload(HostTensor.Random(new TensorShape(1, 3, 5, 5), 3));
        foreach (var call in new Action[]
        {
            () => engine.Forward(spec, x, w, accumulate: true),
            () => engine.BackwardData(spec, dy, w, x.Shape, accumulate: true),
            () => engine.BackwardFilter(spec, x, dy, w.Shape, accumulate: true),
            () => engine.BackwardBias(dy, accumulate: true),
        })
        {
            var e = Assert.Throws<ArgumentException>(call)!;
            Assert.That(e.ParamName, Is.EqualTo("output"));
            Assert.That(e.Message, Does.Contain("accumulate"));
        }
        Assert.That(engine.LastPlan, Is.Null, "nothing was planned or run");
    }
}
