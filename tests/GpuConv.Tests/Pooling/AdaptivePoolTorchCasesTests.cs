using System.Text.Json;
using GpuConv.Tensors;

namespace GpuConv.Tests.Pooling;

/// <summary>
/// The CPU engine's adaptive pools against PyTorch's own CPU results (torch_adaptive_pool_cases.json, written by
/// make_adaptive_torch_cases.py with torch 1.13): adaptive max and average pooling and their gradients (x.grad for a
/// random dy) bit for bit (NaN as NaN) — ranks 1–3, windows that overlap, repeat inputs (more outputs than inputs),
/// divide evenly or make a global pool, ties, NaN/±Inf/−0/subnormal inputs — so the definition the kernels are checked
/// against (AdaptivePoolKernelTests) is PyTorch's. One exception: PyTorch computes an average to 1 × 1 as a mean, in
/// another summation order, so that case is compared within 2^-21 of the plane's mean absolute value.
/// </summary>
public class AdaptivePoolTorchCasesTests
{
    sealed record Case(string kind, int[] shape, int[] output_size, uint[] x, int[] y_shape, uint[] y, uint[] dy, uint[] dx);

    sealed record File(string torch, Case[] cases);

    static readonly Lazy<File> Data = new(() =>
    {
        using var stream = typeof(AdaptivePoolTorchCasesTests).Assembly.GetManifestResourceStream("GpuConv.Tests.Pooling.torch_adaptive_pool_cases.json")
            ?? throw new InvalidOperationException("torch_adaptive_pool_cases.json is not embedded");
        return JsonSerializer.Deserialize<File>(stream)!;
    });

    public static IEnumerable<TestCaseData> Cases() =>
        Data.Value.cases.Select((c, i) => new TestCaseData(i).SetArgDisplayNames($"{i}: {c.kind} [{string.Join(", ", c.shape)}] -> [{string.Join(", ", c.output_size)}]"));

    static float[] Floats(uint[] bits) => [.. bits.Select(BitConverter.UInt32BitsToSingle)];

    [TestCaseSource(nameof(Cases))]
    public void CpuEngineMatchesPyTorch(int index)
    {
        var c = Data.Value.cases[index];
        Assert.That(Data.Value.torch, Does.StartWith("1.13"));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var x = new HostTensor(new TensorShape(c.shape), Floats(c.x));
        bool max = c.kind == "max";
        var y = cpu.Download(max ? cpu.AdaptiveMaxPool(x, c.output_size) : cpu.AdaptiveAvgPool(x, c.output_size));
        Assert.That(y.Shape, Is.EqualTo(new TensorShape(c.y_shape)), "output shape as PyTorch's");
        var expected = Floats(c.y);
        if (!max && c.output_size.All(s => s == 1))
        {
            // PyTorch takes a mean for an output of 1 × 1 (another summation order): within 2^-21 of the plane's mean |x|.
            int spatial = x.Shape.ElementCountInt / expected.Length;
            for (int p = 0; p < expected.Length; p++)
            {
                double meanAbs = x.Data.Skip(p * spatial).Take(spatial).Average(v => Math.Abs((double)v));
                Assert.That(Math.Abs(y.Data[p] - expected[p]), Is.LessThanOrEqualTo(meanAbs * Math.Pow(2, -21)), $"plane {p}");
            }
        }
        else Assert.That(PoolKernelTests.Bits(y.Data), Is.EqualTo(PoolKernelTests.Bits(expected)), "y");

        var dy = new HostTensor(y.Shape, Floats(c.dy));
        var dx = cpu.Download(max ? cpu.AdaptiveMaxPoolBackward(dy, x) : cpu.AdaptiveAvgPoolBackward(dy, x.Shape));
        Assert.That(dx.Shape, Is.EqualTo(x.Shape));
        Assert.That(PoolKernelTests.Bits(dx.Data), Is.EqualTo(PoolKernelTests.Bits(Floats(c.dx))), "dx");
    }
}
