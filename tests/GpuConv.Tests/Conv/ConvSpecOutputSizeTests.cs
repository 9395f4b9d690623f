using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Conv;

/// <summary>
/// Output-size rules against hand-worked cases. Convolution: floor((in + pb + pe - d·(k-1) - 1) / s) + 1.
/// Transposed: (in - 1)·s - pb - pe + d·(k-1) + 1 + output_padding.
/// </summary>
public class ConvSpecOutputSizeTests
{
    // A dimension index past the spec's rank was an IndexOutOfRangeException that named nothing.
    [TestCase(-1)]
    [TestCase(1)]
    public void DimensionOutsideTheRankIsRejected(int d)
    {
        var spec = new ConvSpec([3]);
        foreach (var call in new Action[] { () => spec.ConvOutputSize(d, 5), () => spec.TransposedOutputSize(d, 5), () => spec.DilatedKernel(d) })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => call())!;
            Assert.That(e.ParamName, Is.EqualTo("d"));
            Assert.That(e.Message, Does.Contain("rank 1"));
        }
    }

    // A null input size was a NullReferenceException.
    [Test]
    public void NullInputSpatialIsRejected() =>
        Assert.That(Assert.Throws<ArgumentNullException>(() => new ConvSpec([3]).OutputSpatial(null!))!.ParamName, Is.EqualTo("inputSpatial"));

    [TestCase(4, 3, 0, 1, 2)]   // 4x4 input, 3x3 kernel -> 2x2
    [TestCase(5, 3, 2, 2, 4)]   // 5x5 input, pad 2, stride 2, 3x3 kernel -> floor((5+4-3)/2)+1 = 4
    [TestCase(32, 5, 2, 1, 32)] // 32x32 RGB, 5x5 kernel, pad 2 -> 32x32
    [TestCase(5, 3, 1, 2, 3)]   // 5x5, pad 1, stride 2 -> floor(4/2)+1 = 3
    [TestCase(224, 7, 3, 2, 112)] // ResNet stem
    [TestCase(112, 3, 1, 2, 56)]
    [TestCase(227, 11, 0, 4, 55)] // AlexNet conv1
    [TestCase(3, 3, 0, 1, 1)]   // kernel covers the whole input
    public void ClassicExamples(int input, int kernel, int pad, int stride, int expected)
    {
        var spec = new ConvSpec([kernel, kernel], stride: [stride], padBegin: [pad]);
        Assert.That(spec.OutputSpatial([input, input]), Is.EqualTo(new[] { expected, expected }));
    }

    [TestCase(7, 3, 2, 0, 3)]    // dilated extent 5: 7 - 5 + 1
    [TestCase(10, 3, 3, 3, 10)]  // extent 7, pad 3 each side keeps the size
    [TestCase(9, 2, 4, 0, 5)]    // extent 5
    [TestCase(5, 3, 2, 0, 1)]    // extent 5 = input
    public void Dilation(int input, int kernel, int dilation, int pad, int expected)
    {
        var spec = new ConvSpec([kernel], dilation: [dilation], padBegin: [pad]);
        Assert.That(spec.DilatedKernel(0), Is.EqualTo(dilation * (kernel - 1) + 1));
        Assert.That(spec.OutputSpatial([input]), Is.EqualTo(new[] { expected }));
    }

    [TestCase(5, 3, 1, 0, 1, 4)]  // pads (1, 0): 5 + 1 - 3 + 1
    [TestCase(5, 3, 0, 2, 2, 3)]  // pads (0, 2), stride 2: floor(4/2) + 1
    [TestCase(6, 4, 2, 1, 3, 2)]  // pads (2, 1), stride 3: floor(5/3) + 1
    [TestCase(4, 2, 0, 1, 1, 4)]  // TF-style SAME for an even kernel
    public void AsymmetricPadding(int input, int kernel, int padBegin, int padEnd, int stride, int expected)
    {
        var spec = new ConvSpec([kernel], stride: [stride], padBegin: [padBegin], padEnd: [padEnd]);
        Assert.That(spec.OutputSpatial([input]), Is.EqualTo(new[] { expected }));
        Assert.That(spec.IsSymmetricPadding, Is.EqualTo(padBegin == padEnd));
    }

    [TestCase(7, 3, 2, 3)]  // floor(4/2) + 1
    [TestCase(8, 3, 2, 3)]  // floor(5/2) + 1: the last input column is never read
    [TestCase(6, 1, 3, 2)]  // floor(5/3) + 1
    [TestCase(10, 2, 5, 2)]
    [TestCase(2, 2, 7, 1)]  // stride larger than the input
    public void StrideRoundsDown(int input, int kernel, int stride, int expected)
    {
        var spec = new ConvSpec([kernel], stride: [stride]);
        Assert.That(spec.ConvOutputSize(0, input), Is.EqualTo(expected));
    }

    [TestCase(2, 5, -2)]
    [TestCase(4, 5, 0)]
    public void ConvOutputSizeReportsImpossibleGeometryAsBelowOne(int input, int kernel, int expected)
    {
        // The raw rule may go below 1 (floor towards -inf); OutputSpatial turns that into an error.
        Assert.That(new ConvSpec([kernel]).ConvOutputSize(0, input), Is.EqualTo(expected));
    }

    // Stride > 1 with a negative numerator (in + pb + pe - extent < 0): floor rounds towards -infinity,
    // truncation would round towards 0 and turn an impossible geometry into a valid output of size 1.
    [TestCase(2, 3, 2, 0, 0, 0)]    // floor(-1/2) + 1 = -1 + 1 = 0   (truncation: 0 + 1 = 1)
    [TestCase(2, 4, 3, 0, 0, 0)]    // floor(-2/3) + 1 = 0            (truncation: 1)
    [TestCase(3, 8, 2, 0, 0, -2)]   // floor(-5/2) + 1 = -3 + 1 = -2  (truncation: -1)
    [TestCase(1, 5, 3, 1, 0, 0)]    // floor((1 + 1 - 5)/3) + 1 = floor(-1) + 1 = 0
    [TestCase(1, 6, 4, 1, 1, 0)]    // floor(-3/4) + 1 = 0            (truncation: 1)
    [TestCase(4, 9, 2, 0, 2, -1)]   // floor(-3/2) + 1 = -2 + 1 = -1  (truncation: 0)
    public void StrideRoundsDownBelowZero(int input, int kernel, int stride, int padBegin, int padEnd, int expected)
    {
        var spec = new ConvSpec([kernel], stride: [stride], padBegin: [padBegin], padEnd: [padEnd]);
        Assert.That(spec.ConvOutputSize(0, input), Is.EqualTo(expected));
        Assert.Throws<ArgumentException>(() => spec.OutputSpatial([input]), "an output size below 1 is an error, not a 1-wide output");
    }

    [Test]
    public void NegativeNumeratorInOneDimensionOfA3dProblemIsRejected()
    {
        // Depth: floor((2 - 3)/2) + 1 = 0 (truncation would give 1); the other dimensions are valid.
        var spec = new ConvSpec([3, 1, 1], stride: [2, 2, 2]);
        Assert.That(Enumerable.Range(0, 3).Select(d => spec.ConvOutputSize(d, 2)), Is.EqualTo(new[] { 0, 1, 1 }));
        Assert.Throws<ArgumentException>(() => ConvProblem.Create(spec, new TensorShape(1, 1, 2, 2, 2), new TensorShape(1, 1, 3, 1, 1)));
    }

    // PyTorch padding='same' (stride 1): total = d·(k-1), begin = total/2, the odd one at the end.
    [TestCase(3, 1, 1, 1)]
    [TestCase(4, 1, 1, 2)]
    [TestCase(5, 1, 2, 2)]
    [TestCase(3, 2, 2, 2)]
    [TestCase(4, 3, 4, 5)]
    [TestCase(1, 4, 0, 0)]
    [TestCase(2, 1, 0, 1)]
    public void PyTorchSame(int kernel, int dilation, int padBegin, int padEnd)
    {
        var spec = ConvSpec.Same([kernel], dilation: [dilation]);
        Assert.That(spec.PadBegin[0], Is.EqualTo(padBegin));
        Assert.That(spec.PadEnd[0], Is.EqualTo(padEnd));
        foreach (int input in new[] { 1, 2, 7, 16, 33 })
            Assert.That(spec.OutputSpatial([input]), Is.EqualTo(new[] { input }), $"input {input}");
    }

    /// <summary>
    /// Same, Valid and the constructor take (kernel, stride, dilation, groups) in one order, PyTorch's: positional
    /// arguments mean the same thing in all three (Same once took dilation second).
    /// </summary>
    [Test]
    public void SameValidAndTheConstructorTakeTheirParametersInOneOrder()
    {
        var same = ConvSpec.Same([3, 3], [1, 1], [2, 3], 2);
        var valid = ConvSpec.Valid([3, 3], [1, 1], [2, 3], 2);
        var built = new ConvSpec([3, 3], [1, 1], [2, 3], null, null, 2);
        Assert.Multiple(() =>
        {
            foreach (var spec in new[] { same, valid, built })
            {
                Assert.That(spec.Stride, Is.EqualTo(new[] { 1, 1 }));
                Assert.That(spec.Dilation, Is.EqualTo(new[] { 2, 3 }));
                Assert.That(spec.Groups, Is.EqualTo(2));
            }
            Assert.That(same.PadBegin, Is.EqualTo(new[] { 2, 3 }));
            Assert.That(same.PadEnd, Is.EqualTo(new[] { 2, 3 }));
        });
        // A second positional list is the stride, so a stride-2 'same' is refused rather than read as a dilation.
        ExpectArgument.Throws(() => ConvSpec.Same([3, 3], [2, 2]), "stride", "requires stride 1");
    }

    [Test]
    public void PyTorchSameIn3dPerDimension()
    {
        var spec = ConvSpec.Same([3, 4, 2], dilation: [1, 2, 3], groups: 2);
        Assert.Multiple(() =>
        {
            Assert.That(spec.PadBegin, Is.EqualTo(new[] { 1, 3, 1 }));
            Assert.That(spec.PadEnd, Is.EqualTo(new[] { 1, 3, 2 }));
            Assert.That(spec.Groups, Is.EqualTo(2));
            Assert.That(spec.OutputSpatial([5, 6, 7]), Is.EqualTo(new[] { 5, 6, 7 }));
        });
    }

    [TestCase(new[] { 3 }, new[] { 2 }, 1)]
    [TestCase(new[] { 5, 3 }, new[] { 1, 1 }, 2)]
    public void PyTorchValidHasNoPadding(int[] kernel, int[] stride, int groups)
    {
        var spec = ConvSpec.Valid(kernel, stride, groups: groups);
        Assert.That(spec.IsUnpadded, Is.True);
        Assert.That(spec.OutputSpatial(Enumerable.Repeat(9, kernel.Length).ToArray()),
            Is.EqualTo(kernel.Select((k, d) => (9 - k) / stride[d] + 1).ToArray()));
    }

    // ONNX auto_pad: out = ceil(in / s), total = max(0, (out-1)·s + d·(k-1) + 1 - in);
    // SAME_UPPER puts the odd one at the end, SAME_LOWER at the beginning.
    [TestCase(5, 3, 2, 1, 1, 1)]
    [TestCase(6, 3, 2, 1, 0, 1)]
    [TestCase(7, 4, 3, 1, 1, 2)]
    [TestCase(10, 3, 2, 2, 1, 2)]
    [TestCase(4, 5, 1, 1, 2, 2)]
    [TestCase(9, 1, 3, 1, 0, 0)]
    [TestCase(3, 2, 4, 1, 0, 0)]  // total would be negative: clamped to 0
    public void OnnxSameUpperAndLower(int input, int kernel, int stride, int dilation, int small, int large)
    {
        var upper = ConvSpec.SameUpper([kernel], [input], [stride], [dilation]);
        var lower = ConvSpec.SameLower([kernel], [input], [stride], [dilation]);
        int expectedOut = (input + stride - 1) / stride;
        Assert.Multiple(() =>
        {
            Assert.That((upper.PadBegin[0], upper.PadEnd[0]), Is.EqualTo((small, large)), "SAME_UPPER");
            Assert.That((lower.PadBegin[0], lower.PadEnd[0]), Is.EqualTo((large, small)), "SAME_LOWER");
            Assert.That(upper.OutputSpatial([input]), Is.EqualTo(new[] { expectedOut }));
            Assert.That(lower.OutputSpatial([input]), Is.EqualTo(new[] { expectedOut }));
        });
    }

    // Transposed: (in-1)·s - pb - pe + d·(k-1) + 1 + op.
    [TestCase(3, 3, 2, 1, 1, 1, 6)]   // the classic 2x upsample with output_padding 1
    [TestCase(4, 4, 2, 1, 1, 0, 8)]   // DCGAN
    [TestCase(3, 3, 1, 1, 0, 0, 5)]
    [TestCase(3, 3, 1, 2, 0, 0, 7)]   // dilation 2: extent 5
    [TestCase(3, 3, 1, 2, 0, 1, 8)]   // output_padding 1 < dilation 2 (stride 1)
    [TestCase(3, 3, 3, 1, 0, 2, 11)]  // output_padding 2 < stride 3
    [TestCase(5, 2, 2, 1, 0, 0, 10)]
    public void Transposed(int input, int kernel, int stride, int dilation, int pad, int outputPadding, int expected)
    {
        var spec = new ConvSpec([kernel, kernel], [stride], [dilation], [pad], transposed: true, outputPadding: [outputPadding]);
        Assert.That(spec.OutputSpatial([input, input]), Is.EqualTo(new[] { expected, expected }));
        Assert.That(spec.TransposedOutputSize(1, input), Is.EqualTo(expected));
    }

    [Test]
    public void TransposedAsymmetricPaddingAndPerDimensionOutputPadding()
    {
        // H: (3-1)·3 - 1 - 2 + 3 + 0 = 6;  W: (4-1)·2 - 0 - 1 + 3 + 1 = 9.
        var spec = new ConvSpec([3, 3], stride: [3, 2], padBegin: [1, 0], padEnd: [2, 1], transposed: true, outputPadding: [0, 1]);
        Assert.That(spec.OutputSpatial([3, 4]), Is.EqualTo(new[] { 6, 9 }));
    }

    [Test]
    public void TransposedInvertsConvolutionSize()
    {
        // For every in, the conv output size of the transposed output (with the right output padding) is in.
        var conv = new ConvSpec([3], stride: [3], dilation: [2], padBegin: [1], padEnd: [2]);
        for (int x = 5; x < 20; x++)
        {
            int y = conv.ConvOutputSize(0, x);
            int op = (x + 1 + 2 - conv.DilatedKernel(0)) % 3;
            Assert.That(conv.AsTransposed([op]).OutputSpatial([y]), Is.EqualTo(new[] { x }), $"x = {x}");
        }
    }

    [Test]
    public void OneDimensional()
    {
        // floor((100 - 9) / 3) + 1 = 31 for k5 d2 s3.
        Assert.That(new ConvSpec([5], stride: [3], dilation: [2]).OutputSpatial([100]), Is.EqualTo(new[] { 31 }));
    }

    [Test]
    public void ThreeDimensionalPerDimension()
    {
        // Video: 16x112x112, 3x3x3, pad 1, stride (1, 2, 2) → 16x56x56.
        var spec = new ConvSpec([3, 3, 3], stride: [1, 2, 2], padBegin: [1]);
        Assert.That(spec.OutputSpatial([16, 112, 112]), Is.EqualTo(new[] { 16, 56, 56 }));
        // Mixed: D k2 s2 → 4; H k3 d2 p(1,0) → 9+1-5+1 = 6; W k1 s3 → floor(6/3)+1 = 3.
        var mixed = new ConvSpec([2, 3, 1], stride: [2, 1, 3], dilation: [1, 2, 1], padBegin: [0, 1, 0], padEnd: [0, 0, 0]);
        Assert.That(mixed.OutputSpatial([8, 9, 7]), Is.EqualTo(new[] { 4, 6, 3 }));
    }

    [Test]
    public void ProblemCarriesOutputShape()
    {
        var spec = new ConvSpec([5, 5], padBegin: [2]);
        var p = ConvProblem.Create(spec, new TensorShape(1, 3, 32, 32), new TensorShape(8, 3, 5, 5));
        Assert.That(p.YShape, Is.EqualTo(new TensorShape(1, 8, 32, 32)));
    }

    [Test]
    public void ProblemDerivedQuantities()
    {
        var p = ConvProblem.Create(new ConvSpec([3, 3], stride: [2], padBegin: [1], groups: 2), new TensorShape(4, 6, 9, 9), new TensorShape(8, 3, 3, 3));
        Assert.Multiple(() =>
        {
            Assert.That(p.YShape, Is.EqualTo(new TensorShape(4, 8, 5, 5)));
            Assert.That((p.N, p.C, p.K, p.CPerGroup, p.KPerGroup), Is.EqualTo((4, 6, 8, 3, 4)));
            Assert.That(p.KernelVolume, Is.EqualTo(9));
            Assert.That(p.Flops, Is.EqualTo(2.0 * 4 * 8 * 25 * 3 * 9));
            Assert.That(p.IsDepthwise, Is.False);
            Assert.That(p.OutputShape, Is.EqualTo(p.YShape));
            Assert.That(p.WithOp(ConvOp.BackwardFilter).OutputShape, Is.EqualTo(p.WShape));
            Assert.That(p.WithOp(ConvOp.BackwardData).BiasLength, Is.EqualTo(6));
            Assert.That(p.WithBatch(1).XShape, Is.EqualTo(new TensorShape(1, 6, 9, 9)));
            Assert.That(p.WithBatch(1).YShape, Is.EqualTo(new TensorShape(1, 8, 5, 5)));
        });
    }

    [Test]
    public void ProblemEqualityCoversEveryField()
    {
        ConvProblem Make(ConvSpec s, int n = 1, ConvOp op = ConvOp.Forward) =>
            ConvProblem.Create(s, new TensorShape(n, 4, 8, 8), new TensorShape(4, 4 / s.Groups, 3, 3), op);
        var baseSpec = new ConvSpec([3, 3], padBegin: [1]);
        var p = Make(baseSpec);
        Assert.Multiple(() =>
        {
            Assert.That(Make(new ConvSpec([3, 3], padBegin: [1])), Is.EqualTo(p));
            Assert.That(Make(new ConvSpec([3, 3], padBegin: [1])).GetHashCode(), Is.EqualTo(p.GetHashCode()));
            Assert.That(Make(baseSpec, n: 2), Is.Not.EqualTo(p));
            Assert.That(Make(baseSpec, op: ConvOp.BackwardData), Is.Not.EqualTo(p));
            Assert.That(Make(new ConvSpec([3, 3], padBegin: [1], padEnd: [0])), Is.Not.EqualTo(p));
            Assert.That(Make(new ConvSpec([3, 3], padBegin: [1], dilation: [1, 2])), Is.Not.EqualTo(p));
            Assert.That(Make(new ConvSpec([3, 3], padBegin: [1], groups: 2)), Is.Not.EqualTo(p));
            Assert.That(Make(new ConvSpec([3, 3], padBegin: [1], stride: [2])), Is.Not.EqualTo(p));
        });
    }

    [Test]
    public void SingleValueListsApplyToEveryDimensionAndPaddingDefaultsToSymmetric()
    {
        var spec = new ConvSpec([3, 5, 7], stride: [2], dilation: [3], padBegin: [1, 2, 3]);
        Assert.Multiple(() =>
        {
            Assert.That(spec.Rank, Is.EqualTo(3));
            Assert.That(spec.Stride, Is.EqualTo(new[] { 2, 2, 2 }));
            Assert.That(spec.Dilation, Is.EqualTo(new[] { 3, 3, 3 }));
            Assert.That(spec.PadEnd, Is.EqualTo(new[] { 1, 2, 3 }));
            Assert.That(spec.OutputPadding, Is.EqualTo(new[] { 0, 0, 0 }));
            Assert.That(spec.Transposed, Is.False);
            Assert.That(spec.AsConvolution(), Is.SameAs(spec));
            Assert.That(spec.AsTransposed().AsConvolution(), Is.EqualTo(spec));
            Assert.That(spec.AsTransposed(), Is.Not.EqualTo(spec));
        });
    }
}
