using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu.Shifted;
using GpuConv.Tensors;
using GpuConv.Tests.Backends;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// The stride-4 column split of padded input rows (VectorOps.SplitStride4, 64 floats a step with masked
/// ends; Winograd F(4x4)'s phase planes and shifted-gemm at stride 4 use it): every CPU algorithm on
/// stride-4 convolutions whose rows are 1 … 140 wide (below, at and above 16, 64 and 128 floats) with 0 … 3
/// columns of left padding, against the float64 reference. In the Simd namespace so that
/// <see cref="SimdTierChildProcessTests"/> re-runs it without AVX-512, where rows take the scalar
/// running-pair split instead.
/// </summary>
public class StrideFourSplitTests
{
    [Test]
    public void StrideFourConvolutionsMatchReference([Values(1, 3, 4, 15, 16, 17, 63, 64, 65, 70, 129, 140)] int width, [Values(0, 1, 2, 3)] int pad)
    {
        using var cpu = new CpuBackend(2);
        var p = ConvProblem.Create(new ConvSpec([3, 5], [4], padBegin: [1, pad], padEnd: [1, 4 - pad]), new TensorShape(2, 3, 9, width), new TensorShape(8, 3, 3, 5));
        Assert.That(cpu.GetAlgorithms(p, ConvPrecision.Strict).Select(a => a.Name), Has.Member(CpuBackend.ShiftedGemm), "the phase-split path is offered");
        var (err, where) = ConvCheck.AllAlgorithms(cpu, p, 7, withBias: true);
        Assert.That(err, Is.LessThan(1e-5), where);
    }
}
