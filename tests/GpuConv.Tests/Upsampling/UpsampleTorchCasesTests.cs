using System.Text.Json;
using GpuConv.Tensors;

namespace GpuConv.Tests.Upsampling;

/// <summary>
/// The reference and the CPU engine against PyTorch's own CPU results (torch_upsample_cases.json, written by
/// make_torch_cases.py with torch 1.13): F.interpolate and x.grad for a random dy — nearest with integer, non-integer and
/// below-1 factors, sizes up and down, recompute_scale_factor, ranks 1–3; nearest-exact; linear, bilinear and trilinear
/// with align_corners both ways, out = in (PyTorch copies) and out = 1. The output shape and every bit, forward and
/// backward: the gather visits each input's taps in PyTorch's scatter order, with PyTorch's float32 expressions (float64
/// positions, fused blends). The one exception is PyTorch's own: where its nearest backward is not its forward's adjoint
/// (see UpsampleSpec), the engine's backward is checked against the reference instead. The reference (float64 blends)
/// is within 1e-6 of PyTorch, relative to the largest value.
/// </summary>
public class UpsampleTorchCasesTests
{
    sealed record Case(string mode, int[] shape, int[]? size, double[]? scale, bool align, bool recompute, bool torch_backward_differs,
        uint[] x, int[] y_shape, uint[] y, uint[] dy, uint[] dx);

    sealed record File(string torch, Case[] cases);

    static readonly Lazy<File> Data = new(() =>
    {
        using var stream = typeof(UpsampleTorchCasesTests).Assembly.GetManifestResourceStream("GpuConv.Tests.Upsampling.torch_upsample_cases.json")
            ?? throw new InvalidOperationException("torch_upsample_cases.json is not embedded");
        return JsonSerializer.Deserialize<File>(stream)!;
    });

    public static IEnumerable<TestCaseData> Cases() =>
        Data.Value.cases.Select((c, i) => new TestCaseData(i).SetArgDisplayNames(
            $"{i}: {c.mode} [{string.Join(", ", c.shape)}] {(c.size is null ? "scale " + string.Join("x", c.scale!) : "size " + string.Join("x", c.size))}{(c.align ? " align" : "")}{(c.recompute ? " recompute" : "")}"));

    static UpsampleSpec SpecOf(Case c)
    {
        var mode = c.mode switch
        {
            "nearest" => UpsampleMode.Nearest,
            "nearest-exact" => UpsampleMode.NearestExact,
            "linear" => UpsampleMode.Linear,
            "bilinear" => UpsampleMode.Bilinear,
            _ => UpsampleMode.Trilinear,
        };
        return c.size is not null ? UpsampleSpec.ToSize(mode, c.size, c.align) : UpsampleSpec.ByScale(mode, c.scale!, c.align, c.recompute);
    }

    static float[] Floats(uint[] bits) => [.. bits.Select(BitConverter.UInt32BitsToSingle)];

    [Test]
    public void TheFileIsPyTorch113s() => Assert.That(Data.Value.torch, Does.StartWith("1.13"));

    [TestCaseSource(nameof(Cases))]
    public void CpuEngineAndReferenceMatchPyTorch(int index)
    {
        var c = Data.Value.cases[index];
        var spec = SpecOf(c);
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var x = new HostTensor(new TensorShape(c.shape), Floats(c.x));
        float[] expected = Floats(c.y);
        var y = cpu.Download(cpu.Upsample(spec, x));
        Assert.That(y.Shape, Is.EqualTo(new TensorShape(c.y_shape)), "output shape as PyTorch's");
        var yRef = ReferenceUpsample.Forward(spec, x.Shape, x.Data);
        var dy = new HostTensor(y.Shape, Floats(c.dy));
        var dx = cpu.Download(cpu.UpsampleBackward(spec, dy, x.Shape));
        var dxRef = ReferenceUpsample.Backward(spec, x.Shape, dy.Data);
        float[] torchDx = Floats(c.dx);
        Assert.That(Bits(y.Data), Is.EqualTo(Bits(expected)), "forward, every bit");
        AssertNear(expected, yRef, 1e-6, "reference forward");
        if (c.torch_backward_differs)
        {
            // PyTorch's nearest backward copies or shifts where its forward used the factor: not its forward's adjoint there.
            Assert.That(Bits(dx.Data), Is.Not.EqualTo(Bits(torchDx)), "the case still shows PyTorch's inconsistency");
            Assert.That(Bits(dx.Data), Is.EqualTo(Bits([.. dxRef.Select(v => (float)v)])), "the engine's backward is its forward's adjoint (sums of whole copies)");
            return;
        }
        Assert.That(Bits(dx.Data), Is.EqualTo(Bits(torchDx)), "backward, every bit (the same summation order)");
        AssertNear(torchDx, dxRef, 1e-6, "reference backward");
    }

    static void AssertNear(float[] torch, double[] reference, double tolerance, string what)
    {
        var e = ErrorMetrics.Compare(torch, reference);
        Assert.That(e.MaxRelative, Is.LessThan(tolerance), $"{what}: PyTorch against the reference {e}");
    }

    static uint[] Bits(float[] v) => [.. v.Select(f => float.IsNaN(f) ? 0x7FC0_0000u : BitConverter.SingleToUInt32Bits(f))];
}
