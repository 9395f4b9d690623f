using GpuConv.Tensors;

namespace GpuConv.Tests.Upsampling;

/// <summary>
/// The float64 reference against itself and the CPU engine against the reference, on random non-zero inputs, every mode
/// × rank: the backward is the forward's adjoint (&lt;Up(x), g&gt; = &lt;x, UpBack(g)&gt; in float64, to 1e-12 relative to
/// Σ|terms|); the CPU engine's forward within 1e-6 and its gradient within 1e-6 of the reference (normwise relative:
/// max|cpu − ref| / max|ref|; float32 blends of at most eight float32 products against float64, gradients summing a
/// few dozen terms); and a large tensor, split over the worker threads, gives the bits of one thread.
/// </summary>
public class UpsampleReferenceTests
{
    public static IEnumerable<TestCaseData> Cases() => RandomUpsampleProblems.Cases(seeds: 6);

    [TestCaseSource(nameof(Cases))]
    public void TheReferenceBackwardIsTheForwardsAdjoint(UpsampleMode mode, int rank, int seed)
    {
        var (spec, input) = RandomUpsampleProblems.Create(seed + 500, mode, rank);
        var outShape = spec.OutputShape(input);
        var x = HostTensor.Random(input, seed + 1).Data;
        var g = HostTensor.Random(outShape, seed + 2).Data;
        var y = ReferenceUpsample.Forward(spec, input, x);
        var dx = ReferenceUpsample.Backward(spec, input, g);
        double lhs = 0, rhs = 0, scale = 0;
        for (int i = 0; i < y.Length; i++) { lhs += y[i] * g[i]; scale += Math.Abs(y[i] * g[i]); }
        for (int i = 0; i < dx.Length; i++) rhs += x[i] * dx[i];
        Assert.That(Math.Abs(lhs - rhs), Is.LessThanOrEqualTo(1e-12 * Math.Max(scale, 1e-300)), $"{spec} on {input}: <Up(x), g> = {lhs}, <x, UpBack(g)> = {rhs}");
    }

    [TestCaseSource(nameof(Cases))]
    public void CpuEngineMatchesTheReference(UpsampleMode mode, int rank, int seed)
    {
        var (spec, input) = RandomUpsampleProblems.Create(seed + 600, mode, rank);
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var x = HostTensor.Random(input, seed + 1);
        var y = cpu.Download(cpu.Upsample(spec, x));
        Assert.That(y.Shape, Is.EqualTo(spec.OutputShape(input)));
        var e = ErrorMetrics.Compare(y.Data, ReferenceUpsample.Forward(spec, input, x.Data));
        Assert.That(e.MaxRelative, Is.LessThan(1e-6), $"forward {spec} on {input}: {e}");
        var dy = HostTensor.Random(y.Shape, seed + 2);
        var dx = cpu.Download(cpu.UpsampleBackward(spec, dy, input));
        Assert.That(dx.Shape, Is.EqualTo(input));
        var b = ErrorMetrics.Compare(dx.Data, ReferenceUpsample.Backward(spec, input, dy.Data));
        Assert.That(b.MaxRelative, Is.LessThan(1e-6), $"backward {spec} on {input}: {b}");
    }

    /// <summary>A U-Net-sized plane set (above the parallel threshold) split over two workers: the bits of the one-thread loop.</summary>
    [TestCase(UpsampleMode.Nearest)]
    [TestCase(UpsampleMode.Bilinear)]
    public void TheWorkerSplitDoesNotChangeTheBits(UpsampleMode mode)
    {
        var spec = UpsampleSpec.ByScale(mode, [2.0, 2.0]);
        var input = new TensorShape(2, 16, 40, 36);
        var x = HostTensor.Random(input, 3);
        var g = UpsampleGeometry.Of(spec, input);
        Assert.That(g.OutCount, Is.GreaterThan(GpuConv.Cpu.CpuUpsampling.ParallelThreshold));
        var one = new float[g.OutCount];
        GpuConv.Cpu.CpuUpsampling.Forward(g, x.Data, one);
        var dy = HostTensor.Random(spec.OutputShape(input), 4);
        var oneBack = new float[g.InCount];
        GpuConv.Cpu.CpuUpsampling.Backward(g, dy.Data, oneBack);
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = 2 });
        Assert.That(cpu.Download(cpu.Upsample(spec, x)).Data, Is.EqualTo(one));
        Assert.That(cpu.Download(cpu.UpsampleBackward(spec, dy, input)).Data, Is.EqualTo(oneBack));
    }
}
