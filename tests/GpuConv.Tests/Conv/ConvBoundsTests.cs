using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Conv;

/// <summary>
/// Issue 14 item 1: sizes derived from extreme user values used to wrap around in 32-bit arithmetic
/// (ConvSpec.DilatedKernel, the stride-phase layout) and crash kernels. Every such value is now either
/// refused at construction with an ArgumentException naming the field, or runs and matches the reference.
/// </summary>
public class ConvBoundsTests
{
    static readonly TensorShape X = new(1, 3, 8, 8);
    static readonly TensorShape W = new(4, 3, 3, 3);

    [Test]
    public void DilatedKernelThatOverflowsIsRefusedNamingDilation() =>
        ExpectArgument.Throws(() => new ConvSpec([3, 3], stride: [8], dilation: [2147483644]), "dilation", "2147483644", "4294967289");

    [Test]
    public void TransposedWithOverflowingDilationIsRefused() =>
        // Used to give a 49x49 garbage output with exit 0 (the dilated extent wrapped to a small number).
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([3, 3], stride: [8], dilation: [2147483644], transposed: true), X, new TensorShape(3, 4, 3, 3)), "dilation");

    [Test]
    public void OutputSizeBeyondIntIsRefusedNotWrapped()
    {
        var spec = new ConvSpec([3, 3], padBegin: [int.MaxValue]);
        ExpectArgument.Throws(() => ConvProblem.Create(spec, X, W), "inputSpatial", "4294967300");
        ExpectArgument.Throws(() => spec.ConvOutputSize(0, 8), "inputSpatial", "4294967300");
    }

    [Test]
    public void TransposedOutputSizeBeyondIntIsRefused() =>
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([3, 3], stride: [1 << 30], transposed: true), X, new TensorShape(3, 4, 3, 3)), "inputSpatial", "7516192771");

    [Test]
    public void OutputTensorTooLargeForABufferIsRefusedNamingIt() =>
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([3, 3], padBegin: [30000]), X, W), "spec", "[1, 4, 60006, 60006]", "14402880144");

    [Test]
    public void PaddedExtentPlusStrideBeyondIntIsRefused() =>
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([3, 3], stride: [1073741823], padBegin: [1073741823]), X, W), "spec", "2147483654");

    [Test]
    public void WithBatchChecksTheNewSizes()
    {
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(65536, 1, 8, 8), new TensorShape(1, 1, 3, 3));
        ExpectArgument.Throws(() => p.WithBatch(int.MaxValue), "input", "137438953408");
        ExpectArgument.Throws(() => p.WithBatch(0), "batch", "0");
    }

    [TestCase(2147483647)]
    [TestCase(1800000000)]
    [TestCase(9)]
    public void HugeStrideWithOneOutputRunsAndMatchesTheReference(int stride)
    {
        // Stride 2^31-1 used to abort the process (AccessViolation in ShiftedGemm.PadInput), 1.8e9 a NullReferenceException.
        var p = ConvProblem.Create(new ConvSpec([3, 3], stride: [stride]), X, W);
        Assert.That(p.YShape, Is.EqualTo(new TensorShape(1, 4, 1, 1)));
        using var backend = new CpuBackend(maxDegreeOfParallelism: 2);
        foreach (var op in Enum.GetValues<ConvOp>())
        {
            var (err, where) = Backends.ConvCheck.AllAlgorithms(backend, p.WithOp(op), seed: 3, withBias: true);
            Assert.That(err, Is.LessThan(1e-5), where);
        }
    }

    [Test]
    public void EngineForwardWithAHugeStrideRunsAndMatchesTheReference()
    {
        // The library's entry point reached the same crash as the CLI.
        var spec = new ConvSpec([3, 3], stride: [int.MaxValue]);
        var x = HostTensor.Random(X, 1);
        var w = HostTensor.Random(W, 2);
        using var engine = ConvEngine.Open(new ConvEngineOptions { Backend = "cpu", PersistPlans = false });
        var y = engine.Forward(spec, x, w, constantWeights: true);
        var p = ConvProblem.Create(spec, X, W);
        Assert.That(ErrorMetrics.Compare(y.Data, ReferenceConv.Forward(p, x.Data, w.Data)).MaxRelative, Is.LessThan(1e-5));
        Assert.That(p.Spec.Stride, Is.EqualTo(new[] { 8, 8 }), "cut to the padded extent, where it means the same");
    }

    [Test]
    public void EstimatedBytesCountsTensorsAndOnePaddedCopy()
    {
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), X, W);
        long expected = 4L * (1 * 3 * 8 * 8 + 4 * 3 * 3 * 3 + 1 * 4 * 8 * 8 + 1 * 3 * 10 * 10);
        Assert.That(p.EstimatedBytes, Is.EqualTo(expected));
    }

    [Test]
    public void AProblemThatCannotFitIsRefusedWithItsEstimate()
    {
        // The bench row that grew to 22.7 GB under ONNX Runtime before it was killed.
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(1, 128, 4000, 4000), new TensorShape(128, 128, 3, 3));
        var ex = Assert.Throws<ProblemTooLargeException>(() => p.EnsureFits(8L << 30, "the test"))!;
        Assert.That(ex.ParamName, Is.EqualTo("problem"));
        Assert.That(ex.EstimatedBytes, Is.EqualTo(p.EstimatedBytes));
        Assert.That(ex.Message, Does.Contain("GiB").And.Contain(p.EstimatedBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.DoesNotThrow(() => p.EnsureFits(long.MaxValue, "the test"));
    }
}
