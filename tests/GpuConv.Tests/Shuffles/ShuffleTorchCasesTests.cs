using System.Text.Json;
using GpuConv.Tensors;

namespace GpuConv.Tests.Shuffles;

/// <summary>
/// PixelShuffle, PixelUnshuffle and ChannelShuffle against PyTorch's own F.pixel_shuffle / F.pixel_unshuffle /
/// torch.channel_shuffle and their autograd gradients (torch_shuffle_cases.json, written by make_torch_cases.py with
/// torch 1.13): shapes and every bit (NaN payloads, ±Inf, −0 and subnormals are moved, never computed) — ESPCN's r = 3,
/// EDSR's ×2 and ×4, ShuffleNet's groups, batches, factor and groups 1, non-square planes, 1-d and 3-d channel shuffles.
/// The gradient of each op is the inverse op applied to dy, as the engine documents (a channel shuffle's is the shuffle
/// by C/groups).
/// </summary>
public class ShuffleTorchCasesTests
{
    sealed record Case(string op, int[] shape, int factor, uint[] x, int[] y_shape, uint[] y, uint[] dy, uint[] dx);

    sealed record File(string torch, Case[] cases);

    static readonly Lazy<File> Data = new(() =>
    {
        using var stream = typeof(ShuffleTorchCasesTests).Assembly.GetManifestResourceStream("GpuConv.Tests.Shuffles.torch_shuffle_cases.json")
            ?? throw new InvalidOperationException("torch_shuffle_cases.json is not embedded");
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
        var x = Tensor(c.shape, c.x);
        var dy = Tensor(c.y_shape, c.dy);
        int r = c.factor, channels = c.shape[1];
        var (y, dx, reference) = c.op switch
        {
            "shuffle" => (cpu.PixelShuffle(x, r), cpu.PixelUnshuffle(dy, r), ReferenceShuffles.PixelShuffle(x.Shape, x.Data, r)),
            "unshuffle" => (cpu.PixelUnshuffle(x, r), cpu.PixelShuffle(dy, r), ReferenceShuffles.PixelUnshuffle(x.Shape, x.Data, r)),
            "channel" => (cpu.ChannelShuffle(x, r), cpu.ChannelShuffle(dy, channels / r), ReferenceShuffles.ChannelShuffle(x.Shape, x.Data, r)),
            _ => throw new InvalidOperationException($"unknown op {c.op}"),
        };
        Assert.That(y.Shape, Is.EqualTo(new TensorShape(c.y_shape)));
        Assert.That(Bits(cpu.Download(y).Data), Is.EqualTo(c.y), "y");
        Assert.That(dx.Shape, Is.EqualTo(x.Shape));
        Assert.That(Bits(cpu.Download(dx).Data), Is.EqualTo(c.dx), "dx: the gradient is the inverse op on dy");
        Assert.That(Bits(reference), Is.EqualTo(c.y), "the reference");
    }
}
