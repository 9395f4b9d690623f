using GpuConv.Cpu.Layers;
using GpuConv.Cpu.Threading;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Padding;

/// <summary>
/// <see cref="ConvEngine.Pad"/> and <see cref="ConvEngine.PadBackward"/> on the CPU engine against
/// <see cref="ReferencePad"/>: the pad copies values, so it must match bit for bit; its gradient sums at most a few
/// (reflect, circular) or pad + 1 (replicate) fp32 values per element, held to 1e-6 of the largest. Also: the adjoint
/// identity ⟨pad(x), dy⟩ = ⟨x, padᵀ(dy)⟩ (a check that shares nothing with either side's index rules), accumulate, the
/// same bits with and without worker threads, and the SIMD middle against rows too short to have one.
/// </summary>
public class PadOpTests
{
    static ConvEngine Cpu(int threads = 2) => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = threads });

    public static IEnumerable<TestCaseData> ModesAndRanks()
    {
        foreach (var mode in Enum.GetValues<PadMode>())
            for (int rank = 1; rank <= 3; rank++)
                yield return new TestCaseData(mode, rank);
    }

    [TestCaseSource(nameof(ModesAndRanks))]
    public void PadMatchesTheReferenceBitForBitAndItsGradientWithinRounding(PadMode mode, int rank)
    {
        using var engine = Cpu();
        for (int seed = 0; seed < 8; seed++)
        {
            var (spec, input) = RandomPaddedProblems.CreatePad(seed, mode, rank);
            var x = HostTensor.Random(input, seed + 1);
            var y = (HostTensor)engine.Pad(spec, x);
            Assert.That(y.Shape, Is.EqualTo(spec.OutputShape(input)));
            var expected = ReferencePad.Forward(spec, input, x.Data);
            Assert.That(y.Data.Select(v => (double)v).ToArray(), Is.EqualTo(expected), $"{spec} on {input}");

            var dy = HostTensor.Random(y.Shape, seed + 2);
            var dx = (HostTensor)engine.PadBackward(spec, dy, input);
            var e = ErrorMetrics.Compare(dx.Data, ReferencePad.Backward(spec, input, dy.Data));
            Assert.That(e.MaxRelative, Is.LessThan(1e-6), $"{spec} on {input} backward: {e}");

            // Accumulate: initial + gradient.
            var held = HostTensor.Random(input, seed + 3);
            var initial = (float[])held.Data.Clone();
            engine.PadBackward(spec, dy, input, held, accumulate: true);
            var sum = ReferencePad.Backward(spec, input, dy.Data).Select((v, i) => v + initial[i]).ToArray();
            Assert.That(ErrorMetrics.Compare(held.Data, sum).MaxRelative, Is.LessThan(1e-6), $"{spec} on {input} backward accumulate");
        }
    }

    [TestCaseSource(nameof(ModesAndRanks))]
    public void TheGradientIsThePadsAdjoint(PadMode mode, int rank)
    {
        if (mode == PadMode.Constant) mode = PadMode.Constant; // value 0 below: a constant border is then linear
        using var engine = Cpu();
        for (int seed = 0; seed < 6; seed++)
        {
            var (drawn, input) = RandomPaddedProblems.CreatePad(seed + 40, mode, rank);
            var spec = new PadSpec(mode, drawn.PadBegin, drawn.PadEnd);
            var x = HostTensor.Random(input, seed + 1);
            var y = (HostTensor)engine.Pad(spec, x);
            var dy = HostTensor.Random(y.Shape, seed + 2);
            var dx = (HostTensor)engine.PadBackward(spec, dy, input);
            double lhs = 0, rhs = 0, scale = 0;
            for (int i = 0; i < y.Data.Length; i++) { lhs += (double)y.Data[i] * dy.Data[i]; scale += Math.Abs((double)y.Data[i] * dy.Data[i]); }
            for (int i = 0; i < x.Data.Length; i++) rhs += (double)x.Data[i] * dx.Data[i];
            Assert.That(Math.Abs(lhs - rhs), Is.LessThan(1e-6 * scale), $"{spec} on {input}: <pad(x), dy> = {lhs}, <x, padT(dy)> = {rhs}");
        }
    }

    [TestCase(PadMode.Reflect)]
    [TestCase(PadMode.Replicate)]
    [TestCase(PadMode.Circular)]
    [TestCase(PadMode.Constant)]
    public void WorkerThreadsGiveTheSameBitsAsOneLoop(PadMode mode)
    {
        // Large enough to be split (more than CpuPadding.ParallelThreshold elements), rows long enough for a SIMD middle.
        var input = new TensorShape(2, 5, 7, 40, 67);
        var spec = new PadSpec(mode, [2, 3, 1], [1, 2, 3], mode == PadMode.Constant ? -0.5f : 0f);
        var g = PadGeometry.Of(spec, input);
        Assert.That(g.OutCount, Is.GreaterThan(CpuPadding.ParallelThreshold));
        var x = HostTensor.Random(input, 1);
        var dy = HostTensor.Random(spec.OutputShape(input), 2);
        using var workers = new CpuWorkers(3);
        float[] y1 = new float[g.OutCount], y3 = new float[g.OutCount], dx1 = new float[g.InCount], dx3 = new float[g.InCount];
        CpuPadding.Forward(g, x.Data, y1);
        CpuPadding.Forward(g, x.Data, y3, workers);
        CpuPadding.Backward(g, dy.Data, dx1, accumulate: false);
        CpuPadding.Backward(g, dy.Data, dx3, accumulate: false, workers);
        Assert.That(y3, Is.EqualTo(y1));
        Assert.That(dx3, Is.EqualTo(dx1));
        Assert.That(y1.Select(v => (double)v).ToArray(), Is.EqualTo(ReferencePad.Forward(spec, input, x.Data)));
        Assert.That(ErrorMetrics.Compare(dx1, ReferencePad.Backward(spec, input, dy.Data)).MaxRelative, Is.LessThan(1e-6));
    }

    [Test]
    public void RowsShorterThanTheirBordersHaveNoPlainMiddleAndStillFold()
    {
        // Width 1..6 with pads up to the mode's limit: SingleSourceRange is empty or short, every element gathers.
        using var engine = Cpu(1);
        foreach (var mode in new[] { PadMode.Reflect, PadMode.Replicate, PadMode.Circular })
            for (int width = 1; width <= 6; width++)
            {
                int limit = mode switch { PadMode.Reflect => width - 1, PadMode.Circular => width, _ => 5 };
                for (int pb = 0; pb <= limit; pb++)
                    for (int pe = 0; pe <= limit; pe += Math.Max(1, limit / 2))
                    {
                        var input = new TensorShape(1, 2, width);
                        var spec = new PadSpec(mode, [pb], [pe]);
                        var x = HostTensor.Random(input, width * 31 + pb);
                        Assert.That(((HostTensor)engine.Pad(spec, x)).Data.Select(v => (double)v), Is.EqualTo(ReferencePad.Forward(spec, input, x.Data)), $"{spec} width {width}");
                        var dy = HostTensor.Random(spec.OutputShape(input), pb * 7 + pe);
                        var e = ErrorMetrics.Compare(((HostTensor)engine.PadBackward(spec, dy, input)).Data, ReferencePad.Backward(spec, input, dy.Data));
                        Assert.That(e.MaxRelative, Is.LessThan(1e-6), $"{spec} width {width} backward: {e}");
                    }
            }
    }

    [Test]
    public void APaddingLayerAsInCycleGan()
    {
        // nn.ReflectionPad2d(3) then a 7x7 convolution with no padding: the same as Conv2d(padding=3, padding_mode='reflect').
        using var engine = Cpu();
        var x = HostTensor.Random(new TensorShape(1, 3, 12, 10), 1);
        var w = HostTensor.Random(new TensorShape(4, 3, 7, 7), 2);
        var padded = (HostTensor)engine.Pad(new PadSpec(PadMode.Reflect, [3, 3]), x);
        var viaLayer = engine.Forward(new GpuConv.Conv.ConvSpec([7, 7]), padded, w);
        var viaMode = engine.Forward(new GpuConv.Conv.ConvSpec([7, 7], padBegin: [3], paddingMode: GpuConv.Conv.PaddingMode.Reflect), x, w);
        Assert.That(viaMode.Data, Is.EqualTo(viaLayer.Data), "the mode runs exactly the pad then the unpadded convolution");
    }

    [Test]
    public void FromTorchReadsFPadsLastDimensionFirstOrder()
    {
        // F.pad(x4d, (left, right, top, bottom)).
        var spec = PadSpec.FromTorch([1, 2, 3, 4], spatialRank: 2, PadMode.Replicate);
        Assert.That(spec.PadBegin, Is.EqualTo(new[] { 3, 1 }));
        Assert.That(spec.PadEnd, Is.EqualTo(new[] { 4, 2 }));
        Assert.That(spec.ToTorch(), Is.EqualTo(new[] { 1, 2, 3, 4 }));
        // Fewer pairs than dimensions pad the trailing ones only.
        var last = PadSpec.FromTorch([2, 0], spatialRank: 3, PadMode.Constant, 1.5f);
        Assert.That((last.PadBegin.ToArray(), last.PadEnd.ToArray(), last.Value), Is.EqualTo((new[] { 0, 0, 2 }, new[] { 0, 0, 0 }, 1.5f)));
        Assert.That(new PadSpec(PadMode.Reflect, [1, 2]), Is.EqualTo(new PadSpec(PadMode.Reflect, [1, 2], [1, 2])));
        Assert.That(new PadSpec(PadMode.Reflect, [1, 2]).GetHashCode(), Is.EqualTo(new PadSpec(PadMode.Reflect, [1, 2], [1, 2]).GetHashCode()));
        Assert.That(new PadSpec(PadMode.Reflect, [1, 2]), Is.Not.EqualTo(new PadSpec(PadMode.Circular, [1, 2])));
        Assert.That(new PadSpec(PadMode.Constant, [1], value: 2), Is.Not.EqualTo(new PadSpec(PadMode.Constant, [1])));
        Assert.That(new PadSpec(PadMode.Reflect, [1, 2], [3, 4]).ToString(), Is.EqualTo("reflect pad=(1x2)-(3x4)"));
    }

    [Test]
    public void BadPadsAndTensorsAreRefusedByName()
    {
        using var engine = Cpu();
        ExpectArgument.Throws(() => new PadSpec(PadMode.Reflect, [1, -1]), "padBegin", "padBegin[1]", "-1");
        ExpectArgument.Throws(() => new PadSpec(PadMode.Reflect, [1], [-2]), "padEnd", "padEnd[0]", "-2");
        ExpectArgument.Throws(() => new PadSpec(PadMode.Reflect, [1, 1], [1]), "padEnd", "1 values", "2");
        ExpectArgument.Throws(() => new PadSpec(PadMode.Reflect, [1, 1, 1, 1]), "padBegin", "4");
        ExpectArgument.Throws(() => new PadSpec(PadMode.Replicate, [1], value: 3), "value", "Constant", "replicate");
        ExpectArgument.Throws(() => new PadSpec((PadMode)9, [1]), "mode", "9");
        ExpectArgument.Throws(() => PadSpec.FromTorch([1, 2, 3], 2), "pad", "3");
        ExpectArgument.Throws(() => PadSpec.FromTorch([1, 2, 3, 4, 5, 6], 2), "pad", "6");

        var x = HostTensor.Random(new TensorShape(1, 2, 3, 5), 1);
        ExpectArgument.Throws(() => engine.Pad(new PadSpec(PadMode.Reflect, [3, 1]), x), "x", "Reflect", "(3, 3)", "size 3");
        ExpectArgument.Throws(() => engine.Pad(new PadSpec(PadMode.Circular, [1, 6], [0, 0]), x), "x", "Circular", "size 5");
        Assert.That(engine.Pad(new PadSpec(PadMode.Circular, [3, 5]), x).Shape, Is.EqualTo(new TensorShape(1, 2, 9, 15)), "circular pad = size is allowed");
        Assert.That(engine.Pad(new PadSpec(PadMode.Reflect, [2, 4]), x).Shape, Is.EqualTo(new TensorShape(1, 2, 7, 13)), "reflect pad = size - 1 is allowed");
        ExpectArgument.Throws(() => engine.Pad(new PadSpec(PadMode.Reflect, [1]), x), "x", "1 spatial dimension");
        ExpectArgument.Throws(() => engine.Pad(new PadSpec(PadMode.Reflect, [1, 1]), x, new HostTensor(1, 2, 5, 5)), "output", "expected [1, 2, 5, 7]");
        ExpectArgument.Throws(() => engine.Pad(new PadSpec(PadMode.Reflect, [0, 0]), x, x), "output", "shares memory");
        var spec = new PadSpec(PadMode.Replicate, [1, 2]);
        ExpectArgument.Throws(() => engine.PadBackward(spec, new HostTensor(1, 2, 5, 5), x.Shape), "dy", "expected [1, 2, 5, 9]");
        ExpectArgument.Throws(() => engine.PadBackward(spec, new HostTensor(1, 2, 5, 9), x.Shape, accumulate: true), "output", "accumulate");
        ExpectArgument.Throws(() => engine.PadBackward(spec, new HostTensor(1, 2, 5, 9), new TensorShape(1, 2, 3)), "inputShape", "2 spatial");
    }
}
