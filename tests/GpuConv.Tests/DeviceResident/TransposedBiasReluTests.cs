using GpuConv.Conv;
using GpuConv.Cuda.Discovery;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.DeviceResident;

/// <summary>
/// ForwardBiasActivation(ReLU) on a transposed layer, device-resident: relu(conv_transpose(x, W) + b) in the output,
/// the input untouched. Found by samples/GpuConv.DeviceChain: on a GPU the engine's unfused bias + ReLU step
/// (the PTX bias kernel) was given the layer's input (the underlying Y) instead of its output (the underlying X),
/// because it asked problem.Spec.Transposed, which is never true (a transposed layer is stored as backward-data).
/// With C_in ≠ C_out that threw; with C_in = C_out it silently added bias and ReLU to the input and returned an
/// output with neither. Judged against the float64 reference (max |error| / max |reference| ≤ 1e-5, strict fp32).
/// </summary>
static class TransposedBiasRelu
{
    // ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1), and a 2x2 stride-2 one without padding.
    public static readonly ConvSpec Padded = new ConvSpec([3, 3], stride: [2], padBegin: [1]).AsTransposed([1, 1]);
    public static readonly ConvSpec Unpadded = new ConvSpec([2, 2], stride: [2]).AsTransposed();

    public static void Check(ConvEngine engine, ConvSpec spec, int cin, int cout, int seed)
    {
        var x = HostTensor.Random(new TensorShape(2, cin, 5, 6), seed);
        var w = HostTensor.Random(new TensorShape(cin, cout, spec.Kernel[0], spec.Kernel[1]), seed + 1);
        var b = HostTensor.Random(new TensorShape(cout), seed + 2);
        var problem = ConvProblem.Create(spec, x.Shape, w.Shape);
        var expected = ReferenceConv.BackwardData(problem, x.Data, w.Data, b.Data).Select(v => Math.Max(v, 0)).ToArray();

        using var dx = engine.Upload(x);
        using var dw = engine.Upload(w);
        using var db = engine.Upload(b);
        using var y = engine.ForwardBiasActivation(spec, dx, dw, db, Activation.Relu, constantWeights: true);
        var got = engine.Download(y);
        Assert.That(got.Shape, Is.EqualTo(problem.OutputShape));
        var error = ErrorMetrics.Compare(got.Data, expected);
        Assert.That(error.MaxRelative, Is.LessThanOrEqualTo(1e-5), $"{spec} {cin}->{cout} on {engine.LastPlan?.Algorithm.Key}: {error}");
        Assert.That(got.Data.Min(), Is.GreaterThanOrEqualTo(0f), "ReLU applied to the output");
        Assert.That(engine.Download(dx).Data, Is.EqualTo(x.Data), "the layer input is left as it was");
    }
}

/// <summary>The CPU path (plain CI): the same call on host memory.</summary>
public class TransposedBiasReluTests
{
    [TestCase(16, 16), TestCase(32, 16), TestCase(8, 12)]
    public void ForwardBiasActivation_TransposedLayer_ReluOnTheOutputOnly_Cpu(int cin, int cout)
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        TransposedBiasRelu.Check(engine, TransposedBiasRelu.Padded, cin, cout, seed: 10 * cin + cout);
        TransposedBiasRelu.Check(engine, TransposedBiasRelu.Unpadded, cin, cout, seed: 20 * cin + cout);
    }
}

/// <summary>Each GPU backend forced (cudnn runs the transposed layer, the PTX kernel adds bias and ReLU; ptx does both).</summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class TransposedBiasReluGpuTests
{
    [TestCase("cudnn", 16, 16), TestCase("cudnn", 32, 16), TestCase("ptx", 16, 16), TestCase("ptx", 8, 12)]
    public void ForwardBiasActivation_TransposedLayer_ReluOnTheOutputOnly_Gpu(string backend, int cin, int cout)
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, Backend = backend, PersistPlans = false });
        TransposedBiasRelu.Check(engine, TransposedBiasRelu.Padded, cin, cout, seed: 10 * cin + cout);
        TransposedBiasRelu.Check(engine, TransposedBiasRelu.Unpadded, cin, cout, seed: 20 * cin + cout);
    }
}
