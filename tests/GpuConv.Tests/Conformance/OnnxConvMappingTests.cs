using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Conformance;

/// <summary>ONNX attribute → ConvSpec mapping, on hand-worked cases of the operator definitions.</summary>
public class OnnxConvMappingTests
{
    static OnnxNode Node(string op, params (string Name, object Value)[] attributes) => new(op, ["X", "W"], ["Y"],
        attributes.ToDictionary(a => a.Name, a => a.Value switch
        {
            int[] ints => new OnnxAttribute(a.Name, 0, 0, "", ints.Select(v => (long)v).ToArray(), []),
            int i => new OnnxAttribute(a.Name, i, 0, "", [], []),
            string s => new OnnxAttribute(a.Name, 0, 0, s, [], []),
            _ => throw new ArgumentException($"unsupported attribute value {a.Value}"),
        }));

    static readonly TensorShape X33 = new(1, 1, 3, 3);
    static readonly TensorShape W1233 = new(1, 2, 3, 3);

    [Test]
    public void ConvPadsAreBeginsThenEnds()
    {
        var spec = OnnxConvMapping.ToSpec(Node("Conv", ("pads", new[] { 1, 0, 2, 3 }), ("strides", new[] { 2, 1 })), new TensorShape(1, 1, 7, 5), new TensorShape(1, 1, 3, 3));
        Assert.That(spec.PadBegin, Is.EqualTo(new[] { 1, 0 }));
        Assert.That(spec.PadEnd, Is.EqualTo(new[] { 2, 3 }));
        Assert.That(spec.Stride, Is.EqualTo(new[] { 2, 1 }));
        Assert.That(spec.Transposed, Is.False);
    }

    [Test]
    public void ConvKernelShapeDefaultsToTheFilters()
    {
        var spec = OnnxConvMapping.ToSpec(Node("Conv", ("group", 2)), new TensorShape(1, 4, 9), new TensorShape(6, 2, 5));
        Assert.That(spec.Kernel, Is.EqualTo(new[] { 5 }));
        Assert.That(spec.Groups, Is.EqualTo(2));
        Assert.That(spec.IsUnpadded, Is.True);
    }

    [TestCase("SAME_UPPER", 0, 1)]
    [TestCase("SAME_LOWER", 1, 0)]
    [TestCase("VALID", 0, 0)]
    public void ConvAutoPad(string autoPad, int begin, int end)
    {
        // in 6, k3, s2: out 3, total = 2·2 + 3 - 6 = 1.
        var spec = OnnxConvMapping.ToSpec(Node("Conv", ("auto_pad", autoPad), ("strides", new[] { 2 })), new TensorShape(1, 1, 6), new TensorShape(1, 1, 3));
        Assert.That((spec.PadBegin[0], spec.PadEnd[0]), Is.EqualTo((begin, end)));
    }

    [Test]
    public void ConvTransposeOutputShapeLargerThanNaturalBecomesOutputPadding()
    {
        // test_convtranspose_output_shape: natural 9x7, requested 10x8 → the extra row/column at the end.
        var spec = OnnxConvMapping.ToSpec(Node("ConvTranspose", ("strides", new[] { 3, 2 }), ("output_shape", new[] { 10, 8 })), X33, W1233);
        Assert.That(spec.Transposed, Is.True);
        Assert.That(spec.PadBegin, Is.EqualTo(new[] { 0, 0 }));
        Assert.That(spec.PadEnd, Is.EqualTo(new[] { 0, 0 }));
        Assert.That(spec.OutputPadding, Is.EqualTo(new[] { 1, 1 }));
        Assert.That(spec.OutputSpatial([3, 3]), Is.EqualTo(new[] { 10, 8 }));
    }

    [Test]
    public void ConvTransposeOutputShapeWithFullDimsAndOutputPadding()
    {
        // test_convtranspose_kernel_shape: output_padding [1, 1] already makes 10x8, total padding 0.
        var spec = OnnxConvMapping.ToSpec(Node("ConvTranspose", ("strides", new[] { 3, 2 }), ("output_shape", new[] { 1, 2, 10, 8 }), ("output_padding", new[] { 1, 1 }), ("kernel_shape", new[] { 3, 3 })), X33, W1233);
        Assert.That(spec.IsUnpadded, Is.True);
        Assert.That(spec.OutputPadding, Is.EqualTo(new[] { 1, 1 }));
        Assert.That(spec.OutputSpatial([3, 3]), Is.EqualTo(new[] { 10, 8 }));
    }

    [TestCase("NOTSET", 1, 0)]      // ONNX: pads[start] = total - total/2 unless SAME_UPPER
    [TestCase("SAME_UPPER", 0, 1)]
    public void ConvTransposeOutputShapeSmallerThanNaturalBecomesPadding(string autoPad, int begin, int end)
    {
        // natural (3-1)·2 + 3 = 7, requested 6: total padding 1.
        var spec = OnnxConvMapping.ToSpec(Node("ConvTranspose", ("strides", new[] { 2 }), ("output_shape", new[] { 6 }), ("auto_pad", autoPad)), new TensorShape(1, 1, 3), new TensorShape(1, 1, 3));
        Assert.That((spec.PadBegin[0], spec.PadEnd[0]), Is.EqualTo((begin, end)));
        Assert.That(spec.OutputSpatial([3]), Is.EqualTo(new[] { 6 }));
    }

    [TestCase("SAME_UPPER", 0, 1)]
    [TestCase("SAME_LOWER", 1, 0)]
    public void ConvTransposeAutoPadTargetsInputTimesStride(string autoPad, int begin, int end)
    {
        var spec = OnnxConvMapping.ToSpec(Node("ConvTranspose", ("strides", new[] { 2, 2 }), ("auto_pad", autoPad)), X33, W1233);
        Assert.That(spec.PadBegin, Is.EqualTo(new[] { begin, begin }));
        Assert.That(spec.PadEnd, Is.EqualTo(new[] { end, end }));
        Assert.That(spec.OutputSpatial([3, 3]), Is.EqualTo(new[] { 6, 6 }));
    }

    [Test]
    public void ConvTransposeExplicitPadsAndDilations()
    {
        var spec = OnnxConvMapping.ToSpec(Node("ConvTranspose", ("pads", new[] { 1, 2, 1, 2 }), ("strides", new[] { 3, 2 }), ("dilations", new[] { 2, 1 })), X33, W1233);
        Assert.That(spec.PadBegin, Is.EqualTo(new[] { 1, 2 }));
        Assert.That(spec.PadEnd, Is.EqualTo(new[] { 1, 2 }));
        // H: 2·3 - 2 + 5 = 9; W: 2·2 - 4 + 3 = 3.
        Assert.That(spec.OutputSpatial([3, 3]), Is.EqualTo(new[] { 9, 3 }));
    }

    [Test]
    public void OnnxPadsOfTheWrongLengthAreRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => OnnxConvMapping.ToSpec(Node("Conv", ("pads", new[] { 1, 1 })), X33, new TensorShape(1, 1, 3, 3)))!;
        Assert.That(ex.ParamName, Is.EqualTo("pads"));
        Assert.That(ex.Message, Does.Contain("expected 4 for rank 2, got 2"));
    }

    [Test]
    public void OtherOperatorsAreNotConvolutions() =>
        Assert.Throws<NotSupportedException>(() => OnnxConvMapping.ToSpec(Node("ConvInteger"), X33, W1233));
}
