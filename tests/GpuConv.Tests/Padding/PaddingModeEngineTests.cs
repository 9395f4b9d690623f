using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Padding;

/// <summary>
/// Convolutions with a padding mode on the CPU engine against the float64 reference (which maps the padded positions
/// itself, and which PaddingModeTorchPeerTests holds to PyTorch): every mode (zeros as the control) × rank 1–3 × op, on
/// random non-zero problems with strides, dilations, groups and asymmetric pads up to the mode's limit, through the
/// HostTensor calls, the device-resident calls (bias, fused activation, accumulate) and Run on a tensor set. fp32 with
/// float64 judging: max |error| / max |reference| below 2e-5.
/// </summary>
public class PaddingModeEngineTests
{
    const double Tolerance = 2e-5;
    const int Seeds = 5;

    static ConvEngine Cpu(int threads = 2) => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = threads });

    public static IEnumerable<TestCaseData> ModesRanksOps()
    {
        foreach (var mode in Enum.GetValues<PaddingMode>())
            for (int rank = 1; rank <= 3; rank++)
                foreach (var op in Enum.GetValues<ConvOp>())
                    yield return new TestCaseData(mode, rank, op);
    }

    static void Near(ReadOnlySpan<float> actual, double[] expected, string what)
    {
        var e = ErrorMetrics.Compare(actual, expected);
        Assert.That(expected.Max(Math.Abs), Is.GreaterThan(0), $"{what}: the reference is all zeros");
        Assert.That(e.MaxRelative, Is.LessThan(Tolerance), $"{what}: {e}");
    }

    [TestCaseSource(nameof(ModesRanksOps))]
    public void HostTensorCallsMatchTheReference(PaddingMode mode, int rank, ConvOp op)
    {
        using var engine = Cpu();
        for (int seed = 0; seed < Seeds; seed++)
        {
            var p = RandomPaddedProblems.Create(seed, mode, rank, op);
            var spec = p.Spec;
            var x = HostTensor.Random(p.XShape, seed + 100);
            var w = HostTensor.Random(p.WShape, seed + 200);
            var dy = HostTensor.Random(p.YShape, seed + 300);
            var bias = HostTensor.Random(new TensorShape(p.K), seed + 400);
            switch (op)
            {
                case ConvOp.Forward:
                    Near(engine.Forward(spec, x, w, bias).Data, ReferenceConv.Forward(p, x.Data, w.Data, bias.Data), $"{p} forward");
                    break;
                case ConvOp.BackwardData:
                    Near(engine.BackwardData(spec, dy, w, p.XShape).Data, ReferenceConv.BackwardData(p, dy.Data, w.Data), $"{p} backward-data");
                    break;
                default:
                    Near(engine.BackwardFilter(spec, x, dy, p.WShape).Data, ReferenceConv.BackwardFilter(p, x.Data, dy.Data), $"{p} backward-filter");
                    break;
            }
        }
    }

    [TestCaseSource(nameof(ModesRanksOps))]
    public void DeviceResidentCallsAccumulateAndRunTensorSetsMatchTheReference(PaddingMode mode, int rank, ConvOp op)
    {
        using var engine = Cpu();
        for (int seed = 0; seed < Seeds; seed++)
        {
            var p = RandomPaddedProblems.Create(seed + 50, mode, rank, op);
            var spec = p.Spec;
            var x = HostTensor.Random(p.XShape, seed + 100);
            var w = HostTensor.Random(p.WShape, seed + 200);
            var dy = HostTensor.Random(p.YShape, seed + 300);
            var written = HostTensor.Random(p.OutputShape, seed + 500);
            var initial = (float[])written.Data.Clone();
            double[] reference = op switch
            {
                ConvOp.Forward => ReferenceConv.Forward(p, x.Data, w.Data),
                ConvOp.BackwardData => ReferenceConv.BackwardData(p, dy.Data, w.Data),
                _ => ReferenceConv.BackwardFilter(p, x.Data, dy.Data),
            };
            double[] accumulated = [.. reference.Select((v, i) => v + initial[i])];

            // The device-resident call with accumulate: initial + result; then again overwriting.
            Tensor Call(bool accumulate) => op switch
            {
                ConvOp.Forward => engine.Forward(spec, x, w, output: written, accumulate: accumulate),
                ConvOp.BackwardData => engine.BackwardData(spec, dy, w, p.XShape, output: written, accumulate: accumulate),
                _ => engine.BackwardFilter(spec, x, dy, p.WShape, output: written, accumulate: accumulate),
            };
            Assert.That(Call(accumulate: true), Is.SameAs(written));
            Near(written.Data, accumulated, $"{p} {op} accumulate");
            Call(accumulate: false);
            Near(written.Data, reference, $"{p} {op} overwrite");

            // Run on a tensor set (the problem as built, padding mode and all), with Accumulate.
            Array.Copy(initial, written.Data, initial.Length);
            var tensors = op switch
            {
                ConvOp.Forward => new ConvTensors(x, w, written) { Accumulate = true },
                ConvOp.BackwardData => new ConvTensors(written, w, dy) { Accumulate = true },
                _ => new ConvTensors(x, written, dy) { Accumulate = true },
            };
            var plan = engine.Run(p, tensors);
            Near(written.Data, accumulated, $"{p} {op} Run accumulate");
            Assert.That(plan, Is.EqualTo(engine.GetPlan(p.ExplicitlyPadded)), "Run ran the plan of the explicitly padded problem");
        }
    }

    [TestCase(PaddingMode.Reflect, Activation.Relu)]
    [TestCase(PaddingMode.Replicate, Activation.Silu)]
    [TestCase(PaddingMode.Circular, Activation.Relu6)]
    public void FusedBiasActivationWithAccumulateAppliesToTheSum(PaddingMode mode, Activation activation)
    {
        using var engine = Cpu();
        for (int seed = 0; seed < Seeds; seed++)
        {
            var p = RandomPaddedProblems.Create(seed + 70, mode, 2);
            var x = HostTensor.Random(p.XShape, seed + 1);
            var w = HostTensor.Random(p.WShape, seed + 2);
            var bias = HostTensor.Random(new TensorShape(p.K), seed + 3);
            var skip = HostTensor.Random(p.YShape, seed + 4);
            var initial = (float[])skip.Data.Clone();
            var conv = ReferenceConv.Forward(p, x.Data, w.Data, bias.Data);
            double[] plain = [.. conv.Select(v => ReferenceActivation.Apply(activation, v))];
            double[] summed = [.. conv.Select((v, i) => ReferenceActivation.Apply(activation, v + initial[i]))];

            Near(engine.ForwardBiasActivation(p.Spec, x, w, bias, activation).Data, plain, $"{p} host {activation}");
            engine.ForwardBiasActivation(p.Spec, (Tensor)x, w, bias, activation, output: skip, accumulate: true);
            Near(skip.Data, summed, $"{p} resident {activation} accumulate");
        }
    }

    [Test]
    public void ValidateReportsAgainstTheReferenceWithThePaddingMode()
    {
        using var engine = Cpu();
        var p = RandomPaddedProblems.Create(3, PaddingMode.Reflect, 2);
        var x = HostTensor.Random(p.XShape, 1);
        var w = HostTensor.Random(p.WShape, 2);
        foreach (var op in Enum.GetValues<ConvOp>())
            Assert.That(engine.Validate(p.Spec, x, w, op: op).Error.MaxRelative, Is.LessThan(Tolerance), op.ToString());
    }

    [Test]
    public void TheModeChangesTheResultAtTheBorderOnly()
    {
        // A 1-d ramp through a 3-tap box filter with pad 1: only the two end outputs depend on the mode.
        using var engine = Cpu();
        var x = new HostTensor(new TensorShape(1, 1, 4), [1f, 2f, 3f, 4f]);
        var w = new HostTensor(new TensorShape(1, 1, 3), [1f, 1f, 1f]);
        float[] Y(PaddingMode mode) => engine.Forward(new ConvSpec([3], padBegin: [1], paddingMode: mode), x, w).Data;
        Assert.That(Y(PaddingMode.Zeros), Is.EqualTo(new[] { 3f, 6f, 9f, 7f }));
        Assert.That(Y(PaddingMode.Reflect), Is.EqualTo(new[] { 5f, 6f, 9f, 10f }));    // 2 1 2 3 4 3
        Assert.That(Y(PaddingMode.Replicate), Is.EqualTo(new[] { 4f, 6f, 9f, 11f }));  // 1 1 2 3 4 4
        Assert.That(Y(PaddingMode.Circular), Is.EqualTo(new[] { 7f, 6f, 9f, 8f }));   // 4 1 2 3 4 1
    }

    [Test]
    public void AWarmDeviceResidentCallWithAPaddingModeAllocatesNothing()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, Backend = "cpu", PersistPlans = false, CpuThreads = 1 });
        var spec = new ConvSpec([3, 3], padBegin: [1], paddingMode: PaddingMode.Reflect);
        var x = engine.Upload(HostTensor.Random(new TensorShape(1, 8, 8, 8), 1));
        var w = engine.Upload(HostTensor.Random(new TensorShape(8, 8, 3, 3), 2));
        var y = engine.Allocate(new TensorShape(1, 8, 8, 8));
        var dx = engine.Allocate(x.Shape);
        var dw = engine.Allocate(w.Shape);
        foreach (var (name, call) in new (string, Action)[]
        {
            ("forward", () => engine.Forward(spec, x, w, output: y)),
            ("backward-data", () => engine.BackwardData(spec, y, w, x.Shape, output: dx)),
            ("backward-filter", () => engine.BackwardFilter(spec, x, y, w.Shape, output: dw)),
        })
        {
            for (int i = 0; i < 100; i++) call();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 200; i++) call();
            Assert.That((GC.GetAllocatedBytesForCurrentThread() - before) / 200, Is.EqualTo(0), $"{name}: bytes per warm call (the padded scratch is reused)");
        }
    }

    [Test]
    public void ThePlannerPlansTheExplicitlyPaddedProblemAndRefusesToRunTheModedOne()
    {
        using var engine = Cpu();
        var p = RandomPaddedProblems.Create(1, PaddingMode.Circular, 2);
        var padded = p.ExplicitlyPadded;
        Assert.That(padded.Spec.HasPaddingMode, Is.False);
        Assert.That(padded.Spec.IsUnpadded, Is.True);
        Assert.That(padded.XShape.Spatial, Is.EqualTo(p.XShape.Spatial.Select((s, d) => s + p.Spec.PadBegin[d] + p.Spec.PadEnd[d]).ToArray()));
        Assert.That((padded.WShape, padded.YShape, padded.Op), Is.EqualTo((p.WShape, p.YShape, p.Op)));
        Assert.That(engine.GetPlan(p), Is.EqualTo(engine.GetPlan(padded)));
        Assert.That(engine.Explain(p).Problem, Is.EqualTo(padded));
        ExpectArgument.Throws(() => engine.Planner.Execute(p, (_, _) => Assert.Fail("ran")), "problem", "padding mode Circular", "ExplicitlyPadded");

        // A zero-padding backend handed the moded problem directly refuses it rather than running it as zeros.
        var cpu = engine.Backends.OfType<CpuBackend>().Single();
        Assert.That(cpu.WhyUnsupported(p), Does.Contain("padding mode Circular"));
        var algorithm = engine.GetPlan(p).Algorithm;
        var t = new ConvTensors(HostTensor.Random(p.XShape, 1), HostTensor.Random(p.WShape, 2), new HostTensor(p.YShape));
        ExpectArgument.Throws(() => cpu.Run(p, algorithm, t), "problem", "zeros only");
        // The reference backend makes the modes itself.
        var reference = engine.Backends.OfType<ReferenceBackend>().Single();
        Assert.That(reference.WhyUnsupported(p), Is.Null);
    }
}
