using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Cpu.Elementwise;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Silu;

/// <summary>
/// SiLU (torch.nn.SiLU, x·sigmoid(x)) as element-wise ops and as a fused activation, without a GPU: PyTorch's special
/// values spelled out (torch 1.13 on this machine: silu(NaN) = NaN, silu(-0) = -0, silu(+∞) = +∞, silu(-∞) = NaN,
/// silu(x ≤ -88.7228394) = -0 where its float32 e^-x overflows, silu(1e30) = 1e30; the gradient NaN at ±∞, dy/2 at ±0,
/// ±0 below the overflow end, dy for huge x); the kernels in the PTX interpreter bit for bit against the CPU loops
/// (vector and scalar) over every exponent; the kernels' constants are SiluMath's; the CPU engine against the float64
/// reference within <see cref="SiluAccuracyTests"/>' bounds; ForwardBiasActivation(Silu) on the CPU engine, the reference
/// backend and the simulated PTX device against ReferenceConv + <see cref="ReferenceActivation"/>, and bit for bit equal
/// to the element-wise Silu of the same convolution's output (the fused epilogue is the op).
/// </summary>
public class SiluTests
{
    static uint[] Bits(float[] v) => [.. v.Select(BitConverter.SingleToUInt32Bits)];

    static float[] Interpret(ElementwiseOp op, float[] a, float[] b)
    {
        var mem = new PtxGlobalMemory();
        ulong pa = mem.Upload(a), pb = mem.Upload(b), po = mem.AllocatePoisoned(a.Length);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get(ElementwiseKernels.Module, ElementwiseKernels.Entry(op)), new PtxDim3(2), new PtxDim3(64),
            ElementwiseKernels.Arguments(op, po, pa, pb, 0f, a.Length));
        return mem.Download(po, a.Length);
    }

    static float[] Cpu(ElementwiseOp op, float[] a, float[] b)
    {
        var o = new float[a.Length];
        CpuElementwise.Run(op, a, b, 0f, o);
        return o;
    }

    /// <summary>The values torch was asked about (make_torch_cases.py's special values include them all).</summary>
    static readonly float[] Edges =
    [
        float.NaN, -0f, 0f, float.PositiveInfinity, float.NegativeInfinity, SiluAccuracyTests.OverflowEnd,
        MathF.BitIncrement(SiluAccuracyTests.OverflowEnd), -1e30f, 1e30f, -float.MaxValue, float.MaxValue, 17f, 30f, 1e-40f, -1e-40f, -1f,
    ];

    /// <summary>Each edge repeated so that the vector loop (8 wide) and the scalar tail both see every one.</summary>
    static float[] Repeated(float[] v) => [.. v, .. v, .. v, .. v[..5]];

    [Test]
    public void SiluFollowsPyTorchOnTheEdges_KernelVectorAndScalar()
    {
        float[] x = Repeated(Edges);
        var results = new[] { ("cpu loop", Cpu(ElementwiseOp.Silu, x, x)), ("kernel", Interpret(ElementwiseOp.Silu, x, x)), ("scalar", x.Select(SiluMath.Silu).ToArray()) };
        foreach (var (name, got) in results)
        {
            Assert.That(Bits(got), Is.EqualTo(Bits(results[0].Item2)), $"{name}: the same bits as the CPU loop");
            for (int i = 0; i < got.Length; i += Edges.Length)
            {
                Assert.That(float.IsNaN(got[i]), $"{name}: silu(NaN) = NaN");
                Assert.That(BitConverter.SingleToUInt32Bits(got[i + 1]), Is.EqualTo(0x8000_0000u), $"{name}: silu(-0) = -0, as torch");
                Assert.That(BitConverter.SingleToUInt32Bits(got[i + 2]), Is.Zero, $"{name}: silu(0) = 0");
                Assert.That(got[i + 3], Is.EqualTo(float.PositiveInfinity), $"{name}: silu(+inf) = +inf");
                Assert.That(float.IsNaN(got[i + 4]), $"{name}: silu(-inf) = -inf / inf = NaN, as torch");
            }
            Assert.That(BitConverter.SingleToUInt32Bits(got[5]), Is.EqualTo(0x8000_0000u), $"{name}: e^-x overflows at {Edges[5]:R}: -0, as torch");
            Assert.That(got[6], Is.LessThan(-2.6e-37f).And.GreaterThan(-2.7e-37f), $"{name}: one float above the overflow end: torch's -2.607349e-37");
            Assert.That(BitConverter.SingleToUInt32Bits(got[7]), Is.EqualTo(0x8000_0000u), $"{name}: silu(-1e30) = -0");
            Assert.That(got[8], Is.EqualTo(1e30f), $"{name}: silu(1e30) = 1e30");
            Assert.That(BitConverter.SingleToUInt32Bits(got[9]), Is.EqualTo(0x8000_0000u), $"{name}: silu(-max) = -0");
            Assert.That(got[10], Is.EqualTo(float.MaxValue), $"{name}: silu(max) = max");
            Assert.That(got[11], Is.EqualTo(17f), $"{name}: silu(17) = 17 in float32, as torch");
            Assert.That(got[12], Is.EqualTo(30f));
            Assert.That(got[13], Is.EqualTo(1e-40f / 2), $"{name}: a subnormal x gives x/2 (no flush to zero), as torch");
            Assert.That(got[14], Is.EqualTo(-1e-40f / 2));
            Assert.That(SiluAccuracyTests.ForwardError(-1f, got[15]), Is.Null, $"{name}: silu(-1) = {got[15]:R}");
        }
    }

    [Test]
    public void SiluBackwardFollowsPyTorchOnTheEdges_KernelVectorAndScalar()
    {
        float[] x = Repeated(Edges);
        // dy = 3 on the first copy of the edges, -3 on the second (the sign of a zero gradient follows it).
        float[] dy = [.. x.Select((_, i) => i / Edges.Length % 2 == 0 ? 3f : -3f)];
        var results = new[]
        {
            ("cpu loop", Cpu(ElementwiseOp.SiluBackward, dy, x)),
            ("kernel", Interpret(ElementwiseOp.SiluBackward, dy, x)),
            ("scalar", x.Select((v, i) => SiluMath.SiluBackward(dy[i], v)).ToArray()),
        };
        foreach (var (name, got) in results)
        {
            Assert.That(Bits(got), Is.EqualTo(Bits(results[0].Item2)), $"{name}: the same bits as the CPU loop");
            for (int i = 0; i < got.Length; i++)
            {
                int edge = i % Edges.Length;
                string what = $"{name}: silu'({x[i]:R})·{dy[i]}";
                switch (edge)
                {
                    case 0 or 3 or 4: Assert.That(float.IsNaN(got[i]), $"{what} is NaN, as torch (∞·0 in x·(1 - s) at ±∞)"); break;
                    case 1 or 2 or 13 or 14: Assert.That(got[i], Is.EqualTo(dy[i] / 2), $"{what} = dy/2"); break;
                    case 5 or 7 or 9: Assert.That(got[i], Is.EqualTo(0f), $"{what}: s = 0 where e^-x overflows, as torch"); break;
                    case 8 or 10 or 12: Assert.That(got[i], Is.EqualTo(dy[i]), $"{what} = dy (x ≥ 30: e = 0, so x·(1 - s) = 0 even for huge x)"); break;
                    default: Assert.That(SiluAccuracyTests.BackwardError(dy[i], x[i], got[i]), Is.Null, what); break;
                }
            }
            // torch's sign at the overflow end: (dy·0)·(1 + x) with 1 + x < 0.
            Assert.That(BitConverter.SingleToUInt32Bits(got[5]), Is.EqualTo(0x8000_0000u), $"{name}: (3·0)·(1 + x) = -0 as torch");
            Assert.That(BitConverter.SingleToUInt32Bits(got[Edges.Length + 5]), Is.Zero, $"{name}: (-3·0)·(1 + x) = +0");
            // At x = 17 torch's 1 - s is 0 (s rounds to 1) and gives dy; here 1 - s = e·s: 3·(1 + 17e^-17) = 3.0000021.
            Assert.That(got[11], Is.EqualTo(3.0000021f), $"{name}: silu'(17)·3 keeps the 6.6e-7 that torch's 1 - s loses");
        }
        // A NaN dy gives NaN (a product, not a select).
        Assert.That(float.IsNaN(Cpu(ElementwiseOp.SiluBackward, [float.NaN], [1f])[0]));
    }

    [Test]
    public void KernelsGiveTheCpuLoopsBitsOverEveryExponent()
    {
        // 65 536 bit patterns spread over all of float32 (NaNs, infinities, subnormals included), both ops and the bias
        // kernel's SiLU code (bias -0: v + -0 = v for every v, -0 included), through the interpreter.
        const int n = 1 << 16;
        var x = new float[n];
        var dy = new float[n];
        var rng = new Random(5);
        for (int i = 0; i < n; i++)
        {
            x[i] = BitConverter.UInt32BitsToSingle((uint)i * 65_537u + (uint)rng.Next(65_537));
            dy[i] = (float)(rng.NextDouble() * 4 - 2);
        }
        var silu = Cpu(ElementwiseOp.Silu, x, x);
        Assert.That(Bits(Interpret(ElementwiseOp.Silu, x, x)), Is.EqualTo(Bits(silu)), "silu_f32");
        Assert.That(Bits(Interpret(ElementwiseOp.SiluBackward, dy, x)), Is.EqualTo(Bits(Cpu(ElementwiseOp.SiluBackward, dy, x))), "silu_backward_f32");

        var mem = new PtxGlobalMemory();
        ulong yPtr = mem.Upload(x), bPtr = mem.Upload([-0f]);
        new PtxInterpreter(mem).Launch(ShippedKernels.Get("bias.ptx", "bias_add_f32"), new(4), new(64),
            PtxConvBackend.BiasAddPack(yPtr, bPtr, n, channels: 1, spatial: n, Activation.Silu).ToObjects());
        Assert.That(Bits(mem.Download(yPtr, n)), Is.EqualTo(Bits(silu)), "bias_add_f32 with the SiLU code");
        Assert.That(silu.Count(float.IsFinite), Is.GreaterThan(n / 2), "mostly finite values were compared");
    }

    [Test]
    public void TheKernelsCarrySiluMathsConstantsAndNoApproximateInstruction()
    {
        float[] constants =
        [
            SiluMath.Log2E, SiluMath.RoundingShift, SiluMath.NegLn2Hi, SiluMath.NegLn2Lo, SiluMath.MinExponent, SiluMath.MaxExponent,
            SiluMath.C2, SiluMath.C3, SiluMath.C4, SiluMath.C5, SiluMath.C6, SiluMath.C7,
        ];
        uint[] documented = [0x3FB8AA3B, 0x4B400000, 0xBF317200, 0xB5BFBE8E, 0xC1F00000, 0x42B20000, 0x3F000000, 0x3E2AAAAB, 0x3D2AAAAB, 0x3C088889, 0x3AB60B61, 0x39500D01];
        Assert.That(Bits(constants), Is.EqualTo(documented), "the C# literals round to the documented bits");
        Assert.That(unchecked((uint)SiluMath.ScaleBias), Is.EqualTo(0xB4C0007Eu));
        // elementwise.ptx: silu_f32, silu_backward_f32, sigmoid_f32 and tanh_f32 each carry the sequence; bias.ptx its SiLU code.
        foreach (var (file, copies) in new[] { ("elementwise.ptx", 4), ("bias.ptx", 1) })
        {
            string code = System.Text.RegularExpressions.Regex.Replace(ShippedKernels.Source(file), "//[^\n]*", "");
            foreach (uint bits in documented)
                Assert.That(System.Text.RegularExpressions.Regex.Matches(code, $"0f{bits:X8}").Count, Is.GreaterThanOrEqualTo(copies), $"{file}: 0f{bits:X8}");
            Assert.That(System.Text.RegularExpressions.Regex.Matches(code, "0xB4C0007E").Count, Is.EqualTo(copies), $"{file}: the 2^(k-1) bias");
            Assert.That(code, Does.Not.Contain(".approx").And.Not.Contain("ex2").And.Not.Contain(".ftz"), $"{file}: only bit-specified instructions");
        }
    }

    /// <summary>Random values in ±12 (both sides of the gradient's zero crossing, past where silu(x) = x), no exact zeros.</summary>
    static HostTensor Spread(TensorShape shape, int seed)
    {
        var rng = new Random(seed);
        var t = new HostTensor(shape);
        for (int i = 0; i < t.Data.Length; i++) t.Data[i] = (float)((rng.NextDouble() * 11.99 + 0.01) * (rng.Next(2) == 0 ? -1 : 1));
        return t;
    }

    [TestCase(new[] { 7 })]
    [TestCase(new[] { 2, 3, 5, 5 })]
    [TestCase(new[] { 1, 64, 33, 35 })] // 73 920 elements: above ParallelElementwise.MinParallelElements
    public void CpuEngineOpsAreWithinTheStatedBoundsOfFloat64(int[] dims)
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = 3 });
        var shape = new TensorShape(dims);
        var x = Spread(shape, 1);
        var dy = Spread(shape, 2);
        using var tx = engine.Upload(x);
        using var tdy = engine.Upload(dy);
        var y = engine.Download(engine.Silu(tx)).Data;
        var dx = engine.Download(engine.SiluBackward(tdy, tx)).Data;
        for (int i = 0; i < y.Length; i++)
        {
            Assert.That(SiluAccuracyTests.ForwardError(x.Data[i], y[i]), Is.Null);
            Assert.That(SiluAccuracyTests.BackwardError(dy.Data[i], x.Data[i], dx[i]), Is.Null);
        }
        // The loop on one thread gives the same bits as the split one.
        Assert.That(Bits(y), Is.EqualTo(Bits(Cpu(ElementwiseOp.Silu, x.Data, x.Data))));
        Assert.That(Bits(dx), Is.EqualTo(Bits(Cpu(ElementwiseOp.SiluBackward, dy.Data, x.Data))));
        // In place, as silu(x, inplace=True); the gradient into dy.
        Assert.That(engine.SiluBackward(tdy, tx, output: tdy), Is.SameAs(tdy));
        Assert.That(Bits(engine.Download(tdy).Data), Is.EqualTo(Bits(dx)));
        Assert.That(engine.Silu(tx, output: tx), Is.SameAs(tx));
        Assert.That(Bits(engine.Download(tx).Data), Is.EqualTo(Bits(y)));
    }

    static readonly ConvSpec ThreeByThree = new([3, 3], padBegin: [1]);

    /// <summary>x, w and a bias of ±5 so that conv + bias spans SiLU's negative dip and its linear end; the float64 silu(conv + bias).</summary>
    static (HostTensor X, HostTensor W, HostTensor B, double[] Expected, ConvProblem Problem) Layer(int seed, HostTensor? skip = null)
    {
        var x = HostTensor.Random(new TensorShape(2, 8, 9, 9), seed);
        var w = HostTensor.Random(new TensorShape(16, 8, 3, 3), seed + 1);
        var b = new HostTensor(new TensorShape(16), [.. Enumerable.Range(0, 16).Select(k => (k % 3 - 1) * 5f + 0.25f * k)]);
        var problem = ConvProblem.Create(ThreeByThree, x.Shape, w.Shape, ConvOp.Forward);
        var y = ReferenceConv.Forward(problem, x.Data, w.Data, b.Data);
        if (skip is not null) for (int i = 0; i < y.Length; i++) y[i] += skip.Data[i];
        ReferenceActivation.Apply(Activation.Silu, y);
        return (x, w, b, y, problem);
    }

    static void AssertClose(float[] got, double[] expected, string what, double tolerance = 1e-4)
    {
        var report = ErrorMetrics.Compare(got, expected);
        Assert.That(report.MaxRelative, Is.LessThan(tolerance), $"{what}: {report}");
        Assert.That(got.Count(v => v is < 0 and > -0.2785f), Is.GreaterThan(got.Length / 20), $"{what}: the negative dip is reached");
        Assert.That(got.Count(v => v > 5), Is.GreaterThan(got.Length / 20), $"{what}: the near-linear end is reached");
    }

    [Test]
    public void ForwardBiasSiluOnTheCpuEngine_HostResidentResidual_MatchTheReference_AndEqualTheOpOnTheConvolution()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var (x, w, b, expected, _) = Layer(1);
        var host = engine.ForwardBiasActivation(ThreeByThree, x, w, b, Activation.Silu).Data;
        AssertClose(host, expected, "host overload");
        // The epilogue is the element-wise op on conv + bias, bit for bit.
        var plain = engine.Forward(ThreeByThree, x, w, b).Data;
        Assert.That(Bits(host), Is.EqualTo(Bits(Cpu(ElementwiseOp.Silu, plain, plain))), "silu(conv + bias)");

        using var tx = engine.Upload(x);
        using var tw = engine.Upload(w);
        using var tb = engine.Upload(b);
        using var y = engine.ForwardBiasActivation(ThreeByThree, tx, tw, tb, Activation.Silu);
        Assert.That(Bits(engine.Download(y).Data), Is.EqualTo(Bits(host)), "resident = host overload");

        // Residual form: silu(skip + conv + bias), the skip in the output tensor.
        var skip = HostTensor.Random(y.Shape, 9);
        var (_, _, _, withSkip, _) = Layer(1, skip);
        using var output = engine.Upload(skip);
        engine.ForwardBiasActivation(ThreeByThree, tx, tw, tb, Activation.Silu, output: output, accumulate: true);
        AssertClose(engine.Download(output).Data, withSkip, "accumulate");
    }

    [Test]
    public void ForwardBiasSiluOnTheReferenceBackend_IsTheFloat64ConvolutionRoundedOnce_ThenSilu()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, Backend = "reference", PersistPlans = false });
        var (x, w, b, expected, problem) = Layer(4);
        var got = engine.ForwardBiasActivation(ThreeByThree, x, w, b, Activation.Silu).Data;
        Assert.That(engine.LastPlan!.Backend, Is.EqualTo("reference"));
        // One rounding of conv + bias (≤ 6e-8 relative, amplified at most |1 + x(1 - s)| ≤ 13 times through silu) and silu's own 2.4e-7.
        AssertClose(got, expected, "reference backend", tolerance: 1e-6);
        var rounded = ReferenceConv.Forward(problem, x.Data, w.Data, b.Data).Select(v => (float)v).ToArray();
        Assert.That(Bits(got), Is.EqualTo(Bits(Cpu(ElementwiseOp.Silu, rounded, rounded))), "silu of the rounded float64 convolution");
    }

    [Test]
    public void ForwardBiasSiluOnTheSimulatedPtxDevice_RunsTheBiasKernelWithTheSiluCode()
    {
        var rt = new SimulatedPtxRuntime();
        using var engine = EngineOnBackends.Open(new PtxConvBackend(rt));
        var (x, w, b, expected, _) = Layer(3);
        using var tx = engine.Upload(x);
        using var tw = engine.Upload(w);
        using var tb = engine.Upload(b);
        using var plain = engine.Forward(ThreeByThree, tx, tw);
        rt.Calls.Clear();
        int waits = rt.Synchronizations, downloads = rt.CopiesToHost;
        using var y = engine.ForwardBiasActivation(ThreeByThree, tx, tw, tb, Activation.Silu);
        Assert.That(rt.Calls.Count(c => c == "launch bias_add_f32"), Is.EqualTo(1), "the bias added once");
        Assert.That(rt.Calls[^1], Is.EqualTo("launch bias_add_f32"), "after the convolution's launches");
        Assert.That(rt.Calls, Has.None.Contains("silu_f32"), "the bias kernel applied SiLU: no separate element-wise launch");
        Assert.That(rt.CopiesToHost, Is.EqualTo(downloads));
        Assert.That(rt.Synchronizations, Is.EqualTo(waits), "queued on the stream: no wait for the device");
        var got = rt.Download(y);
        AssertClose(got, expected, "ptx on the simulated device");
        // Bit for bit the CPU's silu of the device's own conv, plus bias rounded once (the kernel's add.rn).
        var conv = rt.Download(plain);
        var withBias = conv.Select((v, i) => v + b.Data[i / 81 % 16]).ToArray();
        Assert.That(Bits(got), Is.EqualTo(Bits(Cpu(ElementwiseOp.Silu, withBias, withBias))), "silu(conv + bias) as the CPU loop computes it");

        // Residual form on the device: the GEMM adds onto the skip (beta = 1), then the bias kernel: silu(skip + conv + bias).
        var skip = HostTensor.Random(y.Shape, 9);
        var (_, _, _, withSkip, _) = Layer(3, skip);
        using var output = engine.Upload(skip);
        rt.Calls.Clear();
        engine.ForwardBiasActivation(ThreeByThree, tx, tw, tb, Activation.Silu, output: output, accumulate: true);
        Assert.That(rt.Calls.Count(c => c == "launch bias_add_f32"), Is.EqualTo(1), "residual: the bias added once");
        Assert.That(rt.Synchronizations, Is.EqualTo(waits), "residual: no wait for the device");
        AssertClose(rt.Download(output), withSkip, "ptx residual on the simulated device");
    }
}
