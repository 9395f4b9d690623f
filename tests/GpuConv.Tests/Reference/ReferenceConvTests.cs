using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Reference;

/// <summary>Hand-computed values of the reference, and its spot-check and dispatch helpers.</summary>
public class ReferenceConvTests
{
    static ConvProblem Problem(ConvSpec spec, int[] input, int[] filter) =>
        ConvProblem.Create(spec, new TensorShape(input), new TensorShape(filter));

    [Test]
    public void Forward2dHandComputed()
    {
        // x = 1..9 (3x3), w = [[1, 2], [3, 4]]: y00 = 1·1 + 2·2 + 4·3 + 5·4 = 37, and so on.
        var p = Problem(new ConvSpec([2, 2]), [1, 1, 3, 3], [1, 1, 2, 2]);
        var y = ReferenceConv.Forward(p, [1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4]);
        Assert.That(y, Is.EqualTo(new double[] { 37, 47, 67, 77 }));
    }

    [Test]
    public void Forward3dHandComputedWithDifferentStrideDilationPaddingPerDimension()
    {
        var p = HandComputed3d.Problem;
        Assert.That(p.YShape, Is.EqualTo(new TensorShape(1, 1, 2, 4, 3)));
        Assert.That(ReferenceConv.Forward(p, HandComputed3d.X(), HandComputed3d.W), Is.EqualTo(HandComputed3d.Y));
    }

    [Test]
    public void Forward3dHandComputedSpotChecks()
    {
        var p = HandComputed3d.Problem;
        var expected = HandComputed3d.Y;
        for (long i = 0; i < expected.Length; i++)
            Assert.That(ReferenceConv.ForwardAt(p, HandComputed3d.X(), HandComputed3d.W, default, i), Is.EqualTo(expected[i]), $"y[{i}]");
    }

    [Test]
    public void BackwardData3dOfOneHotGradientsHitsTheHandComputedPositions()
    {
        // dy = 1 at one output: dx holds w[first tap] = 1000 where the first tap reads, 1 where the last reads.
        var p = HandComputed3d.Problem;
        int o = 0;
        foreach (var (od, oh, ow) in HandComputed3d.Outputs())
        {
            var dy = new float[24];
            dy[o++] = 1;
            var expected = new double[4 * 5 * 7];
            if (HandComputed3d.InputOf(od, oh, ow, 0, 0, 0) is { } first) expected[HandComputed3d.Flat(first)] += 1000;
            if (HandComputed3d.InputOf(od, oh, ow, 1, 1, 1) is { } last) expected[HandComputed3d.Flat(last)] += 1;
            Assert.That(ReferenceConv.BackwardData(p, dy, HandComputed3d.W), Is.EqualTo(expected), $"output ({od}, {oh}, {ow})");
        }
    }

    [Test]
    public void BackwardFilter3dOfOneHotGradientsReadsTheHandComputedInputs()
    {
        // dy = 1 at one output: dw[t] = x at the position tap t reads (every tap, mixed ones included), 0 in padding.
        var p = HandComputed3d.Problem;
        var x = HandComputed3d.X();
        int o = 0;
        foreach (var (od, oh, ow) in HandComputed3d.Outputs())
        {
            var dy = new float[24];
            dy[o++] = 1;
            var expected = new double[8];
            for (int td = 0; td < 2; td++)
                for (int th = 0; th < 2; th++)
                    for (int tw = 0; tw < 2; tw++)
                        if (HandComputed3d.InputOf(od, oh, ow, td, th, tw) is { } i)
                            expected[(td * 2 + th) * 2 + tw] = 100 * (i.D + 1) + 10 * (i.H + 1) + (i.W + 1);
            Assert.That(ReferenceConv.BackwardFilter(p, x, dy), Is.EqualTo(expected), $"output ({od}, {oh}, {ow})");
        }
    }

    [Test]
    public void Forward2dHandComputedWithBiasAndTwoFilters()
    {
        var p = Problem(new ConvSpec([2, 2]), [1, 1, 3, 3], [2, 1, 2, 2]);
        var y = ReferenceConv.Forward(p, [1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 0, 0, -1], [0.5f, -2]);
        Assert.That(y, Is.EqualTo(new double[] { 37.5, 47.5, 67.5, 77.5, -7, -8, -10, -11 }));
    }

    [Test]
    public void Forward1dStride2Pad1HandComputed()
    {
        // Padded x = [0, 1, 2, 3, 4, 5, 0], w = [1, 0, -1], windows start at 0, 2, 4.
        var p = Problem(new ConvSpec([3], stride: [2], padBegin: [1]), [1, 1, 5], [1, 1, 3]);
        Assert.That(ReferenceConv.Forward(p, [1, 2, 3, 4, 5], [1, 0, -1]), Is.EqualTo(new double[] { -2, -2, 4 }));
    }

    [Test]
    public void Forward1dDilatedHandComputed()
    {
        // Dilation 3: taps 0 and 3 → y = [x0 + x3, x1 + x4].
        var p = Problem(new ConvSpec([2], dilation: [3]), [1, 1, 5], [1, 1, 2]);
        Assert.That(ReferenceConv.Forward(p, [1, 2, 3, 4, 5], [1, 1]), Is.EqualTo(new double[] { 5, 7 }));
    }

    [Test]
    public void Forward1dAsymmetricPaddingHandComputed()
    {
        // Pad (0, 2): x = [1, 2, 3, 0, 0], w = [1, 10] → [21, 32, 3, 0].
        var p = Problem(new ConvSpec([2], padBegin: [0], padEnd: [2]), [1, 1, 3], [1, 1, 2]);
        Assert.That(ReferenceConv.Forward(p, [1, 2, 3], [1, 10]), Is.EqualTo(new double[] { 21, 32, 3, 0 }));
    }

    [Test]
    public void ForwardGroupedHandComputed()
    {
        // Two groups: output channel 0 sees only input channel 0, output channel 1 only input channel 1.
        var p = Problem(new ConvSpec([2], groups: 2), [1, 2, 3], [2, 1, 2]);
        var y = ReferenceConv.Forward(p, [1, 2, 3, 4, 5, 6], [1, 1, 1, -1]);
        Assert.That(y, Is.EqualTo(new double[] { 3, 5, -1, -1 }));
    }

    [Test]
    public void ForwardDepthwise3dHandComputed()
    {
        // 1x1x1 kernels per channel: a per-channel scale.
        var p = Problem(new ConvSpec([1, 1, 1], groups: 2), [1, 2, 1, 1, 2], [2, 1, 1, 1, 1]);
        Assert.That(ReferenceConv.Forward(p, [1, 2, 3, 4], [10, -1]), Is.EqualTo(new double[] { 10, 20, -3, -4 }));
    }

    [Test]
    public void BackwardDataHandComputedTransposedConv()
    {
        // ConvTranspose1d stride 2: x = [1, 2], w = [1, 2, 3] → [1, 2, 3 + 2, 4, 6].
        var p = Problem(new ConvSpec([3], stride: [2], transposed: true), [1, 1, 2], [1, 1, 3]);
        Assert.That(p.XShape, Is.EqualTo(new TensorShape(1, 1, 5)));
        Assert.That(ReferenceConv.BackwardData(p, [1, 2], [1, 2, 3]), Is.EqualTo(new double[] { 1, 2, 5, 4, 6 }));
    }

    [Test]
    public void BackwardFilterHandComputed()
    {
        // dw[t] = Σ_o x[o + t] · dy[o], summed over both images.
        var p = Problem(new ConvSpec([2]), [2, 1, 3], [1, 1, 2]);
        var dw = ReferenceConv.BackwardFilter(p, [1, 2, 3, 1, 0, -1], [1, 1, 2, 0]);
        Assert.That(dw, Is.EqualTo(new double[] { 3 + 2, 5 + 0 }));
    }

    [Test]
    public void BiasGradientHandComputed()
    {
        var db = ReferenceConv.BiasGradient(new TensorShape(2, 2, 2), [1, 2, 3, 4, 5, 6, 7, 8]);
        Assert.That(db, Is.EqualTo(new double[] { 1 + 2 + 5 + 6, 3 + 4 + 7 + 8 }));
    }

    public static IEnumerable<TestCaseData> Cases() =>
        ConvCases.All().Select(c => new TestCaseData(c).SetArgDisplayNames(c.Name));

    [TestCaseSource(nameof(Cases))]
    public void ForwardAtEqualsForward(ConvCase c)
    {
        var p = c.Problem;
        var x = HostTensor.Random(p.XShape, 51).Data;
        var w = HostTensor.Random(p.WShape, 52).Data;
        var b = HostTensor.Random(new TensorShape(p.K), 53).Data;
        var y = ReferenceConv.Forward(p, x, w, b);
        var rng = new Random(54);
        // Every element of small outputs, 64 random ones of larger outputs, always the first and last.
        IEnumerable<long> indices = y.Length <= 64
            ? Enumerable.Range(0, y.Length).Select(i => (long)i)
            : Enumerable.Range(0, 62).Select(_ => rng.NextInt64(y.Length)).Append(0).Append(y.Length - 1);
        foreach (long i in indices)
            Assert.That(ReferenceConv.ForwardAt(p, x, w, b, i), Is.EqualTo(y[i]).Within(1e-12 * (1 + Math.Abs(y[i]))), $"y[{i}]");
    }

    [Test]
    public void RunDispatchesOnTheProblemsOp()
    {
        var c = ConvCases.Named().First();
        var p = c.Problem;
        var x = HostTensor.Random(p.XShape, 1).Data;
        var w = HostTensor.Random(p.WShape, 2).Data;
        var y = HostTensor.Random(p.YShape, 3).Data;
        var b = HostTensor.Random(new TensorShape(p.K), 4).Data;
        var bx = HostTensor.Random(new TensorShape(p.C), 5).Data;
        Assert.Multiple(() =>
        {
            Assert.That(ReferenceConv.Run(p, x, w, y, b), Is.EqualTo(ReferenceConv.Forward(p, x, w, b)));
            Assert.That(ReferenceConv.Run(p.WithOp(ConvOp.BackwardData), x, w, y, bx), Is.EqualTo(ReferenceConv.BackwardData(p, y, w, bx)));
            Assert.That(ReferenceConv.Run(p.WithOp(ConvOp.BackwardFilter), x, w, y), Is.EqualTo(ReferenceConv.BackwardFilter(p, x, y)));
        });
    }

    [Test]
    public void BatchImagesAreIndependent()
    {
        // The forward of a batch equals the forwards of its images, stacked.
        var c = ConvCases.Named().First(k => k.Name.StartsWith("2d stride(2,1)", StringComparison.Ordinal));
        var p = c.Problem;
        Assert.That(p.N, Is.EqualTo(2));
        var x = HostTensor.Random(p.XShape, 61).Data;
        var w = HostTensor.Random(p.WShape, 62).Data;
        var y = ReferenceConv.Forward(p, x, w);
        var single = p.WithBatch(1);
        long xs = single.XShape.ElementCount, ys = single.YShape.ElementCount;
        for (int n = 0; n < 2; n++)
        {
            var yn = ReferenceConv.Forward(single, x.AsSpan((int)(n * xs), (int)xs), w);
            Assert.That(y.AsSpan((int)(n * ys), (int)ys).ToArray(), Is.EqualTo(yn), $"image {n}");
        }
    }

    [TestCase(-1L)]
    [TestCase(24L)]
    public void ForwardAtRejectsAnIndexOutsideTheOutput(long index)
    {
        var p = Problem(new ConvSpec([3]), [2, 2, 8], [2, 2, 3]); // Y is [2, 2, 6]: 24 elements
        var x = new float[p.XShape.ElementCount];
        var w = new float[p.WShape.ElementCount];
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ReferenceConv.ForwardAt(p, x, w, default, index))!;
        Assert.That(ex.ParamName, Is.EqualTo("yIndex"));
        Assert.That(ex.Message, Does.Contain("[0, 24)"));
    }

    [Test]
    public void ForwardAtRejectsWrongLengths()
    {
        var p = Problem(new ConvSpec([3]), [1, 2, 8], [2, 2, 3]);
        var x = new float[p.XShape.ElementCount];
        var w = new float[p.WShape.ElementCount];
        Support.ExpectArgument.Throws(() => ReferenceConv.ForwardAt(p, x.AsSpan(1), w, default, 0), "x", "x has 15 elements");
        Support.ExpectArgument.Throws(() => ReferenceConv.ForwardAt(p, x, w, new float[3], 0), "bias", "bias has 3 elements", "2 channels");
    }
}
