using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Relu6;

/// <summary>
/// On a GPU host: ForwardBiasActivation(Relu6) on the cudnn and the ptx backend, device-resident (plain and residual,
/// relu6(skip + conv + bias)) and through host tensors, against ReferenceConv + <see cref="ReferenceActivation"/>
/// (max relative error below 1e-4, strict fp32). cuDNN declines the fused call for ReLU6, so on the cudnn backend this
/// is the plain convolution followed by the PTX bias kernel with the ReLU6 code. Skipped with discovery's reason when no
/// GPU is usable; under the native fakes (CI) the convolutions run in the fakes and the kernels in the PTX interpreter.
/// </summary>
[TestFixture("cudnn"), TestFixture("ptx"), Category("Gpu"), NonParallelizable]
public class Relu6GpuTests(string backend) : GpuEngineOnBackend(backend)
{
    static readonly ConvSpec Spec = new([3, 3], padBegin: [1]);

    static void AssertCloseAndClamped(float[] got, double[] expected, string what)
    {
        var report = ErrorMetrics.Compare(got, expected);
        Assert.That(report.MaxRelative, Is.LessThan(1e-4), $"{what}: {report}");
        Assert.That(got.Count(v => v == 6f), Is.GreaterThan(0), $"{what}: the clamp at 6 is exercised");
        Assert.That(got.Count(v => v == 0), Is.GreaterThan(0), $"{what}: the clamp at 0 is exercised");
    }

    [Test]
    public void ForwardBiasRelu6MatchesTheReference_ResidentResidualAndHost()
    {
        var x = HostTensor.Random(new TensorShape(1, 8, 7, 7), 1);
        var w = HostTensor.Random(new TensorShape(12, 8, 3, 3), 2);
        // Biases of ±5: conv + bias crosses both 0 and 6.
        var b = new HostTensor(new TensorShape(12), [.. Enumerable.Range(0, 12).Select(k => (k % 3 - 1) * 5f + 0.25f * k)]);
        var problem = ConvProblem.Create(Spec, x.Shape, w.Shape, ConvOp.Forward);
        var plain = ReferenceConv.Forward(problem, x.Data, w.Data, b.Data);
        var expected = (double[])plain.Clone();
        ReferenceActivation.Apply(Activation.Relu6, expected);

        AssertCloseAndClamped(engine.ForwardBiasActivation(Spec, x, w, b, Activation.Relu6).Data, expected, $"{Backend} host overload");

        using var tx = engine.Upload(x);
        using var tw = engine.Upload(w);
        using var tb = engine.Upload(b);
        using var y = engine.ForwardBiasActivation(Spec, tx, tw, tb, Activation.Relu6);
        AssertCloseAndClamped(engine.Download(y).Data, expected, $"{Backend} resident");

        var skip = HostTensor.Random(problem.YShape, 3);
        var withSkip = plain.Select((v, i) => ReferenceActivation.Apply(Activation.Relu6, v + skip.Data[i])).ToArray();
        using var output = engine.Upload(skip);
        engine.ForwardBiasActivation(Spec, tx, tw, tb, Activation.Relu6, output: output, accumulate: true);
        AssertCloseAndClamped(engine.Download(output).Data, withSkip, $"{Backend} residual");
    }
}
