using GpuConv.Conv;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Conv;

/// <summary>Every invalid spec is an ArgumentException naming the field and the offending values.</summary>
public class ConvSpecValidationTests
{
    [TestCase(new int[0], "got 0")]
    [TestCase(new[] { 3, 3, 3, 3 }, "got 4 (3x3x3x3)")]
    public void KernelRankOutOfRange(int[] kernel, string fragment) =>
        ExpectArgument.Throws(() => new ConvSpec(kernel), "kernel", "1 to 3 spatial dimensions", fragment);

    [TestCase(0)]
    [TestCase(-2)]
    public void NonPositiveKernel(int k) =>
        ExpectArgument.Throws(() => new ConvSpec([3, k]), "kernel", $"kernel[1] must be >= 1, got {k}", $"3x{k}");

    [TestCase(0)]
    [TestCase(-1)]
    public void NonPositiveStride(int s) =>
        ExpectArgument.Throws(() => new ConvSpec([3, 3], stride: [1, s]), "stride", $"stride[1] must be >= 1, got {s}");

    [TestCase(0)]
    [TestCase(-3)]
    public void NonPositiveDilation(int d) =>
        ExpectArgument.Throws(() => new ConvSpec([3], dilation: [d]), "dilation", $"dilation[0] must be >= 1, got {d}");

    [Test]
    public void NegativePadBegin() =>
        ExpectArgument.Throws(() => new ConvSpec([3, 3], padBegin: [0, -1]), "padBegin", "padBegin[1] must be >= 0, got -1");

    [Test]
    public void NegativePadEnd() =>
        ExpectArgument.Throws(() => new ConvSpec([3], padBegin: [1], padEnd: [-2]), "padEnd", "padEnd[0] must be >= 0, got -2");

    [TestCase(0)]
    [TestCase(-4)]
    public void NonPositiveGroups(int g) =>
        ExpectArgument.Throws(() => new ConvSpec([3], groups: g), "groups", $"groups must be >= 1, got {g}");

    [Test]
    public void StrideListLengthMismatch() =>
        ExpectArgument.Throws(() => new ConvSpec([3, 3, 3], stride: [1, 2]), "stride", "1 or 3 values", "got 2 (1x2)");

    [Test]
    public void DilationListLengthMismatch() =>
        ExpectArgument.Throws(() => new ConvSpec([3, 3], dilation: [1, 2, 1]), "dilation", "1 or 2 values", "got 3 (1x2x1)");

    [Test]
    public void PadBeginListLengthMismatch() =>
        ExpectArgument.Throws(() => new ConvSpec([3], padBegin: [1, 1]), "padBegin", "1 or 1 values", "got 2");

    [Test]
    public void PadEndListLengthMismatch() =>
        ExpectArgument.Throws(() => new ConvSpec([3, 3], padBegin: [1], padEnd: [1, 1, 1]), "padEnd", "1 or 2 values", "got 3");

    [Test]
    public void OutputPaddingListLengthMismatch() =>
        ExpectArgument.Throws(() => new ConvSpec([3, 3], stride: [2], transposed: true, outputPadding: [1, 1, 1]), "outputPadding", "1 or 2 values");

    [Test]
    public void OutputPaddingWithoutTransposed() =>
        ExpectArgument.Throws(() => new ConvSpec([3], stride: [2], outputPadding: [1]), "outputPadding",
            "only to transposed", "outputPadding[0] = 1", "transposed = false");

    [TestCase(2, 1, 2)]  // op = stride, dilation 1
    [TestCase(3, 2, 3)]  // op = stride > dilation
    [TestCase(1, 1, 1)]
    [TestCase(2, 2, 5)]
    public void OutputPaddingNotSmallerThanStrideOrDilation(int stride, int dilation, int outputPadding) =>
        ExpectArgument.Throws(() => new ConvSpec([3], [stride], [dilation], transposed: true, outputPadding: [outputPadding]), "outputPadding",
            $"outputPadding[0] = {outputPadding}", $"stride[0] = {stride}", $"dilation[0] = {dilation}");

    [TestCase(2, 1, 1)]  // smaller than stride
    [TestCase(1, 2, 1)]  // smaller than dilation only: PyTorch accepts it
    [TestCase(4, 1, 3)]
    public void OutputPaddingSmallerThanStrideOrDilationIsAccepted(int stride, int dilation, int outputPadding) =>
        Assert.That(new ConvSpec([3], [stride], [dilation], transposed: true, outputPadding: [outputPadding]).OutputPadding[0], Is.EqualTo(outputPadding));

    [Test]
    public void OutputPaddingEqualToStrideAndDilationInSecondDimension() =>
        ExpectArgument.Throws(() => new ConvSpec([3, 3], stride: [2, 2], dilation: [1, 2], transposed: true, outputPadding: [1, 2]),
            "outputPadding", "outputPadding[1] = 2", "stride[1] = 2", "dilation[1] = 2");

    [Test]
    public void NegativeOutputPadding() =>
        ExpectArgument.Throws(() => new ConvSpec([3], stride: [2], transposed: true, outputPadding: [-1]), "outputPadding", "outputPadding[0] must be >= 0, got -1");

    [TestCase(2, 3, 0, 0)]   // kernel 3 on input 2: output 0
    [TestCase(1, 4, 1, 0)]   // kernel 4, pad (1, 0): output 1 + 1 - 4 + 1 = -1
    public void OutputSizeBelowOne(int input, int kernel, int padBegin, int padEnd) =>
        ExpectArgument.Throws(() => new ConvSpec([kernel], padBegin: [padBegin], padEnd: [padEnd]).OutputSpatial([input]), "inputSpatial",
            "spatial dimension 0", $"input {input}", $"kernel {kernel}", $"padding ({padBegin}, {padEnd})");

    [Test]
    public void OutputSizeBelowOneWithDilationNamesTheDimension() =>
        ExpectArgument.Throws(() => new ConvSpec([1, 3], dilation: [1, 4]).OutputSpatial([5, 8]), "inputSpatial",
            "spatial dimension 1 would be 0", "dilation 4");

    [Test]
    public void TransposedOutputSizeBelowOne() =>
        ExpectArgument.Throws(() => new ConvSpec([1], padBegin: [1], transposed: true).OutputSpatial([1]), "inputSpatial",
            "would be -1", "output padding 0");

    [Test]
    public void InputRankMismatchInOutputSpatial() =>
        ExpectArgument.Throws(() => new ConvSpec([3, 3]).OutputSpatial([5, 5, 5]), "inputSpatial", "3 spatial dimensions (5x5x5)", "rank 2");

    [TestCase(2)]
    [TestCase(3)]
    public void PyTorchSameRejectsStride(int stride) =>
        ExpectArgument.Throws(() => ConvSpec.Same([3, 3], stride: [1, stride]), "stride", "requires stride 1", $"stride[1] = {stride}", "SameUpper");

    [Test]
    public void PyTorchSameRejectsBadDilation() =>
        ExpectArgument.Throws(() => ConvSpec.Same([3], dilation: [0]), "dilation", "dilation[0] must be >= 1, got 0");

    [Test]
    public void OnnxSameInputRankMismatch() =>
        ExpectArgument.Throws(() => ConvSpec.SameUpper([3, 3], [8]), "inputSpatial", "1 dimensions (8)", "kernel has 2 (3x3)");

    [TestCase(0)]
    [TestCase(-2)]
    public void OnnxSameRejectsNonPositiveStride(int stride) =>
        ExpectArgument.Throws(() => ConvSpec.SameLower([3], [8], [stride]), "stride", $"stride[0] must be >= 1, got {stride}");

    [TestCase(3, new[] { 1, 1, 1, 1 }, "expected 6 for rank 3, got 4 (1x1x1x1)")]
    [TestCase(2, new[] { 1, 2, 3 }, "expected 4 for rank 2, got 3 (1x2x3)")]
    [TestCase(1, new int[0], "expected 2 for rank 1, got 0")]
    public void OnnxPadsOfTheWrongLength(int rank, int[] pads, string fragment) =>
        ExpectArgument.Throws(() => ConvSpec.SplitOnnxPads(pads, rank), "pads", fragment);

    // A user's null pads list was a NullReferenceException, and rank 0 or 4 split without complaint.
    [Test]
    public void OnnxPadsNullIsRejected() =>
        Assert.That(Assert.Throws<ArgumentNullException>(() => ConvSpec.SplitOnnxPads(null!, 2))!.ParamName, Is.EqualTo("pads"));

    [TestCase(0, new int[0])]
    [TestCase(4, new[] { 1, 1, 1, 1, 1, 1, 1, 1 })]
    public void OnnxPadsRankOutsideOneToThree(int rank, int[] pads) =>
        ExpectArgument.Throws(() => ConvSpec.SplitOnnxPads(pads, rank), "rank", $"got {rank}");

    [Test]
    public void OnnxPadsSplitIntoBeginAndEnd()
    {
        var (begin, end) = ConvSpec.SplitOnnxPads([1, 2, 3, 4, 5, 6], 3);
        Assert.That(begin, Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(end, Is.EqualTo(new[] { 4, 5, 6 }));
    }

    [Test]
    public void NullKernelIsRejected() =>
        Assert.Throws<ArgumentNullException>(() => new ConvSpec(null!));

    [Test]
    public void NullListsInFactoriesAreRejected()
    {
        Assert.Throws<ArgumentNullException>(() => ConvSpec.Same(null!));
        Assert.Throws<ArgumentNullException>(() => ConvSpec.SameUpper(null!, [4]));
        Assert.Throws<ArgumentNullException>(() => ConvSpec.SameLower([3], null!));
    }
}
