using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Gelu;

/// <summary>
/// On a GPU host, with the cudnn and the ptx backend: ForwardBiasActivation(Gelu / GeluTanh) device-resident (plain and
/// residual) and through host tensors against ReferenceConv + <see cref="ReferenceActivation"/> (max relative error below
/// 1e-4, strict fp32), the resident result bit for bit the engine's element-wise Gelu of the device's own convolution
/// plus bias (one add, as the kernel's add.rn), computed on the CPU engine. cuDNN declines the fused call for GELU, so on
/// the cudnn backend this is the plain convolution followed by the PTX bias kernel with code 7 or 8. Skipped with
/// discovery's reason when no GPU is usable; under the native fakes (CI) the convolutions run in the fakes and the
/// kernels in the PTX interpreter.
/// </summary>
[TestFixture("cudnn"), TestFixture("ptx"), Category("Gpu"), NonParallelizable]
public class FusedGeluGpuTests(string backend) : GpuEngineOnBackend(backend)
{
    ConvEngine cpu = null!;

    [OneTimeSetUp]
    public void OpenCpu() => cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    [OneTimeTearDown]
    public void CloseCpu() => cpu?.Dispose();

    static uint[] Bits(float[] v) => [.. v.Select(BitConverter.SingleToUInt32Bits)];

    static readonly ConvSpec Spec = new([3, 3], padBegin: [1]);

    static void AssertClose(float[] got, double[] expected, string what)
    {
        var report = ErrorMetrics.Compare(got, expected);
        Assert.That(report.MaxRelative, Is.LessThan(1e-4), $"{what}: {report}");
    }

    [Test]
    public void ForwardBiasActivationMatchesTheReference_ResidentResidualAndHost([Values(Activation.Gelu, Activation.GeluTanh)] Activation act)
    {
        var x = HostTensor.Random(new TensorShape(1, 8, 7, 7), 1);
        var w = HostTensor.Random(new TensorShape(12, 8, 3, 3), 2);
        // Biases of ±5: conv + bias spans GELU's dip, both sides of |v| = 1 and its linear end.
        var b = new HostTensor(new TensorShape(12), [.. Enumerable.Range(0, 12).Select(k => (k % 3 - 1) * 5f + 0.25f * k)]);
        var problem = ConvProblem.Create(Spec, x.Shape, w.Shape, ConvOp.Forward);
        var plain = ReferenceConv.Forward(problem, x.Data, w.Data, b.Data);
        var expected = plain.Select(v => ReferenceActivation.Apply(act, v)).ToArray();

        AssertClose(engine.ForwardBiasActivation(Spec, x, w, b, act).Data, expected, $"{Backend} {act} host overload");

        using var tx = engine.Upload(x);
        using var tw = engine.Upload(w);
        using var tb = engine.Upload(b);
        using var y = engine.ForwardBiasActivation(Spec, tx, tw, tb, act);
        var got = engine.Download(y).Data;
        AssertClose(got, expected, $"{Backend} {act} resident");
        Assert.That(got.Count(v => v < 0), Is.InRange(1, got.Length - 1), $"{act}: the negative dip is reached, not everywhere");
        // The same device convolution without bias, then bias (one rounding, as the kernel's add.rn) and the element-wise Gelu on the CPU engine.
        using var conv = engine.Forward(Spec, tx, tw);
        var withBias = engine.Download(conv).Data.Select((v, i) => v + b.Data[i / 49 % 12]).ToArray();
        using var onCpu = cpu.Upload(new HostTensor(problem.YShape, withBias));
        using var cpuGelu = cpu.Gelu(onCpu, act == Activation.GeluTanh ? GeluApproximation.Tanh : GeluApproximation.None);
        Assert.That(Bits(got), Is.EqualTo(Bits(cpu.Download(cpuGelu).Data)), $"{Backend}: the fused {act} is the CPU's element-wise Gelu of conv + bias, bit for bit");

        var skip = HostTensor.Random(problem.YShape, 3);
        var withSkip = plain.Select((v, i) => ReferenceActivation.Apply(act, v + skip.Data[i])).ToArray();
        using var output = engine.Upload(skip);
        engine.ForwardBiasActivation(Spec, tx, tw, tb, act, output: output, accumulate: true);
        AssertClose(engine.Download(output).Data, withSkip, $"{Backend} {act} residual");
    }

    /// <summary>
    /// Without a bias (cuDNN's fused call needs one) the engine runs the convolution and then the element-wise kernel of
    /// the activation (ConvEngine.ActivationOp): bit for bit the CPU engine's Gelu of the device's own convolution. The
    /// two forms differ by less than the 1e-4 a float64 comparison allows, so only the bits show a swapped op here.
    /// </summary>
    [Test]
    public void WithoutABias_TheConvolutionThenTheElementwiseKernel_BitForBit([Values(Activation.Gelu, Activation.GeluTanh)] Activation act)
    {
        var x = HostTensor.Random(new TensorShape(1, 8, 7, 7), 4);
        var w = HostTensor.Random(new TensorShape(12, 8, 3, 3), 5);
        for (int i = 0; i < w.Data.Length; i++) w.Data[i] *= 2f;    // conv over about ±8: GELU's dip and both tails
        using var tx = engine.Upload(x);
        using var tw = engine.Upload(w);
        using var y = engine.ForwardBiasActivation(Spec, tx, tw, null, act);
        using var conv = engine.Forward(Spec, tx, tw);
        var plain = engine.Download(conv);
        using var onCpu = cpu.Upload(plain);
        using var cpuGelu = cpu.Gelu(onCpu, act == Activation.GeluTanh ? GeluApproximation.Tanh : GeluApproximation.None);
        var got = engine.Download(y).Data;
        Assert.That(Bits(got), Is.EqualTo(Bits(cpu.Download(cpuGelu).Data)), $"{Backend}: {act} of the convolution, bit for bit");
        Assert.That(got.Count(v => v < 0), Is.InRange(1, got.Length - 1), $"{act}: the negative dip is reached, not everywhere");
    }
}
