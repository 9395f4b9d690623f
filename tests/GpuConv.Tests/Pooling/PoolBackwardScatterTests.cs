using GpuConv.Cpu.Pooling;
using GpuConv.Tensors;
using GpuConv.Tests.Cpu.Simd;

namespace GpuConv.Tests.Pooling;

/// <summary>
/// The pools' backward as the engine runs it (scattering each output's gradient once) gives the bits of the definition
/// as written (gathering every input's candidates, <c>gather: true</c>), which kernels/pool.ptx matches: random
/// geometries of ranks 1–3 (dilated max windows, ceil mode, count_include_pad, windows with no tap inside the input),
/// inputs full of ties, ±0, ±∞ and NaN payloads, and gradients with NaN and ±∞ of their own; on the calling thread and
/// split over workers.
/// </summary>
public class PoolBackwardScatterTests
{
    [TestCase(true)]
    [TestCase(false)]
    public void ScatterGivesTheGatherDefinitionsBits(bool max)
    {
        var rng = new Random(max ? 21 : 22);
        using var workers = new GpuConv.Cpu.Threading.CpuWorkers(2);
        int cases = 0;
        while (cases < 500)
        {
            if (PoolRowsSimdTests.RandomCase(rng, max) is not var (spec, shape)) continue;
            cases++;
            var g = PoolGeometry.Of(spec, shape, spec.OutputShape(shape));
            var x = PoolRowsSimdTests.Values(shape.ElementCountInt, rng, cases % 5);
            var dy = PoolRowsSimdTests.Values((int)g.OutputCount, rng, (cases / 5) % 5);
            var expected = new float[x.Length];
            var got = new float[x.Length];
            var split = new float[x.Length];
            Array.Fill(got, float.NaN); // every element must be written
            if (max)
            {
                CpuPooling.MaxBackward(g, x, dy, expected, gather: true);
                CpuPooling.MaxBackward(g, x, dy, got);
                CpuPooling.MaxBackward(g, x, dy, split, workers);
            }
            else
            {
                CpuPooling.AverageBackward(g, dy, expected, gather: true);
                CpuPooling.AverageBackward(g, dy, got);
                CpuPooling.AverageBackward(g, dy, split, workers);
            }
            // Sums of several dy: a NaN's payload follows the add's operand order, the same here, but compared as NaN (as every sum is).
            Assert.That(PoolRowsSimdTests.BitsOf(got, false), Is.EqualTo(PoolRowsSimdTests.BitsOf(expected, false)), $"{spec} on {shape}");
            Assert.That(PoolRowsSimdTests.BitsOf(split, false), Is.EqualTo(PoolRowsSimdTests.BitsOf(expected, false)), $"split over workers, {spec} on {shape}");
        }
    }

    /// <summary>ResNet-50's stem pool, large enough for the engine to split it over the workers by planes.</summary>
    [Test]
    public void StemPoolOnWorkers()
    {
        var spec = new PoolSpec([3, 3], [2], [1]);
        var shape = new TensorShape(1, 8, 112, 112);
        var g = PoolGeometry.Of(spec, shape, spec.OutputShape(shape));
        var rng = new Random(4);
        var x = PoolRowsSimdTests.Values(shape.ElementCountInt, rng, 1); // mostly ±0: ties decided by order
        var dy = PoolRowsSimdTests.Values((int)g.OutputCount, rng, 0);
        using var workers = new GpuConv.Cpu.Threading.CpuWorkers(2);
        foreach (bool max in new[] { true, false })
        {
            var expected = new float[x.Length];
            var got = new float[x.Length];
            if (max) { CpuPooling.MaxBackward(g, x, dy, expected, gather: true); CpuPooling.MaxBackward(g, x, dy, got, workers); }
            else { CpuPooling.AverageBackward(g, dy, expected, gather: true); CpuPooling.AverageBackward(g, dy, got, workers); }
            Assert.That(PoolRowsSimdTests.BitsOf(got, false), Is.EqualTo(PoolRowsSimdTests.BitsOf(expected, false)), max ? "max" : "avg");
        }
    }
}
