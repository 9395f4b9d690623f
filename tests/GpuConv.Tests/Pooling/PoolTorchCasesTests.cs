using System.Text.Json;
using GpuConv.Tensors;

namespace GpuConv.Tests.Pooling;

/// <summary>
/// The CPU engine's pools against PyTorch's own CPU results (torch_pool_cases.json, written by make_torch_cases.py with
/// torch 1.13): max and average pooling and their gradients (x.grad for a random dy) bit for bit (NaN as NaN) — ranks 1–3, padding, dilation, ceil-mode edge
/// windows, count_include_pad both ways, NaN/±Inf/−0/subnormal inputs — so the definition the kernels are checked
/// against (PoolKernelTests) is PyTorch's. The global average sums in another order than PyTorch: within 4 ulp-ish
/// of it (2^-21 relative to the plane's mean absolute value).
/// </summary>
public class PoolTorchCasesTests
{
    sealed record Case(string kind, int[] shape, int[] kernel, int[]? stride, int[] padding, int[] dilation, bool ceil, bool include,
        uint[] x, int[] y_shape, uint[] y, uint[] dy, uint[]? dx);

    sealed record File(string torch, Case[] cases);

    static readonly Lazy<File> Data = new(() =>
    {
        using var stream = typeof(PoolTorchCasesTests).Assembly.GetManifestResourceStream("GpuConv.Tests.Pooling.torch_pool_cases.json")
            ?? throw new InvalidOperationException("torch_pool_cases.json is not embedded");
        return JsonSerializer.Deserialize<File>(stream)!;
    });

    public static IEnumerable<TestCaseData> Cases() =>
        Data.Value.cases.Select((c, i) => new TestCaseData(i).SetArgDisplayNames($"{i}: {c.kind} [{string.Join(", ", c.shape)}] k[{string.Join(", ", c.kernel)}] ceil={c.ceil} include={c.include}"));

    [TestCaseSource(nameof(Cases))]
    public void CpuEngineMatchesPyTorch(int index)
    {
        var c = Data.Value.cases[index];
        Assert.That(Data.Value.torch, Does.StartWith("1.13"));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var x = new HostTensor(new TensorShape(c.shape), [.. c.x.Select(BitConverter.UInt32BitsToSingle)]);
        float[] expected = [.. c.y.Select(BitConverter.UInt32BitsToSingle)];
        if (c.kind == "global")
        {
            var y = cpu.Download(cpu.GlobalAvgPool(x));
            Assert.That(y.Shape, Is.EqualTo(new TensorShape(c.y_shape)));
            int spatial = x.Shape.ElementCountInt / expected.Length;
            for (int p = 0; p < expected.Length; p++)
            {
                double meanAbs = x.Data.Skip(p * spatial).Take(spatial).Average(v => Math.Abs((double)v));
                Assert.That(Math.Abs(y.Data[p] - expected[p]), Is.LessThanOrEqualTo(meanAbs * Math.Pow(2, -21)), $"plane {p}");
            }
            return;
        }
        // PyTorch takes one kernel size for every dimension; PoolSpec wants the kernel per dimension (it sets the rank).
        int[] kernel = c.kernel.Length == 1 ? [.. Enumerable.Repeat(c.kernel[0], c.shape.Length - 2)] : c.kernel;
        var spec = new PoolSpec(kernel, c.stride, c.padding, c.dilation, c.ceil, c.include);
        var result = cpu.Download(c.kind == "max" ? cpu.MaxPool(spec, x) : cpu.AvgPool(spec, x));
        Assert.That(result.Shape, Is.EqualTo(new TensorShape(c.y_shape)), "output shape as PyTorch's");
        Assert.That(PoolKernelTests.Bits(result.Data), Is.EqualTo(PoolKernelTests.Bits(expected)));

        // The backward: x.grad for PyTorch's dy, bit for bit.
        var dy = new HostTensor(result.Shape, [.. c.dy.Select(BitConverter.UInt32BitsToSingle)]);
        var dx = cpu.Download(c.kind == "max" ? cpu.MaxPoolBackward(spec, dy, x) : cpu.AvgPoolBackward(spec, dy, x.Shape));
        Assert.That(dx.Shape, Is.EqualTo(x.Shape));
        Assert.That(PoolKernelTests.Bits(dx.Data), Is.EqualTo(PoolKernelTests.Bits([.. c.dx!.Select(BitConverter.UInt32BitsToSingle)])), "dx");
    }
}
