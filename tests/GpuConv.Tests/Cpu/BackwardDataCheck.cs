using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// What the tests of the CPU backend's backward-data algorithms (forward-phases, gemm-shuffle,
/// weight-stream) share: one named algorithm run against ReferenceConv.BackwardData in float64 on random
/// non-zero inputs, into a dx filled with NaN (an element left unwritten fails), twice (the second run
/// takes what the first cached for constant weights). fp32 max relative error bound: 1e-5 (sums of at
/// most a few thousand products).
/// </summary>
static class BackwardDataCheck
{
    public const double Tolerance = 1e-5;

    /// <summary>The CPU backend's candidate named <paramref name="name"/> for <paramref name="p"/>, or null where it is not offered.</summary>
    public static ConvAlgorithm? Offered(CpuBackend cpu, ConvProblem p, string name) =>
        cpu.GetAlgorithms(p, ConvPrecision.Strict).FirstOrDefault(a => a.Name == name);

    /// <summary>The worst max relative error of two runs of algorithm <paramref name="name"/> on <paramref name="p"/>.</summary>
    public static double WorstError(CpuBackend cpu, ConvProblem p, string name, int seed, bool bias, bool constant)
    {
        var algo = Offered(cpu, p, name) ?? throw new AssertionException($"{name} not offered for {p}");
        var dy = HostTensor.Random(p.YShape, seed);
        var w = HostTensor.Random(p.WShape, seed + 1);
        var b = bias ? HostTensor.Random(new TensorShape(p.C), seed + 2) : null;
        double[] expected = ReferenceConv.BackwardData(p, dy.Data, w.Data, b is null ? default : b.Data);
        double worst = 0;
        for (int run = 0; run < 2; run++)
        {
            var dx = new HostTensor(p.XShape);
            Array.Fill(dx.Data, float.NaN);
            cpu.Run(p, algo, new ConvTensors(dx, w, dy, b) { ConstantWeights = constant });
            worst = Math.Max(worst, ErrorMetrics.Compare(dx.Data, expected).MaxRelative is var e && double.IsFinite(e) ? e : double.PositiveInfinity);
        }
        return worst;
    }

    /// <summary>A transposed convolution (ConvTranspose from <paramref name="cin"/> channels) as its backward-data problem.</summary>
    public static ConvProblem Transposed(int[] kernel, int[] stride, int[] padBegin, int[] padEnd, int[] outputPadding, int[]? dilation,
        int groups, int n, int cin, int coutPerGroup, int[] input) =>
        ConvProblem.Create(new ConvSpec(kernel, stride, dilation, padBegin, padEnd, groups, transposed: true, outputPadding),
            new TensorShape([n, cin, .. input]), new TensorShape([cin, coutPerGroup, .. kernel]));

    /// <summary>
    /// A constant W changed in place: algorithm <paramref name="name"/> keeps using what it prepared from the
    /// old values (<paramref name="prepared"/>, documented) until ForgetPreparedWeights, then uses the new ones.
    /// </summary>
    public static void AssertChangedConstantWeightsNeedForget(CpuBackend cpu, ConvProblem p, string name, string prepared)
    {
        var algo = Offered(cpu, p, name) ?? throw new AssertionException($"{name} not offered for {p}");
        var dy = HostTensor.Random(p.YShape, 1);
        var w = HostTensor.Random(p.WShape, 2);
        var dx = new HostTensor(p.XShape);
        var tensors = new ConvTensors(dx, w, dy) { ConstantWeights = true };
        cpu.Run(p, algo, tensors);
        Assert.That(ErrorMetrics.Compare(dx.Data, ReferenceConv.BackwardData(p, dy.Data, w.Data)).MaxRelative, Is.LessThan(Tolerance));
        for (int i = 0; i < w.Data.Length; i++) w.Data[i] = -2 * w.Data[i] + 0.25f;
        var expected = ReferenceConv.BackwardData(p, dy.Data, w.Data);
        cpu.Run(p, algo, tensors);
        Assert.That(ErrorMetrics.Compare(dx.Data, expected).MaxRelative, Is.GreaterThan(0.1), $"without Forget {prepared} are used (documented)");
        Assert.That(cpu.ForgetPreparedWeights(w), Is.True);
        cpu.Run(p, algo, tensors);
        Assert.That(ErrorMetrics.Compare(dx.Data, expected).MaxRelative, Is.LessThan(Tolerance));
    }
}
