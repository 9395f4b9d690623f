using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Training;

/// <summary>
/// An accumulating forward run's add (output += conv + bias, then the activation) split over the CPU workers where the
/// output has at least <see cref="CpuBackend.MinParallelAccumulateSteps"/> steps of 4,096 floats: against float64 on
/// random non-zero initial outputs, and bit for bit equal to the same calls on one thread (whole steps per chunk, so
/// every step is the one the calling thread alone runs).
/// </summary>
public class AccumulateOnWorkersTests
{
    /// <summary>Outputs of 25 steps exactly (64 × 40 × 40), of 24 and a partial one (64 × 39 × 41), and of 3 (on the calling thread).</summary>
    [TestCase(40, 40, Activation.Identity)]
    [TestCase(39, 41, Activation.Relu)]
    [TestCase(39, 41, Activation.Silu)]
    [TestCase(40, 40, Activation.Relu6)]
    [TestCase(12, 16, Activation.Relu)]
    public void ParallelAddMatchesReferenceAndOneThreadBits(int h, int w, Activation activation)
    {
        var spec = new ConvSpec([1, 1], [1], [1], [0]);
        var p = ConvProblem.Create(spec, new TensorShape(1, 32, h, w), new TensorShape(64, 32, 1, 1));
        var (x, weight, bias, initial) = (HostTensor.Random(p.XShape, 21), HostTensor.Random(p.WShape, 22),
            HostTensor.Random(new TensorShape(64), 23), HostTensor.Random(p.YShape, 24));
        var conv = ReferenceConv.Run(p, x.Data, weight.Data, new float[p.YShape.ElementCountInt], bias.Data);
        var expected = new double[conv.Length];
        for (int i = 0; i < conv.Length; i++) expected[i] = ReferenceActivation.Apply(activation, initial.Data[i] + conv[i]);

        float[] Run(int threads)
        {
            using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, CpuThreads = threads, PersistPlans = false });
            using var tx = engine.Upload(x);
            using var tw = engine.Upload(weight);
            using var tb = engine.Upload(bias);
            float[] last = [];
            for (int run = 0; run < 3; run++)
            {
                using var y = engine.Upload(initial);
                engine.ForwardBiasActivation(spec, tx, tw, tb, activation, output: y, constantWeights: true, accumulate: true);
                last = engine.Download(y).Data;
            }
            return last;
        }
        var two = Run(2);
        var err = ErrorMetrics.Compare(two, expected);
        Assert.That(err.MaxRelative, Is.LessThan(1e-5), $"{p}, {activation}, two threads: {err}");
        Assert.That(two, Is.EqualTo(Run(1)), $"{p}, {activation}: two threads' bits against one thread's");
    }
}
