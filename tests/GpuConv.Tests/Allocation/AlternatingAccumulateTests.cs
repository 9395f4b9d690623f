using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Allocation;

/// <summary>
/// Accumulating forward runs whose output sizes alternate, as a network's residual adds do from stage to stage
/// (MobileNetV2: 5 sizes): the CPU backend holds one result array per size, so a warm pass over the layers allocates
/// no result array (one array of the last size reallocated at every change of size: 561 KB per MobileNetV2 image), and
/// each layer's sum is still exactly output + (conv + bias).
/// </summary>
[TestFixture]
public sealed class AlternatingAccumulateTests
{
    static readonly ConvSpec OneByOne = new([1, 1]);

    /// <summary>A 1×1 layer C → K on an H×W plane with its tensors in the engine's memory; Skip is the tensor accumulated into.</summary>
    sealed class Layer : IDisposable
    {
        public readonly Tensor X, W, Bias, Skip;
        public Layer(ConvEngine engine, int c, int k, int size, int seed)
        {
            X = engine.Upload(HostTensor.Random(new TensorShape(1, c, size, size), seed));
            W = engine.Upload(HostTensor.Random(new TensorShape(k, c, 1, 1), seed + 1));
            Bias = engine.Upload(HostTensor.Random(new TensorShape(k), seed + 2));
            Skip = engine.Upload(HostTensor.Random(new TensorShape(1, k, size, size), seed + 3));
        }

        public void Accumulate(ConvEngine engine) =>
            engine.Forward(OneByOne, X, W, Bias, output: Skip, constantWeights: true, accumulate: true);

        public void Dispose()
        {
            foreach (var t in new[] { X, W, Bias, Skip }) ((IDisposable)t).Dispose();
        }
    }

    static ConvEngine OpenCpu() => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, Backend = "cpu", PersistPlans = false, CpuThreads = 1 });

    static Layer[] Layers(ConvEngine engine, int count) =>
        [.. Enumerable.Range(0, count).Select(i => new Layer(engine, c: 8, k: 4 + i, size: 6 + i % 3, seed: 10 * i + 1))];

    [Test]
    public void AWarmPassOverLayersOfDifferentSizesAllocatesNothing()
    {
        using var engine = OpenCpu();
        var layers = Layers(engine, 3);
        try
        {
            double bytes = WarmCalls.ProcessBytesPerCall(() =>
            {
                foreach (var l in layers) l.Accumulate(engine);
            });
            // Neither a result array (at least 144 floats, 600 B) nor a tensor set (ConvTensors, 56 B: the engine keeps
            // one per weight tensor, so each layer's is found again) per call.
            Assert.That(bytes, Is.Zero, $"{bytes:F1} B per pass over {layers.Length} accumulating layers of {layers.Length} output sizes");
        }
        finally
        {
            foreach (var l in layers) l.Dispose();
        }
    }

    /// <summary>More sizes than the backend holds arrays for (one dropped and made again each pass): every sum still exact.</summary>
    [TestCase(3)]
    [TestCase(CpuBackend.AccumulateScratchLengths + 2)]
    public void EachAlternatingAccumulateIsExactlyOutputPlusConvPlusBias(int layerCount)
    {
        using var engine = OpenCpu();
        var layers = Layers(engine, layerCount);
        try
        {
            for (int pass = 0; pass < 3; pass++)
                foreach (var l in layers)
                {
                    float[] before = engine.Download(l.Skip).Data;
                    // The same plan on a fresh output: conv + bias, rounded to float, as the accumulating run computes it first.
                    using var fresh = engine.Forward(OneByOne, l.X, l.W, l.Bias, constantWeights: true);
                    float[] convBias = engine.Download(fresh).Data;
                    l.Accumulate(engine);
                    float[] after = engine.Download(l.Skip).Data;
                    for (int i = 0; i < after.Length; i++)
                        if (BitConverter.SingleToInt32Bits(after[i]) != BitConverter.SingleToInt32Bits(before[i] + convBias[i]))
                            Assert.Fail($"pass {pass}, layer {l.Skip.Shape}, element {i}: {after[i]:R}, expected {before[i]:R} + {convBias[i]:R} = {before[i] + convBias[i]:R}");
                }
        }
        finally
        {
            foreach (var l in layers) l.Dispose();
        }
    }
}
