using System.Text.Json;
using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Hardswish;

/// <summary>
/// ForwardBiasActivation(Hardswish / Sigmoid / Hardsigmoid) against torch 1.13: conv2d + bias, then F.hardswish,
/// torch.sigmoid or F.hardsigmoid, in float64 on float32 inputs (torch_epilogue_cases.json, made by
/// make_torch_epilogue_cases.py beside it): four MobileNetV3-like layers (a 1x1 expansion, a stride-2 depthwise, a 3x3,
/// a squeeze-excitation gate on 1 × 1 planes). The float64 judge (ReferenceConv + ReferenceActivation) within 1e-12 of
/// torch; the CPU engine, host and resident, within 1e-5 (normwise), and its ends of the clamp where torch has them.
/// </summary>
public class FusedHardswishSigmoidTorchTests
{
    sealed record Case(string name, string activation, int kernel, int stride, int pad, int groups,
        int[] xShape, int[] wShape, int[] yShape, uint[] x, uint[] w, uint[] b, double[] y);

    sealed record Cases(string torch, Case[] cases);

    static readonly Lazy<Cases> Data = new(() =>
    {
        using var stream = typeof(FusedHardswishSigmoidTorchTests).Assembly.GetManifestResourceStream("GpuConv.Tests.Hardswish.torch_epilogue_cases.json")
            ?? throw new InvalidOperationException("torch_epilogue_cases.json is not embedded");
        return JsonSerializer.Deserialize<Cases>(stream)!;
    });

    static float[] F(uint[] b) => [.. b.Select(BitConverter.UInt32BitsToSingle)];

    public static IEnumerable<TestCaseData> Layers() => Data.Value.cases.Select(c => new TestCaseData(c.name).SetArgDisplayNames(c.name));

    [TestCaseSource(nameof(Layers))]
    public void MatchesPyTorch(string name)
    {
        Assert.That(Data.Value.torch, Does.StartWith("1.13"));
        var c = Data.Value.cases.Single(k => k.name == name);
        var act = Enum.Parse<Activation>(c.activation);
        var spec = new ConvSpec([c.kernel, c.kernel], stride: [c.stride], padBegin: [c.pad], groups: c.groups);
        var x = new HostTensor(new TensorShape(c.xShape), F(c.x));
        var w = new HostTensor(new TensorShape(c.wShape), F(c.w));
        var b = new HostTensor(new TensorShape(c.wShape[0]), F(c.b));
        var problem = ConvProblem.Create(spec, x.Shape, w.Shape, ConvOp.Forward);
        Assert.That(problem.YShape, Is.EqualTo(new TensorShape(c.yShape)));

        var reference = ReferenceConv.Forward(problem, x.Data, w.Data, b.Data).Select(v => ReferenceActivation.Apply(act, v)).ToArray();
        double referenceError = reference.Zip(c.y, (a, e) => Math.Abs(a - e)).Max() / c.y.Max(Math.Abs);
        Assert.That(referenceError, Is.LessThan(1e-12), $"{name}: the float64 judge against torch");

        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var host = engine.ForwardBiasActivation(spec, x, w, b, act).Data;
        var report = ErrorMetrics.Compare(host, c.y);
        Assert.That(report.MaxRelative, Is.LessThan(1e-5), $"{name} host overload: {report}");
        using var tx = engine.Upload(x);
        using var tw = engine.Upload(w);
        using var tb = engine.Upload(b);
        using var y = engine.ForwardBiasActivation(spec, tx, tw, tb, act);
        Assert.That(engine.Download(y).Data, Is.EqualTo(host), $"{name}: resident = host overload");
        // torch's flat ends are reached by the engine where torch has them exactly.
        for (int i = 0; i < host.Length; i++)
            if (c.y[i] == 0 || c.y[i] == 1) Assert.That((double)host[i], Is.EqualTo(c.y[i]), $"{name} element {i}: torch's clamp");
        if (act != Activation.Sigmoid) Assert.That(c.y.Count(v => v == 0), Is.GreaterThan(0), $"{name}: the cases reach the low clamp");
    }
}
