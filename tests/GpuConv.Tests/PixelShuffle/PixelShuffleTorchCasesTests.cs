using System.Text.Json;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.PixelShuffle;

/// <summary>
/// PixelShuffle and PixelUnshuffle against PyTorch's own F.pixel_shuffle / F.pixel_unshuffle and their autograd
/// gradients (torch_pixel_shuffle_cases.json, written by make_torch_cases.py with torch 1.13): shapes and every bit (NaN
/// payloads, ±Inf, −0 and subnormals are moved, never computed) — ESPCN's r = 3, EDSR's ×2 and ×4, batches, factor 1,
/// non-square planes. The gradient of each op is the other op applied to dy, as the engine documents.
/// </summary>
public class PixelShuffleTorchCasesTests
{
    sealed record Case(string op, int[] shape, int factor, uint[] x, int[] y_shape, uint[] y, uint[] dy, uint[] dx);

    sealed record File(string torch, Case[] cases);

    static readonly Lazy<File> Data = new(() =>
    {
        using var stream = typeof(PixelShuffleTorchCasesTests).Assembly.GetManifestResourceStream("GpuConv.Tests.PixelShuffle.torch_pixel_shuffle_cases.json")
            ?? throw new InvalidOperationException("torch_pixel_shuffle_cases.json is not embedded");
        return JsonSerializer.Deserialize<File>(stream)!;
    });

    public static IEnumerable<TestCaseData> Cases() =>
        Data.Value.cases.Select((c, i) => new TestCaseData(i).SetArgDisplayNames($"{i}: {c.op} [{string.Join(", ", c.shape)}] by {c.factor}"));

    internal static uint[] Bits(float[] v) => [.. v.Select(BitConverter.SingleToUInt32Bits)];

    static HostTensor Tensor(int[] shape, uint[] bits) => new(new TensorShape(shape), [.. bits.Select(BitConverter.UInt32BitsToSingle)]);

    [TestCaseSource(nameof(Cases))]
    public void CpuEngineAndReferenceMatchPyTorch_ForwardAndGradient(int index)
    {
        var c = Data.Value.cases[index];
        Assert.That(Data.Value.torch, Does.StartWith("1.13"));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        bool shuffle = c.op == "shuffle";
        var x = Tensor(c.shape, c.x);
        var dy = Tensor(c.y_shape, c.dy);
        var y = cpu.Download(shuffle ? cpu.PixelShuffle(x, c.factor) : cpu.PixelUnshuffle(x, c.factor));
        Assert.That(y.Shape, Is.EqualTo(new TensorShape(c.y_shape)));
        Assert.That(Bits(y.Data), Is.EqualTo(c.y), "y");
        var dx = cpu.Download(shuffle ? cpu.PixelUnshuffle(dy, c.factor) : cpu.PixelShuffle(dy, c.factor));
        Assert.That(dx.Shape, Is.EqualTo(x.Shape));
        Assert.That(Bits(dx.Data), Is.EqualTo(c.dx), "dx: the gradient is the other op on dy");
        var reference = shuffle ? ReferencePixelShuffle.Shuffle(x.Shape, x.Data, c.factor) : ReferencePixelShuffle.Unshuffle(x.Shape, x.Data, c.factor);
        Assert.That(Bits(reference), Is.EqualTo(c.y), "the reference");
    }
}
