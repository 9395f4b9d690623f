using System.Text.Json;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Softmax;

/// <summary>
/// PyTorch's own CPU results (torch_softmax_cases.json, written by make_softmax_torch_cases.py with torch 1.13) for
/// F.softmax / F.log_softmax and their gradients: a classification head [N, C] over dim −1, wide rows, NCHW over dim 1
/// (segmentation), over H and over W, dim 0, 1-d, logits of ±80 and ±1e4, −∞ entries, a slice of −∞ only (NaN in
/// torch), NaN and +∞ (NaN over their slice), a tiny spread, a one-element axis. Judged twice: the float64 reference
/// against torch (so the reference states torch's semantics, NaN and ±∞ exactly where torch has them), and the CPU engine
/// against torch. Both within <see cref="SoftmaxTestData"/>'s fp32 error bounds (torch is fp32 too; its sum order is
/// sequential or vectorised, within the same bound).
/// </summary>
public class SoftmaxTorchCasesTests
{
    sealed record Case(string name, int[] shape, int dim, uint[] x, uint[] y, uint[] dx, uint[] log_y, uint[] log_dx, uint[] dy);

    sealed record File(string torch, Case[] cases);

    static readonly Lazy<File> Data = new(() =>
    {
        using var stream = typeof(SoftmaxTorchCasesTests).Assembly.GetManifestResourceStream("GpuConv.Tests.Softmax.torch_softmax_cases.json")
            ?? throw new InvalidOperationException("torch_softmax_cases.json is not embedded");
        return JsonSerializer.Deserialize<File>(stream)!;
    });

    public static IEnumerable<TestCaseData> Cases() =>
        Data.Value.cases.SelectMany((c, i) => new[] { false, true }.Select(log =>
            new TestCaseData(i, log).SetArgDisplayNames($"{i}: {c.name} [{string.Join(", ", c.shape)}] dim={c.dim} {(log ? "log_softmax" : "softmax")}")));

    static float[] F(uint[] bits) => [.. bits.Select(BitConverter.UInt32BitsToSingle)];

    [Test]
    public void TheCasesComeFromTorch113() => Assert.That(Data.Value.torch, Does.StartWith("1.13"));

    [TestCaseSource(nameof(Cases))]
    public void ReferenceMatchesPyTorch(int index, bool log)
    {
        var c = Data.Value.cases[index];
        var s = SoftmaxShape.Of(new TensorShape(c.shape), c.dim, "x");
        float[] x = F(c.x), torchY = F(log ? c.log_y : c.y), torchDx = F(log ? c.log_dx : c.dx), dy = F(c.dy);
        var y = ReferenceSoftmax.Forward(SoftmaxTestData.D(x), s.Outer, s.Axis, s.Inner, log);
        // torch's fp32 y judged against the reference: the same bound, the roles swapped.
        SoftmaxTestData.AssertWithin(torchY, y, SoftmaxTestData.ForwardBounds(x, s, log), "torch y vs reference");
        var dx = ReferenceSoftmax.Backward(SoftmaxTestData.D(dy), SoftmaxTestData.D(torchY), s.Outer, s.Axis, s.Inner, log);
        SoftmaxTestData.AssertWithin(torchDx, dx, SoftmaxTestData.BackwardBounds(dy, torchY, s, log), "torch dx vs reference");
    }

    [TestCaseSource(nameof(Cases))]
    public void CpuEngineMatchesPyTorch(int index, bool log)
    {
        var c = Data.Value.cases[index];
        var shape = new TensorShape(c.shape);
        var s = SoftmaxShape.Of(shape, c.dim, "x");
        float[] x = F(c.x), torchY = F(log ? c.log_y : c.y), torchDx = F(log ? c.log_dx : c.dx), dy = F(c.dy);
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var hx = new HostTensor(shape, x);
        var y = ((HostTensor)(log ? cpu.LogSoftmax(hx, c.dim) : cpu.Softmax(hx, c.dim))).Data;
        var bound = SoftmaxTestData.ForwardBounds(x, s, log);
        // Against torch, each within its bound of the exact value: twice the bound apart at most.
        SoftmaxTestData.AssertWithin(y, SoftmaxTestData.D(torchY), [.. bound.Select(b => 2 * b)], "y vs torch");
        // The gradient from torch's y, so both start from the same floats.
        var ty = new HostTensor(shape, torchY);
        var hdy = new HostTensor(shape, dy);
        var dx = ((HostTensor)(log ? cpu.LogSoftmaxBackward(hdy, ty, c.dim) : cpu.SoftmaxBackward(hdy, ty, c.dim))).Data;
        SoftmaxTestData.AssertWithin(dx, SoftmaxTestData.D(torchDx), [.. SoftmaxTestData.BackwardBounds(dy, torchY, s, log).Select(b => 2 * b)], "dx vs torch");
    }
}
