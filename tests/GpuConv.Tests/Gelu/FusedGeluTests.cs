using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Cpu.Elementwise;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Gelu;

/// <summary>
/// Activation.Gelu and Activation.GeluTanh as ForwardBiasActivation's epilogue, without a GPU. bias_add_f32 with codes 7
/// and 8 on the PTX interpreter gives the CPU element-wise ops' bits (<see cref="GeluMath"/>'s loops) over 65 536 bit
/// patterns spread over every exponent (NaN, ±∞, subnormals), over the whole curve to 16 densely (both sides of the
/// |x| = 1 split, the subnormal results near -14 and -10.8, the saturation at x²/2 = 120) and with per-channel biases.
/// On the CPU engine (host, resident, accumulating, and a transposed layer, which the engine activates after the run),
/// the reference backend and the simulated PTX device the result is bit for bit the engine's element-wise
/// <see cref="ConvEngine.Gelu"/> of the same convolution's conv + bias, and within 1e-4 (normwise) of float64
/// ReferenceConv + <see cref="ReferenceActivation"/>. The activation stage alone, judged on the float conv + bias it was
/// given, is within <see cref="GeluAccuracyTests.ForwardBound"/> (4) ulps ('none') and
/// <see cref="GeluAccuracyTests.ForwardTanhBound"/> (3.5) ulps ('tanh') of float64, the element-wise bounds.
/// </summary>
public class FusedGeluTests
{
    static readonly Activation[] GeluActivations = [Activation.Gelu, Activation.GeluTanh];

    static uint[] Bits(float[] v) => [.. v.Select(BitConverter.SingleToUInt32Bits)];

    static GeluApproximation Approximation(Activation act) => act == Activation.GeluTanh ? GeluApproximation.Tanh : GeluApproximation.None;

    static double UlpBound(Activation act) => act == Activation.GeluTanh ? GeluAccuracyTests.ForwardTanhBound : GeluAccuracyTests.ForwardBound;

    static float[] Cpu(Activation act, float[] a)
    {
        var o = new float[a.Length];
        CpuElementwise.Run(ConvEngine.ActivationOp(act), a, default, 0f, o);
        return o;
    }

    static float[] BiasKernel(float[] y, float[] bias, int channels, int spatial, Activation act)
    {
        var mem = new PtxGlobalMemory();
        ulong yPtr = mem.Upload(y), bPtr = mem.Upload(bias);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get("bias.ptx", "bias_add_f32"), new(4), new(64),
            PtxConvBackend.BiasAddPack(yPtr, bPtr, y.Length, channels, spatial, act).ToObjects());
        return mem.Download(yPtr, y.Length);
    }

    /// <summary>The worst error, in ulps (GeluAccuracyTests' measure), of act(v[i]) against float64 on the same float v[i].</summary>
    static (double Ulps, float At) WorstUlps(Activation act, float[] v, float[] got)
    {
        (double Ulps, float At) worst = (0, 0);
        for (int i = 0; i < v.Length; i++)
        {
            double exact = ReferenceActivation.Apply(act, v[i]);
            if (!double.IsFinite(exact)) continue;
            double ulps = GeluAccuracyTests.Ulps(got[i], exact, exact);
            if (!(ulps <= worst.Ulps)) worst = (ulps, v[i]);
        }
        return worst;
    }

    [Test]
    public void TheActivationsAreAppendedAndMapToTheElementwiseGelus()
    {
        Assert.That(GeluActivations.Select(ConvEngine.ActivationOp), Is.EqualTo(new[] { ElementwiseOp.Gelu, ElementwiseOp.GeluTanh }));
        // Appended: the members before them keep their numbers (the bias kernel's codes are the numbers).
        Assert.That(GeluActivations.Select(a => (int)a), Is.EqualTo(new[] { 7, 8 }));
        Assert.That(GeluActivations.Select(PtxConvBackend.BiasActivationCode), Is.EqualTo(new[] { 7u, 8u }));
    }

    [Test]
    public void TheFloat64JudgeHasTorchsEnds([ValueSource(nameof(GeluActivations))] Activation act)
    {
        Assert.That(ReferenceActivation.Apply(act, double.PositiveInfinity), Is.EqualTo(double.PositiveInfinity));
        Assert.That(ReferenceActivation.Apply(act, double.NegativeInfinity), Is.NaN, "-∞·0, as torch 1.13");
        Assert.That(ReferenceActivation.Apply(act, double.NaN), Is.NaN);
        Assert.That(ReferenceActivation.Apply(act, 0.0), Is.EqualTo(0.0));
        // torch 1.13 (float64): F.gelu(1.0) = 0.841344746068543, F.gelu(1.0, approximate='tanh') = 0.8411919906082768.
        Assert.That(ReferenceActivation.Apply(act, 1.0), Is.EqualTo(act == Activation.Gelu ? 0.841344746068543 : 0.8411919906082768).Within(1e-15));
    }

    [Test]
    public void BiasKernelGivesTheCpuLoopsBitsOverEveryExponent([ValueSource(nameof(GeluActivations))] Activation act)
    {
        // bias -0: v + -0 = v for every v (-0 included), so the kernel's result is the op of the pattern itself.
        const int n = 1 << 16;
        var x = new float[n];
        var rng = new Random(13);
        for (int i = 0; i < n; i++) x[i] = BitConverter.UInt32BitsToSingle((uint)i * 65_537u + (uint)rng.Next(65_537));
        var expected = Cpu(act, x);
        Assert.That(Bits(BiasKernel(x, [-0f], 1, n, act)), Is.EqualTo(Bits(expected)), $"bias_add_f32 with the {act} code");
        Assert.That(expected.Count(float.IsFinite), Is.GreaterThan(n / 2), "mostly finite values were compared");
    }

    [Test]
    public void BiasKernelGivesTheCpuLoopsBitsOverTheWholeCurve([ValueSource(nameof(GeluActivations))] Activation act)
    {
        // Every 2^-12 from -16 to 16, and the edges: the |x| = 1 split, x²/2 = 120 (√240), the subnormal tails, the ends.
        var x = new List<float>();
        for (int i = -16 * 4096; i <= 16 * 4096; i++) x.Add(i / 4096f);
        float edge = MathF.Sqrt(240f);
        foreach (float e in new[] { 1f, edge, 14f, 10.8f, 15.5f, 200f })
            foreach (float v in new[] { e, MathF.BitDecrement(e), MathF.BitIncrement(e) }) { x.Add(v); x.Add(-v); }
        x.AddRange([0f, -0f, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue, float.PositiveInfinity, float.NegativeInfinity, float.NaN]);
        var xs = x.ToArray();
        var expected = Cpu(act, xs);
        var got = BiasKernel(xs, [-0f], 1, xs.Length, act);
        Assert.That(Bits(got), Is.EqualTo(Bits(expected)), $"bias_add_f32 with the {act} code over [-16, 16]");
        var (ulps, at) = WorstUlps(act, xs, got);
        TestContext.Out.WriteLine($"{act}: bias_add_f32 = CPU loop on {xs.Length} values; worst {ulps:F3} ulps from float64 at {at:R}");
        Assert.That(ulps, Is.LessThanOrEqualTo(UlpBound(act)), $"{act}: {ulps:F3} ulps at {at:R}");
        Assert.That(got.Count(v => v < 0 && v > -1e-30f), Is.GreaterThan(100), "the tiny negative tail was reached");
        Assert.That(got.Count(v => v < -0.1f), Is.GreaterThan(1000), "the dip was reached");
    }

    [Test]
    public void BiasKernelAddsEachChannelsBiasThenTheOp([ValueSource(nameof(GeluActivations))] Activation act)
    {
        // Values in ±6, biases on both sides, 7 channels of 37 positions, batch 3.
        const int channels = 7, spatial = 37, n = 3 * channels * spatial;
        var rng = new Random(17);
        var y = new float[n];
        for (int i = 0; i < n; i++) y[i] = (float)(rng.NextDouble() * 12 - 6);
        float[] bias = [0.5f, -2.75f, 3f, -0f, 1.25f, -4.5f, 2f];
        var withBias = y.Select((v, i) => v + bias[i / spatial % channels]).ToArray();
        var expected = Cpu(act, withBias);
        var got = BiasKernel(y, bias, channels, spatial, act);
        Assert.That(Bits(got), Is.EqualTo(Bits(expected)), act.ToString());
        var reference = withBias.Select(v => ReferenceActivation.Apply(act, v)).ToArray();
        Assert.That(ErrorMetrics.Compare(got, reference).MaxRelative, Is.LessThan(1e-6), $"{act} against float64");
        Assert.That(got.Count(v => v < 0), Is.InRange(1, n - 1), $"{act}: some values in the negative dip, not all");
    }

    [Test]
    public void TheTwoFormsDifferSoASwappedCodeShows()
    {
        var x = Enumerable.Range(0, 4096).Select(i => (i - 2048) / 256f).ToArray();
        var none = Cpu(Activation.Gelu, x);
        var tanh = Cpu(Activation.GeluTanh, x);
        Assert.That(none.Zip(tanh).Count(p => p.First != p.Second), Is.GreaterThan(x.Length / 2), "erf and tanh forms give different bits");
    }

    static readonly ConvSpec ThreeByThree = new([3, 3], padBegin: [1]);
    static readonly ConvSpec Transposed = new ConvSpec([3, 3], stride: [2], padBegin: [1]).AsTransposed([1, 1]);

    /// <summary>x, w and biases of ±5, so conv + bias spans GELU's dip, both sides of |v| = 1 and its linear end.</summary>
    static (HostTensor X, HostTensor W, HostTensor B, ConvProblem Problem, double[] Plain) Layer(ConvSpec spec, int seed)
    {
        var x = HostTensor.Random(new TensorShape(2, 8, 9, 9), seed);
        var w = HostTensor.Random(spec.Transposed ? new TensorShape(8, 16, 3, 3) : new TensorShape(16, 8, 3, 3), seed + 1);
        var b = new HostTensor(new TensorShape(16), [.. Enumerable.Range(0, 16).Select(k => (k % 3 - 1) * 5f + 0.25f * k)]);
        var problem = ConvProblem.Create(spec, x.Shape, w.Shape);
        var plain = spec.Transposed ? ReferenceConv.BackwardData(problem, x.Data, w.Data, b.Data) : ReferenceConv.Forward(problem, x.Data, w.Data, b.Data);
        return (x, w, b, problem, plain);
    }

    static void AssertClose(float[] got, double[] expected, Activation act, string what)
    {
        var report = ErrorMetrics.Compare(got, expected);
        Assert.That(report.MaxRelative, Is.LessThan(1e-4), $"{act} {what}: {report}");
        Assert.That(got.Count(v => v < 0), Is.InRange(got.Length / 20, got.Length - 1), $"{act} {what}: the negative dip is reached");
        Assert.That(got.Count(v => v > 1), Is.GreaterThan(got.Length / 20), $"{act} {what}: the tail above 1 is reached");
        Assert.That(got.Count(v => Math.Abs(v) < 0.5f), Is.GreaterThan(got.Length / 20), $"{act} {what}: the polynomial middle is reached");
    }

    /// <summary>engine.Gelu (the element-wise op, public API) of a tensor, on the host.</summary>
    static float[] ElementwiseGelu(ConvEngine engine, Activation act, float[] data, TensorShape shape)
    {
        using var t = engine.Upload(new HostTensor(shape, data));
        using var g = engine.Gelu(t, Approximation(act));
        return engine.Download(g).Data;
    }

    [Test]
    public void CpuEngine_HostResidentResidualAndTransposed_MatchTheReference_AndEqualTheElementwiseGeluOfTheConvolution(
        [ValueSource(nameof(GeluActivations))] Activation act, [Values] bool transposed)
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var spec = transposed ? Transposed : ThreeByThree;
        var (x, w, b, _, plain) = Layer(spec, 1);
        var expected = plain.Select(v => ReferenceActivation.Apply(act, v)).ToArray();
        long passes = engine.SeparateActivationPasses;
        var host = engine.ForwardBiasActivation(spec, x, w, b, act).Data;
        Assert.That(engine.SeparateActivationPasses - passes, Is.EqualTo(transposed ? 1 : 0), "fused by the CPU backend (a transposed layer: after it)");
        AssertClose(host, expected, act, "host overload");
        var conv = engine.Forward(spec, x, w, b);
        Assert.That(Bits(host), Is.EqualTo(Bits(ElementwiseGelu(engine, act, conv.Data, conv.Shape))), $"{act}(conv + bias) = engine.Gelu(Forward), bit for bit");
        var (ulps, at) = WorstUlps(act, conv.Data, host);
        TestContext.Out.WriteLine($"{act} transposed={transposed}: {ErrorMetrics.Compare(host, expected)} end to end; activation stage {ulps:F3} ulps at {at:R}");
        Assert.That(ulps, Is.LessThanOrEqualTo(UlpBound(act)), $"{act} on the float conv + bias: {ulps:F3} ulps at {at:R}");

        using var tx = engine.Upload(x);
        using var tw = engine.Upload(w);
        using var tb = engine.Upload(b);
        using var y = engine.ForwardBiasActivation(spec, tx, tw, tb, act);
        Assert.That(Bits(engine.Download(y).Data), Is.EqualTo(Bits(host)), "resident = host overload");

        // Residual form: act(skip + conv + bias), the skip in the output tensor; bit for bit Forward accumulating, then the op.
        var skip = HostTensor.Random(y.Shape, 9);
        for (int i = 0; i < skip.Data.Length; i++) skip.Data[i] *= 3f;
        using var output = engine.Upload(skip);
        engine.ForwardBiasActivation(spec, tx, tw, tb, act, output: output, accumulate: true);
        var got = engine.Download(output).Data;
        AssertClose(got, plain.Select((v, i) => ReferenceActivation.Apply(act, v + skip.Data[i])).ToArray(), act, "accumulate");
        using var summed = engine.Upload(skip);
        engine.Forward(spec, tx, tw, tb, summed, accumulate: true);
        using var summedGelu = engine.Gelu(summed, Approximation(act));
        Assert.That(Bits(got), Is.EqualTo(Bits(engine.Download(summedGelu).Data)), $"{act}(skip + conv + bias), bit for bit");
    }

    [Test]
    public void ReferenceBackend_IsTheFloat64ConvolutionRoundedOnce_ThenTheOp([ValueSource(nameof(GeluActivations))] Activation act)
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, Backend = "reference", PersistPlans = false });
        var (x, w, b, _, plain) = Layer(ThreeByThree, 4);
        var got = engine.ForwardBiasActivation(ThreeByThree, x, w, b, act).Data;
        Assert.That(engine.LastPlan!.Backend, Is.EqualTo("reference"));
        AssertClose(got, plain.Select(v => ReferenceActivation.Apply(act, v)).ToArray(), act, "reference backend");
        var rounded = plain.Select(v => (float)v).ToArray();
        Assert.That(Bits(got), Is.EqualTo(Bits(Cpu(act, rounded))), $"{act} of the rounded float64 convolution");
    }

    [Test]
    public void SimulatedPtxDevice_RunsTheBiasKernelWithTheActivationsCode([ValueSource(nameof(GeluActivations))] Activation act)
    {
        var rt = new SimulatedPtxRuntime();
        using var engine = EngineOnBackends.Open(new PtxConvBackend(rt));
        var (x, w, b, problem, plainRef) = Layer(ThreeByThree, 3);
        using var tx = engine.Upload(x);
        using var tw = engine.Upload(w);
        using var tb = engine.Upload(b);
        using var plain = engine.Forward(ThreeByThree, tx, tw);
        rt.Calls.Clear();
        int waits = rt.Synchronizations, downloads = rt.CopiesToHost;
        using var y = engine.ForwardBiasActivation(ThreeByThree, tx, tw, tb, act);
        Assert.That(rt.Calls.Count(c => c == "launch bias_add_f32"), Is.EqualTo(1), "the bias added once");
        Assert.That(rt.Calls[^1], Is.EqualTo("launch bias_add_f32"), "after the convolution's launches");
        Assert.That(rt.Calls, Has.None.Contains(ElementwiseKernels.Entry(ConvEngine.ActivationOp(act))), "no separate element-wise launch");
        Assert.That(rt.CopiesToHost, Is.EqualTo(downloads));
        Assert.That(rt.Synchronizations, Is.EqualTo(waits), "queued on the stream: no wait for the device");
        var got = rt.Download(y);
        AssertClose(got, plainRef.Select(v => ReferenceActivation.Apply(act, v)).ToArray(), act, "ptx on the simulated device");
        Assert.That(problem.OutputShape.SpatialSize, Is.EqualTo(81));
        var withBias = rt.Download(plain).Select((v, i) => v + b.Data[i / 81 % 16]).ToArray();
        Assert.That(Bits(got), Is.EqualTo(Bits(Cpu(act, withBias))), $"{act}(conv + bias) as the CPU loop computes it");

        var skip = HostTensor.Random(y.Shape, 9);
        using var output = engine.Upload(skip);
        rt.Calls.Clear();
        engine.ForwardBiasActivation(ThreeByThree, tx, tw, tb, act, output: output, accumulate: true);
        Assert.That(rt.Calls.Count(c => c == "launch bias_add_f32"), Is.EqualTo(1), "residual: the bias added once");
        AssertClose(rt.Download(output), plainRef.Select((v, i) => ReferenceActivation.Apply(act, v + skip.Data[i])).ToArray(), act, "ptx residual");
    }
}
