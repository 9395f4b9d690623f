using System.Text.Json;
using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Gelu;

/// <summary>
/// ForwardBiasActivation(Gelu / GeluTanh) against torch 1.13: conv2d + bias, then F.gelu (approximate 'none' or 'tanh'),
/// in float64 on float32 inputs (torch_gelu_epilogue_cases.json, made by make_torch_gelu_epilogue_cases.py beside it):
/// four ConvNeXt / ViT-like layers (a 4×4 stride-4 patchify stem, a 7×7 depthwise, a 1×1 expansion, a 3×3). The float64
/// judge (ReferenceConv + ReferenceActivation) within 1e-12 of torch; the CPU engine, host and resident, within 1e-5
/// (normwise) and bit for bit its own Forward followed by the element-wise Gelu.
/// </summary>
public class FusedGeluTorchTests
{
    sealed record Case(string name, string activation, int kernel, int stride, int pad, int groups,
        int[] xShape, int[] wShape, int[] yShape, uint[] x, uint[] w, uint[] b, double[] y);

    sealed record Cases(string torch, Case[] cases);

    static readonly Lazy<Cases> Data = new(() =>
    {
        using var stream = typeof(FusedGeluTorchTests).Assembly.GetManifestResourceStream("GpuConv.Tests.Gelu.torch_gelu_epilogue_cases.json")
            ?? throw new InvalidOperationException("torch_gelu_epilogue_cases.json is not embedded");
        return JsonSerializer.Deserialize<Cases>(stream)!;
    });

    static float[] F(uint[] b) => [.. b.Select(BitConverter.UInt32BitsToSingle)];

    static uint[] Bits(float[] v) => [.. v.Select(BitConverter.SingleToUInt32Bits)];

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
        TestContext.Out.WriteLine($"{name}: {report} from torch (float64)");
        Assert.That(report.MaxRelative, Is.LessThan(1e-5), $"{name} host overload: {report}");
        using var tx = engine.Upload(x);
        using var tw = engine.Upload(w);
        using var tb = engine.Upload(b);
        using var y = engine.ForwardBiasActivation(spec, tx, tw, tb, act);
        Assert.That(Bits(engine.Download(y).Data), Is.EqualTo(Bits(host)), $"{name}: resident = host overload");
        using var conv = engine.Forward(spec, tx, tw, tb);
        using var gelu = engine.Gelu(conv, act == Activation.GeluTanh ? GeluApproximation.Tanh : GeluApproximation.None);
        Assert.That(Bits(engine.Download(gelu).Data), Is.EqualTo(Bits(host)), $"{name}: fused = Forward then the element-wise Gelu, bit for bit");
        Assert.That(c.y.Count(v => v < 0), Is.InRange(1, c.y.Length - 1), $"{name}: the cases reach the negative dip, not everywhere");
        Assert.That(c.y.Count(v => v > 1), Is.GreaterThan(0), $"{name}: the cases reach past 1");
    }
}
