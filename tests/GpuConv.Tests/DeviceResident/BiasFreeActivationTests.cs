using GpuConv.Conv;
using GpuConv.Cpu.Elementwise;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.DeviceResident;

/// <summary>
/// ForwardBiasActivation without a bias (a layer with bias=False, as before a batch norm) on the CPU engine, through
/// host tensors and device-resident ones, plain and accumulating: act(conv(x, w)) (or act(y_old + conv(x, w))) within
/// <see cref="Tolerance"/> of the float64 reference, the same bits as Forward without a bias followed by the element-wise
/// activation, and, for a forward layer, fused into the CPU backend's run (no separate activation pass).
/// </summary>
[TestFixture, NonParallelizable]
public class BiasFreeActivationTests
{
    /// <summary>max |error| / max |expected|: fp32 sums of at most 216 products.</summary>
    const double Tolerance = 1e-5;

    ConvEngine engine = null!;

    [OneTimeSetUp]
    public void Open() => engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, Warning = _ => { } });

    [OneTimeTearDown]
    public void Close() => engine?.Dispose();

    public static IEnumerable<TestCaseData> Layers()
    {
        static TestCaseData Case(string name, ConvSpec spec, TensorShape x, TensorShape w) => new TestCaseData(spec, x, w).SetArgDisplayNames(name);
        yield return Case("2d-3x3-pad1", new ConvSpec([3, 3], padBegin: [1]), new TensorShape(2, 8, 9, 9), new TensorShape(12, 8, 3, 3));
        yield return Case("1d-k5-stride2", new ConvSpec([5], stride: [2], padBegin: [2]), new TensorShape(1, 6, 31), new TensorShape(4, 6, 5));
        yield return Case("3d-3x3x3", new ConvSpec([3, 3, 3], padBegin: [1]), new TensorShape(1, 3, 5, 6, 7), new TensorShape(4, 3, 3, 3, 3));
        yield return Case("2d-grouped", new ConvSpec([3, 3], padBegin: [1], groups: 2), new TensorShape(1, 8, 7, 7), new TensorShape(6, 4, 3, 3));
        yield return Case("2d-same-reflect", ConvSpec.Same([3, 3]).WithPaddingMode(PaddingMode.Reflect), new TensorShape(1, 4, 10, 9), new TensorShape(5, 4, 3, 3));
        yield return Case("2d-transposed", new ConvSpec([4, 4], stride: [2], padBegin: [1], transposed: true), new TensorShape(1, 6, 5, 5), new TensorShape(6, 3, 4, 4));
    }

    [TestCaseSource(nameof(Layers))]
    public void WithoutABiasIsTheActivationOfTheConvolution(ConvSpec spec, TensorShape xShape, TensorShape wShape)
    {
        var x = HostTensor.Random(xShape, 5);
        var w = HostTensor.Random(wShape, 6);
        var problem = ConvProblem.Create(spec, xShape, wShape, ConvOp.Forward);
        // Scaled so that ReLU6's 6 and SiLU's curve are both crossed.
        for (int i = 0; i < x.Data.Length; i++) x.Data[i] *= 3f;
        // A transposed layer's problem is the backward-data of its convolution, writing X.
        bool forward = problem.Op == ConvOp.Forward;
        var conv = forward ? ReferenceConv.Forward(problem, x.Data, w.Data) : ReferenceConv.BackwardData(problem, x.Data, w.Data);
        var skip = HostTensor.Random(forward ? problem.YShape : problem.XShape, 7);
        var failures = new List<string>();
        foreach (var act in Enum.GetValues<Activation>())
        {
            var expected = conv.Select(v => ReferenceActivation.Apply(act, v)).ToArray();
            var plain = engine.Forward(spec, x, w);
            if (act != Activation.Identity) CpuElementwise.Run(ConvEngine.ActivationOp(act), plain.Data, default, 0f, plain.Data);

            long passes = engine.SeparateActivationPasses;
            var host = engine.ForwardBiasActivation(spec, x, w, null, act);
            if (forward && act != Activation.Identity && engine.SeparateActivationPasses != passes)
                failures.Add($"{act} host: ran as a separate pass, not fused");
            Check(host.Data, expected, plain.Data, $"{act} host");

            using var tx = engine.Upload(x);
            using var tw = engine.Upload(w);
            passes = engine.SeparateActivationPasses;
            using var y = engine.ForwardBiasActivation(spec, tx, tw, null, act);
            if (forward && act != Activation.Identity && engine.SeparateActivationPasses != passes)
                failures.Add($"{act} resident: ran as a separate pass, not fused");
            Check(engine.Download(y).Data, expected, plain.Data, $"{act} resident");

            using var output = engine.Upload(skip);
            engine.ForwardBiasActivation(spec, tx, tw, null, act, output: output, accumulate: true);
            var withSkip = conv.Select((v, i) => ReferenceActivation.Apply(act, v + skip.Data[i])).ToArray();
            Check(engine.Download(output).Data, withSkip, null, $"{act} resident accumulating");
        }
        Assert.That(failures, Is.Empty);

        void Check(float[] got, double[] expected, float[]? bits, string what)
        {
            var report = ErrorMetrics.Compare(got, expected);
            if (!(report.MaxRelative <= Tolerance)) failures.Add($"{what}: {report}");
            if (bits is not null && CpuFusedActivationTestsAccess.FirstDifference(got, bits) is var at and >= 0)
                failures.Add($"{what}: element {at} is {got[at]:R}, Forward then the element-wise op gave {bits[at]:R}");
        }
    }

    [Test]
    public void AWrongBiasShapeIsStillRefused()
    {
        var spec = new ConvSpec([3, 3], padBegin: [1]);
        var x = HostTensor.Random(new TensorShape(1, 4, 6, 6), 1);
        var w = HostTensor.Random(new TensorShape(5, 4, 3, 3), 2);
        var ex = Assert.Throws<ArgumentException>(() => engine.ForwardBiasActivation(spec, x, w, HostTensor.Random(new TensorShape(4), 3), Activation.Relu));
        Assert.That(ex!.ParamName, Is.EqualTo("bias"));
        Assert.That(ex.Message, Does.Contain("[5]"));
    }
}

/// <summary>The bit comparison of <see cref="Cpu.CpuFusedActivationTests"/>, under a name that says where it comes from.</summary>
static class CpuFusedActivationTestsAccess
{
    public static int FirstDifference(float[] a, float[] b) => Cpu.CpuFusedActivationTests.FirstDifference(a, b);
}
