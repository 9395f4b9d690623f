using GpuConv.Cli.Peers;
using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cli;

/// <summary>
/// The ONNX Runtime peer's hand-written models beyond 2-d Conv: Conv of rank 1 and 3, and ConvTranspose
/// (kernel_shape, strides, pads, dilations, group, output_padding) of rank 1–3, each run through ORT and
/// judged against the float64 <see cref="ReferenceConv"/> on random inputs (max relative error &lt; 1e-5:
/// fp32 sums of at most a few hundred products).
/// Category OnnxRuntime: needs ORT's native library, which the GPU-check pack leaves out.
/// </summary>
[Category("OnnxRuntime")]
public class OnnxPeerNdTests
{
    const double Tolerance = 1e-5;

    static ConvProblem Conv(int[] input, int k, int[] kernel, int[]? stride = null, int[]? padBegin = null, int[]? padEnd = null, int[]? dilation = null, int groups = 1)
    {
        var spec = new ConvSpec(kernel, stride, dilation, padBegin, padEnd, groups);
        return ConvProblem.Create(spec, new TensorShape(input), new TensorShape([k, input[1] / groups, .. kernel]));
    }

    /// <summary>A ConvTranspose from input[1] to <paramref name="cout"/> channels: backward data of the underlying convolution.</summary>
    static ConvProblem Transposed(int[] input, int cout, int[] kernel, int[]? stride = null, int[]? pad = null, int[]? dilation = null, int groups = 1, int[]? outputPadding = null)
    {
        var spec = new ConvSpec(kernel, stride, dilation, pad, null, groups, transposed: true, outputPadding);
        return ConvProblem.Create(spec, new TensorShape(input), new TensorShape([input[1], cout / groups, .. kernel]));
    }

    static IEnumerable<TestCaseData> Problems()
    {
        yield return new TestCaseData(Conv([2, 4, 50], 6, [5], stride: [3], padBegin: [2], padEnd: [1], dilation: [2], groups: 2)).SetName("ORT Conv 1-d strided dilated grouped, asymmetric pads");
        yield return new TestCaseData(Conv([1, 1, 160], 8, [10], stride: [5])).SetName("ORT Conv 1-d wav2vec2 first layer");
        yield return new TestCaseData(Conv([1, 3, 4, 10, 12], 5, [3, 3, 3], stride: [1, 2, 2], padBegin: [1, 1, 1])).SetName("ORT Conv 3-d 3x3x3 stride 1,2,2");
        yield return new TestCaseData(Conv([1, 4, 5, 6, 6], 8, [1, 1, 1], stride: [2, 2, 2])).SetName("ORT Conv 3-d 1x1x1 stride 2");
        yield return new TestCaseData(Transposed([1, 6, 5, 7], 4, [3, 3], stride: [2, 2], pad: [1, 1], groups: 2, outputPadding: [1, 1])).SetName("ORT ConvTranspose 2-d 3x3 s2 p1 output padding 1, groups 2");
        yield return new TestCaseData(Transposed([2, 8, 1, 1], 6, [4, 4])).SetName("ORT ConvTranspose 2-d DCGAN first layer 1x1 to 4x4");
        yield return new TestCaseData(Transposed([1, 6, 4, 4], 3, [4, 4], stride: [2, 2], pad: [1, 1])).SetName("ORT ConvTranspose 2-d 4x4 s2 p1");
        yield return new TestCaseData(Transposed([1, 8, 5, 5], 4, [2, 2], stride: [2, 2])).SetName("ORT ConvTranspose 2-d 2x2 s2 (U-Net up-conv)");
        yield return new TestCaseData(Transposed([1, 4, 9], 6, [3], stride: [3], pad: [1], dilation: [2], outputPadding: [2])).SetName("ORT ConvTranspose 1-d dilated, output padding 2");
        yield return new TestCaseData(Transposed([1, 4, 3, 4, 5], 2, [2, 3, 3], stride: [2, 2, 1], pad: [0, 1, 1], outputPadding: [1, 0, 0])).SetName("ORT ConvTranspose 3-d");
    }

    [TestCaseSource(nameof(Problems))]
    public void MatchesTheFloat64Reference(ConvProblem p)
    {
        bool transposed = p.Op == ConvOp.BackwardData;
        var input = HostTensor.Random(transposed ? p.YShape : p.XShape, 3);
        var w = HostTensor.Random(p.WShape, 4);
        var bias = HostTensor.Random(new TensorShape(p.BiasLength), 5);
        var output = new float[(transposed ? p.XShape : p.YShape).ElementCountInt];
        using (var ort = new OnnxRuntimeConv(p, input.Data, w.Data, bias.Data, output, threads: 1))
            ort.Run();
        var reference = transposed
            ? ReferenceConv.Run(p, default, w.Data, input.Data, bias.Data)
            : ReferenceConv.Run(p, input.Data, w.Data, default, bias.Data);
        var error = ErrorMetrics.Compare(output, reference);
        Assert.That(error.MaxRelative, Is.LessThan(Tolerance), p.ToString());
        Assert.That(output.Any(v => v != 0), Is.True, "ORT wrote the output");
    }

    [Test]
    public void OutputPaddingIsWhatTheSpecAddedToTheTransposedOutput()
    {
        Assert.That(OnnxRuntimeConv.OutputPadding(Transposed([1, 6, 5, 7], 4, [3, 3], stride: [2, 2], pad: [1, 1], outputPadding: [1, 0])), Is.EqualTo(new[] { 1, 0 }));
        Assert.That(OnnxRuntimeConv.OutputPadding(Transposed([1, 4, 9], 6, [3], stride: [3], pad: [1], dilation: [2], outputPadding: [2])), Is.EqualTo(new[] { 2 }));
        Assert.That(OnnxRuntimeConv.OutputPadding(Transposed([1, 8, 5, 5], 4, [2, 2], stride: [2, 2])), Is.EqualTo(new[] { 0, 0 }));
    }

    [Test]
    public void BackwardFilterIsRefused()
    {
        var p = Conv([1, 2, 8], 2, [3]).WithOp(ConvOp.BackwardFilter);
        var e = Assert.Throws<ArgumentException>(() => new OnnxRuntimeConv(p, new float[16], new float[12], null, new float[12], 1))!;
        Assert.That(e.Message, Does.Contain("BackwardFilter"));
    }
}
