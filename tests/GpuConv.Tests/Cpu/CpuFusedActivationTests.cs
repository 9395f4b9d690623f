using System.Runtime.InteropServices;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cpu.Elementwise;
using GpuConv.Cpu.Gemm;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Allocation;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// The CPU backend's fused ForwardBiasActivation (each task applies the activation to the output region it wrote):
/// on every layer of <see cref="CpuConvolutionAllocationTests.Layers"/> (between them every forward algorithm family),
/// every candidate algorithm, both SIMD tiers, constant and per-call weights, with and without accumulate, every
/// activation, the fused result equals bit for bit the unfused one (the backend's run, then the element-wise op over the
/// whole output, as the engine did before) and act(y_old + conv + bias) of the float64 reference within
/// <see cref="Tolerance"/> (max |error| / max |expected|).
/// </summary>
[TestFixture, NonParallelizable]
public class CpuFusedActivationTests
{
    /// <summary>
    /// Against float64, max |error| / max |y_old + conv + bias|: sums of up to 2304 products in fp32, Winograd F(4x4)'s
    /// transforms included (2.2e-5 worst seen before the activation's own 2.4e-7).
    /// </summary>
    const double Tolerance = 3e-5;

    static readonly Activation[] Activations = Enum.GetValues<Activation>();

    static IEnumerable<TestCaseData> Cases()
    {
        foreach (var tier in new[] { GemmTier.Vector512, GemmTier.Vector256 })
            foreach (var layer in CpuConvolutionAllocationTests.Layers)
                yield return new TestCaseData(layer, tier).SetArgDisplayNames(layer.Name, tier.ToString());
    }

    /// <summary>Inputs whose conv + bias spans both sides of ReLU6's 6, SiLU's curve and hardswish's ±3: bias in [-6, 6] on top of the sums.</summary>
    static (HostTensor X, HostTensor W, HostTensor Bias, HostTensor Initial) Operands(ConvProblem p, int seed)
    {
        var x = HostTensor.Random(p.XShape, seed);
        var w = HostTensor.Random(p.WShape, seed + 1);
        var bias = HostTensor.Random(new TensorShape(p.BiasLength), seed + 2);
        for (int i = 0; i < bias.Data.Length; i++) bias.Data[i] *= 6f;
        var initial = HostTensor.Random(p.YShape, seed + 3);
        for (int i = 0; i < initial.Data.Length; i++) initial.Data[i] *= 4f;
        return (x, w, bias, initial);
    }

    internal static double Act(Activation act, double v) => act switch
    {
        Activation.Relu => v < 0 ? 0 : v,
        Activation.Relu6 => v < 0 ? 0 : v > 6 ? 6 : v,
        Activation.Silu => v / (1 + Math.Exp(-v)),
        Activation.Identity => v,
        _ => GpuConv.Reference.ReferenceActivation.Apply(act, v),
    };

    /// <summary>The first element whose bits differ, or -1.</summary>
    internal static int FirstDifference(float[] a, float[] b)
    {
        var ia = MemoryMarshal.Cast<float, int>(a);
        var ib = MemoryMarshal.Cast<float, int>(b);
        for (int i = 0; i < ia.Length; i++)
            if (ia[i] != ib[i]) return i;
        return -1;
    }

    [TestCaseSource(nameof(Cases))]
    public void FusedActivationHasTheBitsOfConvThenElementwise(CpuLayer layer, GemmTier tier)
    {
        if (!GemmTiers.IsSupported(tier)) Assert.Ignore($"skipped: {tier} is not accelerated here (best {GemmTiers.Best})");
        using var backend = new CpuBackend(2, tier);
        IFusedBiasActivation fusing = backend;
        var problem = ConvProblem.Create(layer.Spec, layer.X, layer.W, ConvOp.Forward);
        var (x, w, bias, initial) = Operands(problem, 11);
        if (problem.Op != ConvOp.Forward)
        {
            // A transposed layer is the backward-data of its convolution: the backend declines, the engine applies the activation.
            var algorithm = backend.GetAlgorithms(problem, ConvPrecision.Strict)[0];
            Assert.That(fusing.TryRunBiasActivation(problem, algorithm, new ConvTensors(x, w, initial, bias), Activation.Relu), Is.False);
            return;
        }
        double[] reference = ReferenceConv.Forward(problem, x.Data, w.Data, bias.Data);
        var failures = new List<string>();
        int runs = 0;
        double worst = 0;
        foreach (bool constant in new[] { false, true })
        {
            var p = problem.WithConstantWeights(constant);
            foreach (var algorithm in backend.GetAlgorithms(p, ConvPrecision.Strict))
                foreach (bool accumulate in new[] { false, true })
                    foreach (var act in Activations)
                    {
                        var unfused = new HostTensor(p.YShape);
                        var fused = new HostTensor(p.YShape);
                        if (accumulate)
                        {
                            initial.Data.CopyTo(unfused.Data, 0);
                            initial.Data.CopyTo(fused.Data, 0);
                        }
                        backend.Run(p, algorithm, new ConvTensors(x, w, unfused, bias) { ConstantWeights = constant, Accumulate = accumulate });
                        if (act != Activation.Identity)
                            CpuElementwise.Run(ConvEngine.ActivationOp(act), unfused.Data, default, 0f, unfused.Data);
                        bool took = fusing.TryRunBiasActivation(p, algorithm, new ConvTensors(x, w, fused, bias) { ConstantWeights = constant, Accumulate = accumulate }, act);
                        runs++;
                        string name = $"{algorithm.Name} {(constant ? "constant" : "per-call")} {(accumulate ? "accumulate " : "")}{act}";
                        if (!took) { failures.Add($"{name}: declined"); continue; }
                        int at = FirstDifference(fused.Data, unfused.Data);
                        if (at >= 0)
                            failures.Add($"{name}: element {at} fused {fused.Data[at]:R} (0x{BitConverter.SingleToInt32Bits(fused.Data[at]):X8}) unfused {unfused.Data[at]:R}");
                        var expected = new float[reference.Length];
                        double scale = 0;
                        for (int i = 0; i < expected.Length; i++)
                        {
                            double pre = (accumulate ? initial.Data[i] : 0.0) + reference[i];
                            scale = Math.Max(scale, Math.Abs(pre));
                            expected[i] = (float)Act(act, pre);
                        }
                        double error = Differences.MaxAbs(fused.Data, expected) / scale;
                        worst = Math.Max(worst, error);
                        if (!(error <= Tolerance)) failures.Add($"{name}: {error:E2} from float64 (allowed {Tolerance:E0})");
                    }
        }
        TestContext.Out.WriteLine($"{layer.Name} {tier}: {runs} fused runs, worst {worst:E2} from float64");
        Assert.That(runs, Is.GreaterThan(0));
        Assert.That(failures, Is.Empty);
    }

    /// <summary>
    /// A non-finite weight in a padded layer sends the run to the float64 reference (NonFiniteOperandTests): the fused
    /// activation is applied after it, with the same bits (NaNs included) as the element-wise op.
    /// </summary>
    [Test]
    public void ANonFiniteWeightRunByTheReferenceIsActivatedAfterIt([Values] Activation act)
    {
        using var backend = new CpuBackend(2);
        IFusedBiasActivation fusing = backend;
        var layer = CpuConvolutionAllocationTests.Layers[0];
        var problem = ConvProblem.Create(layer.Spec, layer.X, layer.W, ConvOp.Forward);
        var (x, w, bias, _) = Operands(problem, 5);
        w.Data[3] = float.PositiveInfinity;
        w.Data[700] = float.NegativeInfinity;
        int nonFinite = 0;
        foreach (var algorithm in backend.GetAlgorithms(problem, ConvPrecision.Strict))
        {
            var unfused = new HostTensor(problem.YShape);
            var fused = new HostTensor(problem.YShape);
            backend.Run(problem, algorithm, new ConvTensors(x, w, unfused, bias));
            if (act != Activation.Identity) CpuElementwise.Run(ConvEngine.ActivationOp(act), unfused.Data, default, 0f, unfused.Data);
            Assert.That(fusing.TryRunBiasActivation(problem, algorithm, new ConvTensors(x, w, fused, bias), act), Is.True);
            int at = FirstDifference(fused.Data, unfused.Data);
            Assert.That(at, Is.EqualTo(-1), $"{algorithm.Name} {act}: element {at}");
            nonFinite += fused.Data.Count(v => !float.IsFinite(v));
        }
        if (act is Activation.Identity or Activation.Silu) Assert.That(nonFinite, Is.GreaterThan(0), "the weights' infinities reach the output");
    }

    /// <summary>
    /// Winograd with inputs large enough that its transforms may overflow computes conv + bias without the activation,
    /// redoes a non-finite output directly, then activates: the same bits as the unfused run.
    /// </summary>
    [Test]
    public void WinogradWithOverflowingMagnitudesKeepsTheBits([Values(Activation.Relu, Activation.Relu6, Activation.Silu, Activation.Hardswish, Activation.Sigmoid, Activation.Hardsigmoid,
        Activation.Gelu, Activation.GeluTanh)] Activation act)
    {
        using var backend = new CpuBackend(2);
        IFusedBiasActivation fusing = backend;
        var layer = CpuConvolutionAllocationTests.Layers[0];
        var problem = ConvProblem.Create(layer.Spec, layer.X, layer.W, ConvOp.Forward).WithConstantWeights(true);
        var (x, w, bias, _) = Operands(problem, 7);
        for (int i = 0; i < x.Data.Length; i++) x.Data[i] *= 3e18f;
        for (int i = 0; i < w.Data.Length; i++) w.Data[i] *= 3e18f;
        int ran = 0;
        foreach (var algorithm in backend.GetAlgorithms(problem, ConvPrecision.Strict).Where(a => a.Name.StartsWith("winograd", StringComparison.Ordinal)))
        {
            var unfused = new HostTensor(problem.YShape);
            var fused = new HostTensor(problem.YShape);
            backend.Run(problem, algorithm, new ConvTensors(x, w, unfused, bias) { ConstantWeights = true });
            CpuElementwise.Run(ConvEngine.ActivationOp(act), unfused.Data, default, 0f, unfused.Data);
            Assert.That(fusing.TryRunBiasActivation(problem, algorithm, new ConvTensors(x, w, fused, bias) { ConstantWeights = true }, act), Is.True);
            int at = FirstDifference(fused.Data, unfused.Data);
            Assert.That(at, Is.EqualTo(-1), $"{algorithm.Name} {act}: element {at}");
            ran++;
        }
        if (ran == 0) Assert.Ignore("no Winograd candidate on this machine's tier");
    }
}

/// <summary>
/// BlockTranspose's activation in registers (channel-tiled, Winograd): for each register tile (16 AVX-512, 8 AVX, 0 none)
/// and ragged sizes, act(src + bias) has the bits of the plain transpose followed by the element-wise op.
/// </summary>
[TestFixture]
public unsafe class BlockTransposeActivationTests
{
    [Test]
    public void TheTransposeWithActivationHasTheBitsOfTransposeThenOp([Values(16, 8, 0)] int tile, [Values(Activation.Relu, Activation.Relu6)] Activation act)
    {
        if (tile == 16 && !System.Runtime.Intrinsics.X86.Avx512F.IsSupported) Assert.Ignore("no AVX-512 here");
        if (tile == 8 && !System.Runtime.Intrinsics.X86.Avx.IsSupported) Assert.Ignore("no AVX here");
        var rng = new Random(3);
        foreach (var (pixels, channels) in new[] { (37, 40), (16, 16), (5, 33), (64, 8) })
        {
            int lds = channels + 3, ldy = pixels + 5;
            var src = new float[pixels * lds];
            for (int i = 0; i < src.Length; i++) src[i] = (float)(rng.NextDouble() * 16 - 8);
            src[0] = float.NaN;
            src[1] = -0f;
            var bias = new float[channels];
            for (int i = 0; i < bias.Length; i++) bias[i] = (float)(rng.NextDouble() * 4 - 2);
            bias[1] = -0f;   // -0 + -0 = -0: a -0 sum reaches the activation
            var plain = new float[channels * ldy];
            var fused = new float[channels * ldy];
            fixed (float* ps = src, pb = bias, pp = plain, pf = fused)
            {
                BlockTranspose.ToPlanes(ps, lds, pixels, channels, pp, ldy, pb, tile);
                if (act == Activation.Relu) BlockTranspose.ToPlanes<ReluLanes>(ps, lds, pixels, channels, pf, ldy, pb, tile);
                else BlockTranspose.ToPlanes<Relu6Lanes>(ps, lds, pixels, channels, pf, ldy, pb, tile);
            }
            CpuElementwise.Run(ConvEngine.ActivationOp(act), plain, default, 0f, plain);
            Assert.That(CpuFusedActivationTests.FirstDifference(fused, plain), Is.EqualTo(-1), $"{pixels} pixels × {channels} channels, tile {tile}");
            Assert.That(float.IsNaN(fused[0]) && BitConverter.SingleToInt32Bits(fused[ldy]) == BitConverter.SingleToInt32Bits(-0f), "NaN and -0 stay");
        }
    }
}
