using GpuConv.Conv;
using GpuConv.Inference;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Inference;

/// <summary>
/// BatchNorm folding against conv-then-BatchNorm: the float64 reference convolution (ReferenceConv) with the original
/// weight and bias, then BatchNorm in float64, compared with the reference backend's convolution (float64 inside, one
/// rounding to fp32) with the folded weight and bias, on random non-zero inputs: max |error| / max |expected| &lt; 1e-6
/// (the folded values are fp32-rounded, 2^-24 relative each). Plain, with and without bias, grouped, depthwise,
/// transposed with groups, 1-d and 3-d. And the judge can fail (an unfolded weight is far off); bad input is refused by name.
/// </summary>
public class BatchNormFoldingTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        TestCaseData C(string name, ConvSpec spec, int[] x, int[] w, bool bias) => new TestCaseData(spec, x, w, bias).SetArgDisplayNames(name);
        yield return C("3x3 pad 1 with bias", new ConvSpec([3, 3], padBegin: [1]), [2, 3, 9, 8], [5, 3, 3, 3], true);
        yield return C("7x7/2 pad 3 no bias (ResNet stem)", new ConvSpec([7, 7], stride: [2], padBegin: [3]), [1, 3, 16, 16], [8, 3, 7, 7], false);
        yield return C("1x1 groups 2", new ConvSpec([1, 1], groups: 2), [2, 4, 5, 5], [6, 2, 1, 1], true);
        yield return C("depthwise 3x3 multiplier 2", new ConvSpec([3, 3], padBegin: [1], groups: 4), [1, 4, 7, 6], [8, 1, 3, 3], false);
        yield return C("transposed 3x3/2 groups 2", new ConvSpec([3, 3], stride: [2], padBegin: [1], groups: 2).AsTransposed([1, 1]), [1, 4, 5, 4], [4, 3, 3, 3], true);
        yield return C("1-d k5", new ConvSpec([5], padBegin: [2]), [2, 3, 17], [4, 3, 5], true);
        yield return C("3-d 2x3x2", new ConvSpec([2, 3, 2], padBegin: [1]), [1, 2, 4, 5, 4], [3, 2, 2, 3, 2], false);
    }

    static BatchNormParameters RandomBatchNorm(int channels, int seed)
    {
        var rng = new Random(seed);
        float U(double lo, double hi) => (float)(lo + rng.NextDouble() * (hi - lo));
        return new BatchNormParameters(
            [.. Enumerable.Range(0, channels).Select(_ => U(0.5, 1.5) * (rng.Next(2) == 0 ? -1 : 1))],
            [.. Enumerable.Range(0, channels).Select(_ => U(-0.5, 0.5))],
            [.. Enumerable.Range(0, channels).Select(_ => U(-0.3, 0.3))],
            [.. Enumerable.Range(0, channels).Select(_ => U(0.2, 2.0))],
            Eps: 1e-5);
    }

    /// <summary>conv (float64 reference, original weight and bias) then BatchNorm in float64.</summary>
    static double[] ConvThenBatchNorm(ConvProblem p, HostTensor x, HostTensor w, HostTensor? bias, BatchNormParameters bn)
    {
        ReadOnlySpan<float> b = bias is null ? default : bias.Data;
        var y = p.Op == ConvOp.BackwardData ? ReferenceConv.BackwardData(p, x.Data, w.Data, b) : ReferenceConv.Forward(p, x.Data, w.Data, b);
        var shape = p.OutputShape;
        int plane = shape.ElementCountInt / (shape.Dims[0] * shape.Dims[1]);
        for (int i = 0; i < y.Length; i++) y[i] = bn.Apply(i / plane % shape.Dims[1], y[i]);
        return y;
    }

    [TestCaseSource(nameof(Cases))]
    public void FoldedConvolutionMatchesConvThenBatchNorm(ConvSpec spec, int[] xDims, int[] wDims, bool withBias)
    {
        var x = HostTensor.Random(new TensorShape(xDims), 1);
        var w = HostTensor.Random(new TensorShape(wDims), 2);
        var p = ConvProblem.Create(spec, x.Shape, w.Shape, ConvOp.Forward);
        int k = p.OutputShape.Dims[1];
        var bias = withBias ? HostTensor.Random(new TensorShape(k), 3) : null;
        var bn = RandomBatchNorm(k, 4);
        var wBefore = w.Data.ToArray();

        var (fw, fb) = BatchNormFolding.Fold(spec, w, bias, bn);
        Assert.That(w.Data, Is.EqualTo(wBefore), "the input weight is not changed");
        Assert.That(fw.Shape, Is.EqualTo(w.Shape));
        Assert.That(fb.Shape, Is.EqualTo(new TensorShape(k)));

        using var reference = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, Backend = "reference", PersistPlans = false });
        var got = reference.Forward(spec, x, fw, fb).Data;
        var expected = ConvThenBatchNorm(p, x, w, bias, bn);
        double err = ErrorMetrics.Compare(got, expected).MaxRelative;
        TestContext.Out.WriteLine($"max rel error {err:E2}");
        Assert.That(err, Is.LessThan(1e-6));

        // The judge can fail: the unfolded convolution is far from conv-then-BN.
        var unfolded = reference.Forward(spec, x, w, bias ?? new HostTensor(new TensorShape(k))).Data;
        Assert.That(ErrorMetrics.Compare(unfolded, expected).MaxRelative, Is.GreaterThan(1e-2));
    }

    /// <summary>PyTorch accepts eps = 0 (exported models carry it): with every running variance above 0 it folds like any eps.</summary>
    [Test]
    public void EpsZeroFoldsWhenEveryVarianceIsPositive()
    {
        var spec = new ConvSpec([3, 3], padBegin: [1]);
        var x = HostTensor.Random(new TensorShape(1, 3, 6, 6), 1);
        var w = HostTensor.Random(new TensorShape(4, 3, 3, 3), 2);
        var bn = RandomBatchNorm(4, 3) with { Eps = 0 };
        var (fw, fb) = BatchNormFolding.Fold(spec, w, null, bn);
        using var reference = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, Backend = "reference", PersistPlans = false });
        var expected = ConvThenBatchNorm(ConvProblem.Create(spec, x.Shape, w.Shape), x, w, null, bn);
        Assert.That(ErrorMetrics.Compare(reference.Forward(spec, x, fw, fb).Data, expected).MaxRelative, Is.LessThan(1e-6));
    }

    [Test]
    public void BadInputIsRefusedByName()
    {
        var spec = new ConvSpec([3, 3], groups: 2);
        var w = HostTensor.Random(new TensorShape(4, 2, 3, 3), 1);
        var bn = RandomBatchNorm(4, 1);
        ExpectArgument.Throws(() => BatchNormFolding.Fold(spec, w, null, RandomBatchNorm(3, 1)), "batchNorm", "3 channels", "4 output channels");
        ExpectArgument.Throws(() => BatchNormFolding.Fold(spec, w, HostTensor.Random(new TensorShape(5), 1), bn), "bias", "[5]", "4 output channels");
        ExpectArgument.Throws(() => BatchNormFolding.Fold(spec, HostTensor.Random(new TensorShape(4, 2, 3), 1), null, bn), "weight", "2 spatial dimensions");
        ExpectArgument.Throws(() => BatchNormFolding.Fold(spec, HostTensor.Random(new TensorShape(4, 2, 3, 2), 1), null, bn), "weight", "kernel is [3, 3]");
        ExpectArgument.Throws(() => BatchNormFolding.Fold(spec, HostTensor.Random(new TensorShape(3, 2, 3, 3), 1), null, RandomBatchNorm(3, 1)), "weight", "not divisible by groups = 2");
        ExpectArgument.Throws(() => BatchNormFolding.Fold(spec, w, null, bn with { RunningVar = [1, -1, 1, 1] }), "RunningVar", "RunningVar[1] = -1 is negative");
        ExpectArgument.Throws(() => BatchNormFolding.Fold(spec, w, null, bn with { Beta = [1, 2] }), "Beta", "Beta has 2 values but Gamma has 4");
        ExpectArgument.Throws(() => BatchNormFolding.Fold(spec, w, null, bn with { Gamma = [1, float.NaN, 1, 1] }), "Gamma", "Gamma[1] = NaN is not finite");
        ExpectArgument.Throws(() => BatchNormFolding.Fold(spec, w, null, bn with { Eps = -1e-5 }), "Eps", "at least 0", "-1E-05");
        ExpectArgument.Throws(() => BatchNormFolding.Fold(spec, w, null, bn with { Eps = double.NaN }), "Eps", "NaN");
        ExpectArgument.Throws(() => BatchNormFolding.Fold(spec, w, null, bn with { Eps = 0, RunningVar = [1, 1, 0, 1] }), "RunningVar", "RunningVar[2] = 0 with Eps = 0");
        ExpectArgument.Throws(() => BatchNormFolding.Fold(spec, w, null, bn with { RunningMean = null! }), "RunningMean", "null");
        // Transposed: output channels are weight.Dims[1] · groups.
        var t = new ConvSpec([3, 3], stride: [2], groups: 2).AsTransposed();
        Assert.That(BatchNormFolding.Fold(t, HostTensor.Random(new TensorShape(4, 3, 3, 3), 1), null, RandomBatchNorm(6, 1)).Bias.Shape, Is.EqualTo(new TensorShape(6)));
        ExpectArgument.Throws(() => BatchNormFolding.Fold(t, HostTensor.Random(new TensorShape(4, 3, 3, 3), 1), null, bn), "batchNorm", "6 output channels", "transposed");
    }
}
