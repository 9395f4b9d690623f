using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Elementwise;

/// <summary>
/// On a GPU host: each element-wise call on a device engine (kernels/elementwise.ptx through cuLaunchKernel on the
/// engine's stream) against the CPU engine, bit for bit — NaN compared as NaN, since a GPU's add returns the
/// canonical NaN where x86 keeps the payload — on random values mixed with NaN, ±Inf, ±0 and subnormals, sizes that
/// end mid-block, out of place and in place; and a tensor of another engine refused. Skipped with discovery's reason
/// when no GPU is usable. Under the native fakes the kernels run in the PTX interpreter, so there this proves the
/// launches (arguments, pointers, stream order), not the device's arithmetic.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class ElementwiseGpuTests : GpuAgainstCpuEngines
{
    [TestCase(1)]
    [TestCase(255)]
    [TestCase(4099)]
    [TestCase(70001)]
    public void EveryOpMatchesTheCpuEngine(int n)
    {
        Assert.That(gpu.Memory.Kind, Is.EqualTo(MemoryKind.Device));
        var shape = new TensorShape(n);
        var a = new HostTensor(shape, ElementwiseKernelTests.Values(n, n));
        var b = new HostTensor(shape, ElementwiseKernelTests.Values(n, n + 1));
        using var ga = gpu.Upload(a);
        using var gb = gpu.Upload(b);
        using var ca = cpu.Upload(a);
        using var cb = cpu.Upload(b);
        void Same(Tensor onGpu, Tensor onCpu, string what) =>
            Assert.That(Bits(gpu.Download(onGpu).Data), Is.EqualTo(Bits(cpu.Download(onCpu).Data)), $"{what}, n = {n}");

        using (var g = gpu.Add(ga, gb)) Same(g, cpu.Add(ca, cb), "Add");
        using (var g = gpu.Relu(ga)) Same(g, cpu.Relu(ca), "Relu");
        using (var g = gpu.ReluBackward(ga, gb)) Same(g, cpu.ReluBackward(ca, cb), "ReluBackward");
        using (var g = gpu.Relu6(ga)) Same(g, cpu.Relu6(ca), "Relu6");
        using (var g = gpu.Relu6Backward(ga, gb)) Same(g, cpu.Relu6Backward(ca, cb), "Relu6Backward");
        using (var g = gpu.Silu(ga)) Same(g, cpu.Silu(ca), "Silu");
        using (var g = gpu.SiluBackward(ga, gb)) Same(g, cpu.SiluBackward(ca, cb), "SiluBackward");
        using (var g = gpu.Sigmoid(ga)) Same(g, cpu.Sigmoid(ca), "Sigmoid");
        using (var g = gpu.SigmoidBackward(ga, gb)) Same(g, cpu.SigmoidBackward(ca, cb), "SigmoidBackward");
        using (var g = gpu.Hardsigmoid(ga)) Same(g, cpu.Hardsigmoid(ca), "Hardsigmoid");
        using (var g = gpu.HardsigmoidBackward(ga, gb)) Same(g, cpu.HardsigmoidBackward(ca, cb), "HardsigmoidBackward");
        using (var g = gpu.Hardswish(ga)) Same(g, cpu.Hardswish(ca), "Hardswish");
        using (var g = gpu.HardswishBackward(ga, gb)) Same(g, cpu.HardswishBackward(ca, cb), "HardswishBackward");
        using (var g = gpu.Tanh(ga)) Same(g, cpu.Tanh(ca), "Tanh");
        using (var g = gpu.TanhBackward(ga, gb)) Same(g, cpu.TanhBackward(ca, cb), "TanhBackward");
        using (var g = gpu.Gelu(ga)) Same(g, cpu.Gelu(ca), "Gelu");
        using (var g = gpu.GeluBackward(ga, gb)) Same(g, cpu.GeluBackward(ca, cb), "GeluBackward");
        using (var g = gpu.Gelu(ga, GeluApproximation.Tanh)) Same(g, cpu.Gelu(ca, GeluApproximation.Tanh), "Gelu tanh");
        using (var g = gpu.GeluBackward(ga, gb, GeluApproximation.Tanh)) Same(g, cpu.GeluBackward(ca, cb, GeluApproximation.Tanh), "GeluBackward tanh");
        using (var g = gpu.Mul(ga, gb)) Same(g, cpu.Mul(ca, cb), "Mul");
        using (var g = gpu.LeakyRelu(ga, 0.1f)) Same(g, cpu.LeakyRelu(ca, 0.1f), "LeakyRelu");
        using (var g = gpu.LeakyReluBackward(ga, gb, -0.2f)) Same(g, cpu.LeakyReluBackward(ca, cb, -0.2f), "LeakyReluBackward");
        using (var g = gpu.Scale(ga, -0.3f)) Same(g, cpu.Scale(ca, -0.3f), "Scale");
        using (var gy = gpu.Upload(b))
        {
            var cy = cpu.Upload(b);
            gpu.AddScaled(gy, 1.7f, ga);
            cpu.AddScaled(cy, 1.7f, ca);
            Same(gy, cy, "AddScaled");
        }
    }

    [Test]
    public void InPlaceChainOnTheStream()
    {
        // relu_(a); b = a + b; b *= 0.5; b += -2·a; grad = relu_backward(b, a) into b — queued without waits, downloaded once.
        var shape = new TensorShape(2, 8, 9, 9);
        var a = new HostTensor(shape, ElementwiseKernelTests.Values(shape.ElementCountInt, 7));
        var b = new HostTensor(shape, ElementwiseKernelTests.Values(shape.ElementCountInt, 8));
        using var ga = gpu.Upload(a);
        using var gb = gpu.Upload(b);
        var ca = cpu.Upload(a);
        var cb = cpu.Upload(b);
        foreach (var (e, x, y) in new[] { (gpu, ga, gb), (cpu, ca, cb) })
        {
            e.Relu(x, output: x);
            e.Add(x, y, output: y);
            e.Scale(y, 0.5f, output: y);
            e.AddScaled(y, -2f, x);
            e.ReluBackward(y, x, output: y);
        }
        Assert.That(Bits(gpu.Download(gb).Data), Is.EqualTo(Bits(cpu.Download(cb).Data)));
        Assert.That(Bits(gpu.Download(ga).Data), Is.EqualTo(Bits(cpu.Download(ca).Data)));
    }

    [Test]
    public void ATensorOfAnotherEngineIsRefused()
    {
        using var other = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, PersistPlans = false });
        using var foreign = other.Upload(HostTensor.Random(new TensorShape(4), 1));
        using var mine = gpu.Upload(HostTensor.Random(new TensorShape(4), 2));
        var e = Assert.Throws<ArgumentException>(() => gpu.Add(mine, foreign))!;
        Assert.That(e.ParamName, Is.EqualTo("b"));
        Assert.That(e.Message, Does.Contain("belongs to another engine"));
    }
}
