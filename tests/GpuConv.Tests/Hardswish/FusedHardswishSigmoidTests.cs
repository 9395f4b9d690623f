using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Cpu.Elementwise;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Hardswish;

/// <summary>
/// Activation.Hardswish, Sigmoid and Hardsigmoid as ForwardBiasActivation's epilogue, without a GPU: bias_add_f32 with
/// their codes on the PTX interpreter gives the CPU element-wise ops' bits over 65 536 bit patterns spread over every
/// exponent (NaN, ±∞, subnormals) and with per-channel biases; on the CPU engine (host, resident, accumulating, and a
/// transposed layer, which the engine activates after the run), the reference backend and the simulated PTX device,
/// the result is within 1e-4 (normwise) of ReferenceConv + <see cref="ReferenceActivation"/> in float64 and bit for
/// bit the element-wise op applied to the same convolution's conv + bias.
/// </summary>
public class FusedHardswishSigmoidTests
{
    static readonly Activation[] NewActivations = [Activation.Hardswish, Activation.Sigmoid, Activation.Hardsigmoid];

    static uint[] Bits(float[] v) => [.. v.Select(BitConverter.SingleToUInt32Bits)];

    static float[] Cpu(Activation act, float[] a)
    {
        var o = new float[a.Length];
        CpuElementwise.Run(ConvEngine.ActivationOp(act), a, default, 0f, o);
        return o;
    }

    [Test]
    public void TheActivationOpsAreTheElementwiseOnes()
    {
        Assert.That(NewActivations.Select(ConvEngine.ActivationOp), Is.EqualTo(new[] { ElementwiseOp.Hardswish, ElementwiseOp.Sigmoid, ElementwiseOp.Hardsigmoid }));
        // Appended: the members before them keep their numbers (the bias kernel's codes are the numbers).
        Assert.That(NewActivations.Select(a => (int)a), Is.EqualTo(new[] { 4, 5, 6 }));
        Assert.That(NewActivations.Select(PtxConvBackend.BiasActivationCode), Is.EqualTo(new[] { 4u, 5u, 6u }));
    }

    [Test]
    public void BiasKernelGivesTheCpuLoopsBitsOverEveryExponent([ValueSource(nameof(NewActivations))] Activation act)
    {
        // bias -0: v + -0 = v for every v (-0 included), so the kernel's result is the op of the pattern itself.
        const int n = 1 << 16;
        var x = new float[n];
        var rng = new Random(13);
        for (int i = 0; i < n; i++) x[i] = BitConverter.UInt32BitsToSingle((uint)i * 65_537u + (uint)rng.Next(65_537));
        var expected = Cpu(act, x);
        var mem = new PtxGlobalMemory();
        ulong yPtr = mem.Upload(x), bPtr = mem.Upload([-0f]);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get("bias.ptx", "bias_add_f32"), new(4), new(64),
            PtxConvBackend.BiasAddPack(yPtr, bPtr, n, channels: 1, spatial: n, act).ToObjects());
        Assert.That(Bits(mem.Download(yPtr, n)), Is.EqualTo(Bits(expected)), $"bias_add_f32 with the {act} code");
        Assert.That(expected.Count(float.IsFinite), Is.GreaterThan(n / 2), "mostly finite values were compared");
    }

    [Test]
    public void BiasKernelAddsEachChannelsBiasThenTheOp([ValueSource(nameof(NewActivations))] Activation act)
    {
        // Values in ±6 around hardswish's -3 and 3, biases on both sides, 7 channels of 37 positions, batch 3.
        const int channels = 7, spatial = 37, n = 3 * channels * spatial;
        var rng = new Random(17);
        var y = new float[n];
        for (int i = 0; i < n; i++) y[i] = (float)(rng.NextDouble() * 12 - 6);
        float[] bias = [0.5f, -2.75f, 3f, -0f, 1.25f, -4.5f, 2f];
        var withBias = y.Select((v, i) => v + bias[i / spatial % channels]).ToArray();
        var expected = Cpu(act, withBias);
        var mem = new PtxGlobalMemory();
        ulong yPtr = mem.Upload(y), bPtr = mem.Upload(bias);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get("bias.ptx", "bias_add_f32"), new(3), new(32),
            PtxConvBackend.BiasAddPack(yPtr, bPtr, n, channels, spatial, act).ToObjects());
        var got = mem.Download(yPtr, n);
        Assert.That(Bits(got), Is.EqualTo(Bits(expected)), act.ToString());
        var reference = withBias.Select(v => ReferenceActivation.Apply(act, v)).ToArray();
        Assert.That(ErrorMetrics.Compare(got, reference).MaxRelative, Is.LessThan(1e-6), $"{act} against float64");
        if (act != Activation.Sigmoid) Assert.That(got.Count(v => v == 0), Is.InRange(1, n - 1), $"{act}: some values below -3 give 0");
        if (act == Activation.Hardsigmoid) Assert.That(got.Count(v => v == 1), Is.InRange(1, n - 1), "some values above 3 give 1");
    }

    static readonly ConvSpec ThreeByThree = new([3, 3], padBegin: [1]);
    static readonly ConvSpec Transposed = new ConvSpec([3, 3], stride: [2], padBegin: [1]).AsTransposed([1, 1]);

    /// <summary>x, w and biases of ±5, so conv + bias spans both ends of the hard clamp and sigmoid's flat ends.</summary>
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
        if (act == Activation.Sigmoid) Assert.That(got.Count(v => v is > 0.01f and < 0.99f), Is.GreaterThan(got.Length / 20), $"{what}: sigmoid's curve is reached");
        else Assert.That(got.Count(v => v == 0), Is.InRange(got.Length / 20, got.Length - 1), $"{act} {what}: the low clamp is reached");
        if (act == Activation.Hardswish) Assert.That(got.Count(v => v < 0), Is.GreaterThan(got.Length / 50), $"{what}: hardswish's negative dip is reached");
    }

    [Test]
    public void CpuEngine_HostResidentResidualAndTransposed_MatchTheReference_AndEqualTheOpOnTheConvolution(
        [ValueSource(nameof(NewActivations))] Activation act, [Values] bool transposed)
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var spec = transposed ? Transposed : ThreeByThree;
        var (x, w, b, _, plain) = Layer(spec, 1);
        var expected = plain.Select(v => ReferenceActivation.Apply(act, v)).ToArray();
        long passes = engine.SeparateActivationPasses;
        var host = engine.ForwardBiasActivation(spec, x, w, b, act).Data;
        Assert.That(engine.SeparateActivationPasses - passes, Is.EqualTo(transposed ? 1 : 0), "fused by the CPU backend (a transposed layer: after it)");
        AssertClose(host, expected, act, "host overload");
        var conv = engine.Forward(spec, x, w, b).Data;
        Assert.That(Bits(host), Is.EqualTo(Bits(Cpu(act, conv))), $"{act}(conv + bias), bit for bit");

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
        Assert.That(Bits(got), Is.EqualTo(Bits(Cpu(act, engine.Download(summed).Data))), $"{act}(skip + conv + bias), bit for bit");
    }

    [Test]
    public void ReferenceBackend_IsTheFloat64ConvolutionRoundedOnce_ThenTheOp([ValueSource(nameof(NewActivations))] Activation act)
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
    public void SimulatedPtxDevice_RunsTheBiasKernelWithTheActivationsCode([ValueSource(nameof(NewActivations))] Activation act)
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
        var withBias = rt.Download(plain).Select((v, i) => v + b.Data[i / 81 % 16]).ToArray();
        Assert.That(problem.OutputShape.SpatialSize, Is.EqualTo(81));
        Assert.That(Bits(got), Is.EqualTo(Bits(Cpu(act, withBias))), $"{act}(conv + bias) as the CPU loop computes it");

        var skip = HostTensor.Random(y.Shape, 9);
        using var output = engine.Upload(skip);
        rt.Calls.Clear();
        engine.ForwardBiasActivation(ThreeByThree, tx, tw, tb, act, output: output, accumulate: true);
        Assert.That(rt.Calls.Count(c => c == "launch bias_add_f32"), Is.EqualTo(1), "residual: the bias added once");
        AssertClose(rt.Download(output), plainRef.Select((v, i) => ReferenceActivation.Apply(act, v + skip.Data[i])).ToArray(), act, "ptx residual");
    }
}
