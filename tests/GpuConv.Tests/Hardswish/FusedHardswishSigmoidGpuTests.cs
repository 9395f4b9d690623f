using GpuConv.Conv;
using GpuConv.Cpu.Elementwise;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Hardswish;

/// <summary>
/// On a GPU host, with the cudnn and the ptx backend: ForwardBiasActivation(Hardswish / Sigmoid / Hardsigmoid)
/// device-resident (plain and residual) and through host tensors against ReferenceConv + <see cref="ReferenceActivation"/>
/// (max relative error below 1e-4, strict fp32), the resident result bit for bit the CPU element-wise op of the device's
/// own convolution plus bias. cuDNN declines the fused call for them, so on the cudnn backend this is the plain
/// convolution followed by the PTX bias kernel with the activation's code. Skipped with discovery's reason when no GPU is
/// usable; under the native fakes (CI) the convolutions run in the fakes and the kernels in the PTX interpreter.
/// </summary>
[TestFixture("cudnn"), TestFixture("ptx"), Category("Gpu"), NonParallelizable]
public class FusedHardswishSigmoidGpuTests(string backend) : GpuEngineOnBackend(backend)
{
    static uint[] Bits(float[] v) => [.. v.Select(BitConverter.SingleToUInt32Bits)];

    static readonly ConvSpec Spec = new([3, 3], padBegin: [1]);

    static void AssertClose(float[] got, double[] expected, string what)
    {
        var report = ErrorMetrics.Compare(got, expected);
        Assert.That(report.MaxRelative, Is.LessThan(1e-4), $"{what}: {report}");
    }

    [Test]
    public void ForwardBiasActivationMatchesTheReference_ResidentResidualAndHost(
        [Values(Activation.Hardswish, Activation.Sigmoid, Activation.Hardsigmoid)] Activation act)
    {
        var x = HostTensor.Random(new TensorShape(1, 8, 7, 7), 1);
        var w = HostTensor.Random(new TensorShape(12, 8, 3, 3), 2);
        // Biases of ±5: conv + bias spans both ends of the hard clamp (±3) and sigmoid's flat ends.
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
        if (act != Activation.Sigmoid) Assert.That(got.Count(v => v == 0), Is.InRange(1, got.Length - 1), $"{act}: the low clamp is reached, not everywhere");
        // The same device convolution without bias, then bias (one rounding, as the kernel's add.rn) and the op on the CPU.
        using var conv = engine.Forward(Spec, tx, tw);
        var withBias = engine.Download(conv).Data.Select((v, i) => v + b.Data[i / 49 % 12]).ToArray();
        var cpu = new float[withBias.Length];
        CpuElementwise.Run(ConvEngine.ActivationOp(act), withBias, default, 0f, cpu);
        Assert.That(Bits(got), Is.EqualTo(Bits(cpu)), $"{Backend}: the fused {act} is the CPU's op of conv + bias, bit for bit");

        var skip = HostTensor.Random(problem.YShape, 3);
        var withSkip = plain.Select((v, i) => ReferenceActivation.Apply(act, v + skip.Data[i])).ToArray();
        using var output = engine.Upload(skip);
        engine.ForwardBiasActivation(Spec, tx, tw, tb, act, output: output, accumulate: true);
        AssertClose(engine.Download(output).Data, withSkip, $"{Backend} {act} residual");
    }
}
