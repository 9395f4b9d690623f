using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.DeviceResident;

/// <summary>
/// On a GPU host: ForwardBiasActivation without a bias on the cudnn and the ptx backend, through host tensors and
/// device-resident ones (plain and accumulating), every activation, against ReferenceConv + <see cref="ReferenceActivation"/>
/// (max relative error below 1e-4, strict fp32). cuDNN's fused call needs a bias and declines, so the activation runs as
/// the element-wise kernel on the stream. Skipped with discovery's reason when no GPU is usable; under the native fakes
/// (CI) the convolutions run in the fakes and the kernels in the PTX interpreter.
/// </summary>
[TestFixture("cudnn"), TestFixture("ptx"), Category("Gpu"), NonParallelizable]
public class BiasFreeActivationGpuTests(string backend) : GpuEngineOnBackend(backend)
{
    [Test]
    public void WithoutABiasIsTheActivationOfTheConvolution([Values] Activation act)
    {
        var spec = new ConvSpec([3, 3], padBegin: [1]);
        var x = HostTensor.Random(new TensorShape(1, 8, 7, 7), 1);
        for (int i = 0; i < x.Data.Length; i++) x.Data[i] *= 3f; // crosses ReLU6's 6
        var w = HostTensor.Random(new TensorShape(12, 8, 3, 3), 2);
        var problem = ConvProblem.Create(spec, x.Shape, w.Shape, ConvOp.Forward);
        var conv = ReferenceConv.Forward(problem, x.Data, w.Data);
        var expected = conv.Select(v => ReferenceActivation.Apply(act, v)).ToArray();

        AssertClose(engine.ForwardBiasActivation(spec, x, w, null, act).Data, expected, "host overload");

        using var tx = engine.Upload(x);
        using var tw = engine.Upload(w);
        using var y = engine.ForwardBiasActivation(spec, tx, tw, null, act);
        AssertClose(engine.Download(y).Data, expected, "resident");

        var skip = HostTensor.Random(problem.YShape, 3);
        using var output = engine.Upload(skip);
        engine.ForwardBiasActivation(spec, tx, tw, null, act, output: output, accumulate: true);
        AssertClose(engine.Download(output).Data, conv.Select((v, i) => ReferenceActivation.Apply(act, v + skip.Data[i])).ToArray(), "resident accumulating");

        void AssertClose(float[] got, double[] want, string what)
        {
            var report = ErrorMetrics.Compare(got, want);
            Assert.That(report.MaxRelative, Is.LessThan(1e-4), $"{Backend} {act} {what}: {report}");
        }
    }
}
