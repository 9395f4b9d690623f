using GpuConv.Cpu.Depthwise;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Tensors;
using GpuConv.Tests.Backends;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// The paired-rows depthwise kernels for 5x5 and 7x7 (outputs of at most 7 columns) against the
/// reference: stride 1 on every width they take, 5x5 stride 2 from up to 16 columns with right pads
/// 0–2, heights from 1 to 15 (odd and even output rows), top pads of both parities and past the kernel,
/// bottom pads that cut or add rows.
/// </summary>
public class DepthwiseNarrowTests
{
    [Test]
    public void NarrowPlanesMatchReference()
    {
        using var backend = new CpuBackend(maxDegreeOfParallelism: 2);
        var failures = new List<string>();
        int cases = 0, narrow = 0, seed = 0;
        foreach (var (kernel, stride) in new[] { (5, 1), (5, 2), (7, 1) })
        foreach (int width in stride == 1 ? new[] { 1, 2, 3, 4, 5, 6, 7 } : new[] { 1, 2, 5, 8, 13, 14, 15, 16 })
        foreach (int padRight in stride == 1 ? new[] { kernel / 2 } : new[] { 2, 1, 0 })
        foreach (int height in new[] { 1, 2, 3, 4, 7, 8, 9, 14, 15 })
        foreach (var (padTop, padBottom) in new[] { (kernel / 2, kernel / 2), (0, 0), (1, 3), (3, 1), (6, 0) })
        foreach (int channels in new[] { 3, 17 })
        {
            int padLeft = kernel / 2;
            if (height + padTop + padBottom < kernel || width + padLeft + padRight < kernel) continue;
            var spec = new ConvSpec([kernel, kernel], [stride, stride], padBegin: [padTop, padLeft], padEnd: [padBottom, padRight], groups: channels);
            var p = ConvProblem.Create(spec, new TensorShape(2, channels, height, width), new TensorShape(channels, 1, kernel, kernel));
            cases++;
            if (DepthwiseNarrow.Applies(ConvGeometry.Of(p), 1)) narrow++;
            var (err, where) = ConvCheck.AllAlgorithms(backend, p, ++seed, withBias: seed % 2 == 0);
            if (!(err < 1e-5)) failures.Add(where);
        }
        Assert.That(cases, Is.GreaterThan(2500));
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported) Assert.That(narrow, Is.GreaterThan(cases * 3 / 4), "most cases should take the paired-rows kernels");
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
    }
}
