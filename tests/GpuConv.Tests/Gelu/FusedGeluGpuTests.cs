using GpuConv.Conv;
using GpuConv.Cuda.Discovery;
using GpuConv.Reference;
using GpuConv.Tensors;

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
public class FusedGeluGpuTests(string backend)
{
    ConvEngine engine = null!;
    ConvEngine cpu = null!;

    [OneTimeSetUp]
    public void Open()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, Backend = backend, PersistPlans = false, Warning = _ => { } });
        cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
    }

    [OneTimeTearDown]
    public void Close()
    {
        engine?.Dispose();
        cpu?.Dispose();
    }

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

        AssertClose(engine.ForwardBiasActivation(Spec, x, w, b, act).Data, expected, $"{backend} {act} host overload");

        using var tx = engine.Upload(x);
        using var tw = engine.Upload(w);
        using var tb = engine.Upload(b);
        using var y = engine.ForwardBiasActivation(Spec, tx, tw, tb, act);
        var got = engine.Download(y).Data;
        AssertClose(got, expected, $"{backend} {act} resident");
        Assert.That(got.Count(v => v < 0), Is.InRange(1, got.Length - 1), $"{act}: the negative dip is reached, not everywhere");
        // The same device convolution without bias, then bias (one rounding, as the kernel's add.rn) and the element-wise Gelu on the CPU engine.
        using var conv = engine.Forward(Spec, tx, tw);
        var withBias = engine.Download(conv).Data.Select((v, i) => v + b.Data[i / 49 % 12]).ToArray();
        using var onCpu = cpu.Upload(new HostTensor(problem.YShape, withBias));
        using var cpuGelu = cpu.Gelu(onCpu, act == Activation.GeluTanh ? GeluApproximation.Tanh : GeluApproximation.None);
        Assert.That(Bits(got), Is.EqualTo(Bits(cpu.Download(cpuGelu).Data)), $"{backend}: the fused {act} is the CPU's element-wise Gelu of conv + bias, bit for bit");

        var skip = HostTensor.Random(problem.YShape, 3);
        var withSkip = plain.Select((v, i) => ReferenceActivation.Apply(act, v + skip.Data[i])).ToArray();
        using var output = engine.Upload(skip);
        engine.ForwardBiasActivation(Spec, tx, tw, tb, act, output: output, accumulate: true);
        AssertClose(engine.Download(output).Data, withSkip, $"{backend} {act} residual");
    }
}
