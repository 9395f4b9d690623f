using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu.Depthwise;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// The CPU backend's direct backward-data for 2-d 3x3 stride-2 depthwise layers (padding 1 at the start; <see
/// cref="DepthwiseBackwardDataStride2"/>) against ReferenceConv.BackwardData in float64 on random non-zero inputs, into a
/// dx filled with NaN: planes of every parity from 1 to 40 wide (rows under 16 take only the scalar ends, wider ones the
/// interleaved vectors too), every end padding, transposed convolutions with output padding, bias, batches and threads.
/// fp32 max relative error bound: 1e-5 (at most nine products a sum).
/// </summary>
public class DepthwiseBackwardDataStride2Tests
{
    static ConvProblem Depthwise(int n, int c, int h, int w, int padEnd) =>
        ConvProblem.Create(new ConvSpec([3, 3], [2, 2], padBegin: [1, 1], padEnd: [padEnd, padEnd], groups: c),
            new TensorShape(n, c, h, w), new TensorShape(c, 1, 3, 3), ConvOp.BackwardData);

    [TestCase(96, 112), TestCase(144, 56), TestCase(192, 28), TestCase(576, 14)]
    public void MobileNetV2sStrideTwoDepthwiseLayersLeadWithIt(int c, int size)
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        var p = Depthwise(1, c, size, size, 1);
        Assert.That(cpu.GetAlgorithms(p, ConvPrecision.Strict)[0].Name, Is.EqualTo(CpuBackend.DirectDepthwise));
        Assert.That(BackwardDataCheck.WorstError(cpu, p, CpuBackend.DirectDepthwise, 5, bias: false, constant: false),
            Is.LessThan(BackwardDataCheck.Tolerance));
    }

    [Test]
    public void RandomPlanesMatchTheReference([Values(1, 3)] int threads)
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: threads);
        var rng = new Random(27 + threads);
        var failures = new List<string>();
        double worst = 0;
        for (int i = 0; i < 120; i++)
        {
            int h = rng.Next(1, 41), w = i < 40 ? i + 1 : rng.Next(1, 41), padEnd = rng.Next(0, 3);
            int n = rng.Next(1, 3), c = rng.Next(2, 6);   // one channel is groups = 1, not depthwise
            ConvProblem p;
            try { p = Depthwise(n, c, h, w, padEnd); }
            catch (ArgumentException) { continue; }   // an output of no rows
            Assert.That(DepthwiseBackwardDataStride2.Applies(p), Is.True, p.ToString());
            double e = BackwardDataCheck.WorstError(cpu, p, CpuBackend.DirectDepthwise, 100 + i, bias: i % 2 == 0, constant: i % 3 == 0);
            worst = Math.Max(worst, e);
            if (!(e < BackwardDataCheck.Tolerance)) failures.Add($"{p}: {e:g3}");
        }
        TestContext.Out.WriteLine($"worst max relative error {worst:g3}");
        Assert.That(failures, Is.Empty);
    }

    [Test]
    public void TransposedConvolutionsWithOutputPaddingMatchTheReference()
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 2);
        foreach (var (input, outputPadding) in new[] { (7, 0), (7, 1), (16, 1), (9, 0), (1, 1), (20, 0) })
        {
            var p = BackwardDataCheck.Transposed([3, 3], [2, 2], [1, 1], [1, 1], [outputPadding, outputPadding], null,
                groups: 4, n: 2, cin: 4, coutPerGroup: 1, input: [input, input + 3]);
            Assert.That(DepthwiseBackwardDataStride2.Applies(p), Is.True, p.ToString());
            Assert.That(BackwardDataCheck.WorstError(cpu, p, CpuBackend.DirectDepthwise, input, bias: true, constant: false),
                Is.LessThan(BackwardDataCheck.Tolerance), p.ToString());
        }
    }

    [Test]
    public void OtherGeometriesAreNotOffered()
    {
        using var cpu = new CpuBackend(maxDegreeOfParallelism: 1);
        ConvProblem P(ConvSpec spec, int k = 8) =>
            ConvProblem.Create(spec, new TensorShape([1, 8, .. Enumerable.Repeat(12, spec.Rank)]), new TensorShape([k, 8 / spec.Groups, .. spec.Kernel]), ConvOp.BackwardData);
        var others = new[]
        {
            P(new ConvSpec([3, 3], [1, 1], padBegin: [1, 1], groups: 8)),                    // stride 1
            P(new ConvSpec([3, 3], [2, 2], padBegin: [0, 0], groups: 8)),                    // no padding at the start
            P(new ConvSpec([3, 3], [2, 2], [2, 2], [1, 1], groups: 8)),                      // dilation 2
            P(new ConvSpec([5, 5], [2, 2], padBegin: [2, 2], groups: 8)),                    // 5x5
            P(new ConvSpec([3, 3], [2, 2], padBegin: [1, 1], groups: 8), k: 16),             // two output channels a group
            P(new ConvSpec([3, 3], [2, 2], padBegin: [1, 1], groups: 4)),                    // not depthwise
            P(new ConvSpec([3], [2], padBegin: [1], groups: 8)),                             // 1-d
            P(new ConvSpec([3, 3, 3], [2, 2, 2], padBegin: [1, 1, 1], groups: 8)),           // 3-d
        };
        foreach (var p in others)
        {
            Assert.That(DepthwiseBackwardDataStride2.Applies(p), Is.False, p.ToString());
            Assert.That(BackwardDataCheck.Offered(cpu, p, CpuBackend.DirectDepthwise), Is.Null, p.ToString());
        }
    }
}
