using GpuConv.Cpu.Depthwise;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Tensors;
using GpuConv.Tests.Backends;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// The column-strip depthwise kernel (3-, 5- or 7-wide kernels of any height, stride 1 or 2) against the
/// reference: widths around the 16-lane strip, heights around the four-row block, asymmetric and
/// oversized padding (rows and columns wholly in the padding), mixed strides.
/// </summary>
public class DepthwiseStripsTests
{
    [Test]
    public void PlanesOfEveryShapeMatchReference()
    {
        using var backend = new CpuBackend(maxDegreeOfParallelism: 2);
        var failures = new List<string>();
        int cases = 0, strips = 0, seed = 0;
        foreach (var (kh, kw) in new[] { (5, 5), (1, 3), (7, 3), (2, 5), (5, 3), (7, 7), (3, 7) })
        foreach (int width in new[] { 16, 17, 33, 47 })
        foreach (int height in new[] { 6, 13, 30 })
        foreach (var (sh, sw) in new[] { (1, 1), (2, 2), (1, 2), (2, 1) })
        foreach (var (padTop, padLeft, padBottom, padRight) in new[] { (2, 2, 2, 2), (0, 0, 0, 0), (1, 2, 3, 0), (6, 5, 5, 6) })
        {
            if (height + padTop + padBottom < kh || width + padLeft + padRight < kw) continue;
            var spec = new ConvSpec([kh, kw], [sh, sw], padBegin: [padTop, padLeft], padEnd: [padBottom, padRight], groups: 3);
            var p = ConvProblem.Create(spec, new TensorShape(2, 3, height, width), new TensorShape(3, 1, kh, kw));
            cases++;
            var g = ConvGeometry.Of(p);
            // Three channels: too few for the 16-channel blocked kernel, so every case the strips take is run by them.
            if (DepthwiseStrips.Applies(g, 1) && !DepthwiseBlocked.Applies(g, 1, 3)) strips++;
            var (err, where) = ConvCheck.AllAlgorithms(backend, p, ++seed, withBias: seed % 2 == 0);
            if (!(err < 1e-5)) failures.Add(where);
        }
        Assert.That(cases, Is.GreaterThan(1200));
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported) Assert.That(strips, Is.GreaterThan(cases / 2), "most cases should take the strip kernel");
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
    }
}
