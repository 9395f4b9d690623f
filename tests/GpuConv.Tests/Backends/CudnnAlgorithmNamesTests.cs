using GpuConv.Backends.Cudnn;
using GpuConv.Conv;

namespace GpuConv.Tests.Backends;

/// <summary>The cuDNN backend names candidates with the C enum spelling, per op (checked on CPU).</summary>
public class CudnnAlgorithmNamesTests
{
    [TestCase(ConvOp.Forward, 0, "IMPLICIT_GEMM")]
    [TestCase(ConvOp.Forward, 1, "IMPLICIT_PRECOMP_GEMM")]
    [TestCase(ConvOp.Forward, 5, "FFT_TILING")]
    [TestCase(ConvOp.Forward, 7, "WINOGRAD_NONFUSED")]
    [TestCase(ConvOp.BackwardData, 0, "ALGO_0")]
    [TestCase(ConvOp.BackwardData, 3, "FFT_TILING")]
    [TestCase(ConvOp.BackwardFilter, 3, "ALGO_3")]
    [TestCase(ConvOp.BackwardFilter, 6, "FFT_TILING")]
    public void NamesFollowTheHeaders(ConvOp op, int algo, string expected) =>
        Assert.That(CudnnAlgorithmNames.Of(op, algo), Is.EqualTo(expected));

    [TestCase(ConvOp.Forward, 8)]
    [TestCase(ConvOp.BackwardData, 6)]
    [TestCase(ConvOp.BackwardFilter, 7)]
    public void CountsMatchCudnn9(ConvOp op, int count) => Assert.That(CudnnAlgorithmNames.Count(op), Is.EqualTo(count));
}
