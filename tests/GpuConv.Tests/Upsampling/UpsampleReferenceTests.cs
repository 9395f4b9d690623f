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
        Assert.That(g.OutCount, Is.GreaterThan(GpuConv.Cpu.Layers.CpuUpsampling.ParallelThreshold));
        var one = new float[g.OutCount];
        GpuConv.Cpu.Layers.CpuUpsampling.Forward(g, x.Data, one);
        var dy = HostTensor.Random(spec.OutputShape(input), 4);
        var oneBack = new float[g.InCount];
        GpuConv.Cpu.Layers.CpuUpsampling.Backward(g, dy.Data, oneBack);
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = 2 });
        Assert.That(cpu.Download(cpu.Upsample(spec, x)).Data, Is.EqualTo(one));
        Assert.That(cpu.Download(cpu.UpsampleBackward(spec, dy, input)).Data, Is.EqualTo(oneBack));
    }

    /// <summary>docs/library.md's FPN and U-Net decoder steps, as written there, on the CPU engine, against the reference.</summary>
    [Test]
    public void TheLibraryDocsDecoderStepsRun()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var p5 = engine.Upload(HostTensor.Random(new TensorShape(1, 8, 5, 6), 1));
        var lateral4 = engine.Upload(HostTensor.Random(new TensorShape(1, 8, 10, 12), 2));
        using var p4 = engine.Allocate(lateral4.Shape);
        var d4 = engine.Upload(HostTensor.Random(new TensorShape(1, 4, 6, 5), 3));
        using var d4Up = engine.Allocate(new TensorShape(1, 4, 12, 10));
        var conv3x3 = new GpuConv.Conv.ConvSpec([3, 3], padBegin: [1]);
        var w = engine.Upload(HostTensor.Random(new TensorShape(6, 4, 3, 3), 4));
        var b = engine.Upload(HostTensor.Random(new TensorShape(6), 5));
        using var d3 = engine.Allocate(new TensorShape(1, 6, 12, 10));
        var dd4Up = engine.Upload(HostTensor.Random(d4Up.Shape, 6));

        var up2 = UpsampleSpec.ByScale(UpsampleMode.Nearest, [2.0, 2.0]);
        // FPN: P4 = lateral(C4) + upsample(P5), then the 3x3 output conv
        using var p5Up = engine.Upsample(up2, p5);
        engine.Add(lateral4, p5Up, output: p4);
        // U-Net: bilinear x2 (align_corners=False), then a 3x3 conv into the decoder's buffer
        var bilinear = UpsampleSpec.ByScale(UpsampleMode.Bilinear, [2.0, 2.0]);
        engine.Upsample(bilinear, d4, output: d4Up);
        engine.ForwardBiasActivation(conv3x3, d4Up, w, b, Activation.Relu, output: d3);
        // training: the gradient back through the upsample
        using var dd4 = engine.UpsampleBackward(bilinear, dd4Up, d4.Shape);

        var host = (Tensor t) => engine.Download(t).Data;
        var p5UpRef = ReferenceUpsample.Forward(up2, p5.Shape, host(p5));
        var e = ErrorMetrics.Compare(host(p4), [.. p5UpRef.Select((v, i) => v + host(lateral4)[i])]);
        Assert.That(e.MaxRelative, Is.LessThan(1e-6), $"P4: {e}");
        Assert.That(ErrorMetrics.Compare(host(d4Up), ReferenceUpsample.Forward(bilinear, d4.Shape, host(d4))).MaxRelative, Is.LessThan(1e-6), "d4 upsampled");
        var problem = GpuConv.Conv.ConvProblem.Create(conv3x3, d4Up.Shape, w.Shape);
        var d3Ref = ReferenceConv.Forward(problem, host(d4Up), host(w), host(b)).Select(v => Math.Max(v, 0)).ToArray();
        Assert.That(ErrorMetrics.Compare(host(d3), d3Ref).MaxRelative, Is.LessThan(1e-5), "d3");
        Assert.That(ErrorMetrics.Compare(host(dd4), ReferenceUpsample.Backward(bilinear, d4.Shape, host(dd4Up))).MaxRelative, Is.LessThan(1e-6), "dd4");
    }
}
