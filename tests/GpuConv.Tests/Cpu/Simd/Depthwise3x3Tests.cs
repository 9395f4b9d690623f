using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Backends;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// The masked-load 3x3 depthwise kernel (one filter per channel, 2-D, stride 1 or 2) against the
/// reference: plane widths around the 16-lane strip (narrower than a strip, exact, one over), heights
/// down to 1, asymmetric and oversized padding (every load of a row masked off), mixed strides.
/// </summary>
public class Depthwise3x3Tests
{
    [Test]
    public void PlanesOfEveryShapeMatchReference()
    {
        using var backend = new CpuBackend(maxDegreeOfParallelism: 2);
        var failures = new List<string>();
        int cases = 0, seed = 0;
        foreach (int width in new[] { 1, 2, 3, 7, 14, 15, 16, 17, 31, 33, 34, 35, 57, 67 })
        foreach (int height in new[] { 1, 2, 5, 7, 9, 17 })
        foreach (var (sh, sw) in new[] { (1, 1), (2, 2), (1, 2), (2, 1) })
        foreach (var (padTop, padLeft, padBottom, padRight) in new[] { (1, 1, 1, 1), (0, 0, 0, 0), (0, 1, 1, 0), (2, 3, 3, 2), (0, 1, 2, 1), (3, 1, 0, 1) })
        {
            if (height + padTop + padBottom < 3 || width + padLeft + padRight < 3) continue;
            var spec = new ConvSpec([3, 3], [sh, sw], padBegin: [padTop, padLeft], padEnd: [padBottom, padRight], groups: 5);
            var p = ConvProblem.Create(spec, new TensorShape(2, 5, height, width), new TensorShape(5, 1, 3, 3));
            cases++;
            var (err, where) = ConvCheck.AllAlgorithms(backend, p, ++seed, withBias: seed % 2 == 0);
            if (!(err < 1e-5)) failures.Add(where);
        }
        Assert.That(cases, Is.GreaterThan(1000));
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
    }
}
