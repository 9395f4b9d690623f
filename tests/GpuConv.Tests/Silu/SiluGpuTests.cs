using GpuConv.Conv;
using GpuConv.Cpu.Elementwise;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Silu;

/// <summary>
/// On a GPU host, with the cudnn and the ptx backend: the device's Silu and SiluBackward (kernels/elementwise.ptx) give
/// the CPU loops' bits over 65 536 float32 bit patterns spread over every exponent (NaN, ±∞ and subnormals included:
/// the proof that the GPU's fma.rn / mul.rn / div.rn and the integer 2^k match .NET's); and
/// ForwardBiasActivation(Silu) device-resident (plain and residual, silu(skip + conv + bias)) and through host tensors
/// against ReferenceConv + <see cref="ReferenceActivation"/> (max relative error below 1e-4, strict fp32), the resident
/// result bit for bit the CPU's silu of the device's own convolution plus bias. cuDNN declines the fused call for SiLU,
/// so on the cudnn backend this is the plain convolution followed by the PTX bias kernel with the SiLU code. Skipped
/// with discovery's reason when no GPU is usable; under the native fakes (CI) the convolutions run in the fakes and the
/// kernels in the PTX interpreter.
/// </summary>
[TestFixture("cudnn"), TestFixture("ptx"), Category("Gpu"), NonParallelizable]
public class SiluGpuTests(string backend) : GpuEngineOnBackend(backend)
{
    static uint[] Bits(float[] v) => [.. v.Select(BitConverter.SingleToUInt32Bits)];

    [Test]
    public void ElementwiseSiluGivesTheCpuBitsOverEveryExponent()
    {
        const int n = 1 << 16;
        var x = new float[n];
        var dy = new float[n];
        var rng = new Random(7);
        for (int i = 0; i < n; i++)
        {
            x[i] = BitConverter.UInt32BitsToSingle((uint)i * 65_537u + (uint)rng.Next(65_537));
            dy[i] = (float)(rng.NextDouble() * 4 - 2);
        }
        var shape = new TensorShape(n);
        using var gx = engine.Upload(new HostTensor(shape, x));
        using var gdy = engine.Upload(new HostTensor(shape, dy));
        using var y = engine.Silu(gx);
        using var dx = engine.SiluBackward(gdy, gx);
        var expectedY = new float[n];
        var expectedDx = new float[n];
        CpuElementwise.Run(ElementwiseOp.Silu, x, x, 0f, expectedY);
        CpuElementwise.Run(ElementwiseOp.SiluBackward, dy, x, 0f, expectedDx);
        // NaN included: both sides store the canonical NaN 0x7FFFFFFF.
        Assert.That(Bits(engine.Download(y).Data), Is.EqualTo(Bits(expectedY)), $"{Backend}: silu_f32");
        Assert.That(Bits(engine.Download(dx).Data), Is.EqualTo(Bits(expectedDx)), $"{Backend}: silu_backward_f32");
    }

    static readonly ConvSpec Spec = new([3, 3], padBegin: [1]);

    static void AssertClose(float[] got, double[] expected, string what)
    {
        var report = ErrorMetrics.Compare(got, expected);
        Assert.That(report.MaxRelative, Is.LessThan(1e-4), $"{what}: {report}");
        Assert.That(got.Count(v => v < 0), Is.GreaterThan(0), $"{what}: the negative dip is reached");
    }

    [Test]
    public void ForwardBiasSiluMatchesTheReference_ResidentResidualAndHost()
    {
        var x = HostTensor.Random(new TensorShape(1, 8, 7, 7), 1);
        var w = HostTensor.Random(new TensorShape(12, 8, 3, 3), 2);
        // Biases of ±5: conv + bias spans SiLU's negative dip and its near-linear end.
        var b = new HostTensor(new TensorShape(12), [.. Enumerable.Range(0, 12).Select(k => (k % 3 - 1) * 5f + 0.25f * k)]);
        var problem = ConvProblem.Create(Spec, x.Shape, w.Shape, ConvOp.Forward);
        var plain = ReferenceConv.Forward(problem, x.Data, w.Data, b.Data);
        var expected = (double[])plain.Clone();
        ReferenceActivation.Apply(Activation.Silu, expected);

        AssertClose(engine.ForwardBiasActivation(Spec, x, w, b, Activation.Silu).Data, expected, $"{Backend} host overload");

        using var tx = engine.Upload(x);
        using var tw = engine.Upload(w);
        using var tb = engine.Upload(b);
        using var y = engine.ForwardBiasActivation(Spec, tx, tw, tb, Activation.Silu);
        var got = engine.Download(y).Data;
        AssertClose(got, expected, $"{Backend} resident");
        // The same device convolution without bias, then bias (one rounding, as the kernel's add.rn) and silu on the CPU.
        using var conv = engine.Forward(Spec, tx, tw);
        var withBias = engine.Download(conv).Data.Select((v, i) => v + b.Data[i / 49 % 12]).ToArray();
        var cpuSilu = new float[withBias.Length];
        CpuElementwise.Run(ElementwiseOp.Silu, withBias, withBias, 0f, cpuSilu);
        Assert.That(Bits(got), Is.EqualTo(Bits(cpuSilu)), $"{Backend}: the fused SiLU is the CPU's silu of conv + bias, bit for bit");

        var skip = HostTensor.Random(problem.YShape, 3);
        var withSkip = plain.Select((v, i) => ReferenceActivation.Apply(Activation.Silu, v + skip.Data[i])).ToArray();
        using var output = engine.Upload(skip);
        engine.ForwardBiasActivation(Spec, tx, tw, tb, Activation.Silu, output: output, accumulate: true);
        AssertClose(engine.Download(output).Data, withSkip, $"{Backend} residual");
    }
}
