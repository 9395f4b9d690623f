using System.Text.Json;
using GpuConv.Tensors;

namespace GpuConv.Tests.Concat;

/// <summary>
/// The CPU engine's Concat, Narrow and Split against PyTorch's own torch.cat, torch.narrow and torch.split
/// (torch_concat_cases.json, written by make_torch_cases.py with torch 1.13): shapes and every bit (NaN payloads,
/// ±Inf, −0 and subnormals pass through a copy unchanged) — U-Net, DenseNet, Inception and YOLO style joins, negative
/// dims and starts, an input listed twice, a single input.
/// </summary>
public class ConcatTorchCasesTests
{
    sealed record Case(string op, int[][] shapes, int dim, uint[][] xs, int[]? order, int[]? y_shape, uint[]? y,
        long? start, long? length, long[]? sizes, int[][]? part_shapes, uint[][]? parts);

    sealed record File(string torch, Case[] cases);

    static readonly Lazy<File> Data = new(() =>
    {
        using var stream = typeof(ConcatTorchCasesTests).Assembly.GetManifestResourceStream("GpuConv.Tests.Concat.torch_concat_cases.json")
            ?? throw new InvalidOperationException("torch_concat_cases.json is not embedded");
        return JsonSerializer.Deserialize<File>(stream)!;
    });

    public static IEnumerable<TestCaseData> Cases() =>
        Data.Value.cases.Select((c, i) => new TestCaseData(i).SetArgDisplayNames(
            $"{i}: {c.op} {string.Join(" ", c.shapes.Select(s => $"[{string.Join(", ", s)}]"))} dim {c.dim}"));

    static HostTensor Tensor(int[] shape, uint[] bits) => new(new TensorShape(shape), [.. bits.Select(BitConverter.UInt32BitsToSingle)]);

    [TestCaseSource(nameof(Cases))]
    public void CpuEngineMatchesPyTorch(int index)
    {
        var c = Data.Value.cases[index];
        Assert.That(Data.Value.torch, Does.StartWith("1.13"));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var xs = c.shapes.Select((s, i) => Tensor(s, c.xs[i])).ToArray();
        switch (c.op)
        {
            case "cat":
            {
                var y = cpu.Download(cpu.Concat([.. c.order!.Select(i => xs[i])], c.dim));
                Assert.That(y.Shape, Is.EqualTo(new TensorShape(c.y_shape!)));
                Assert.That(ConcatReference.Bits(y.Data), Is.EqualTo(c.y));
                break;
            }
            case "narrow":
            {
                var y = cpu.Download(cpu.Narrow(xs[0], c.dim, c.start!.Value, c.length!.Value));
                Assert.That(y.Shape, Is.EqualTo(new TensorShape(c.y_shape!)));
                Assert.That(ConcatReference.Bits(y.Data), Is.EqualTo(c.y));
                break;
            }
            case "split":
            {
                var parts = cpu.Split(xs[0], c.dim, c.sizes!);
                Assert.That(parts, Has.Length.EqualTo(c.parts!.Length));
                for (int i = 0; i < parts.Length; i++)
                {
                    Assert.That(parts[i].Shape, Is.EqualTo(new TensorShape(c.part_shapes![i])), $"part {i}");
                    Assert.That(ConcatReference.Bits(cpu.Download(parts[i]).Data), Is.EqualTo(c.parts[i]), $"part {i}");
                }
                break;
            }
            default:
                Assert.Fail($"unknown op {c.op}");
                break;
        }
    }

    [Test]
    public void TheCasesCoverEachOpAndCarrySpecialValues()
    {
        var cases = Data.Value.cases;
        Assert.That(cases.Select(c => c.op).Distinct(), Is.EquivalentTo(new[] { "cat", "narrow", "split" }));
        Assert.That(cases.Any(c => c.dim < 0) && cases.Any(c => c.start < 0), "negative dims and starts");
        var all = cases.SelectMany(c => c.xs.SelectMany(x => x)).Select(BitConverter.UInt32BitsToSingle).ToArray();
        Assert.That(all.Any(float.IsNaN) && all.Any(float.IsInfinity) && all.Any(float.IsSubnormal) && all.Any(v => v == 0 && float.IsNegative(v)));
    }
}
