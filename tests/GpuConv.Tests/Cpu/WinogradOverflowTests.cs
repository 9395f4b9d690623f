using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// Finite inputs whose sums overflow fp32: the direct sum (and PyTorch) gives +Inf; Winograd's
/// transforms add and subtract the overflowed values into NaN unless the run falls back to the direct
/// kernels. Every output must equal the reference's ±Inf, for Winograd forward and for backward-data's
/// forward-phases (whose 3x3 phase runs may take Winograd), with constant weights.
/// </summary>
public sealed class WinogradOverflowTests
{
    [TestCase(ConvOp.Forward)]
    [TestCase(ConvOp.BackwardData)]
    public void OverflowingFiniteInputsGiveTheDirectSumsInfinities(ConvOp op)
    {
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(1, 64, 14, 14), new TensorShape(64, 64, 3, 3), op);
        HostTensor x = HostTensor.Random(p.XShape, 1), w = HostTensor.Random(p.WShape, 2), y = HostTensor.Random(p.YShape, 3);
        HostTensor input = op == ConvOp.Forward ? x : y;
        for (int i = 0; i < input.Data.Length; i++) input.Data[i] = MathF.Abs(input.Data[i]) * 3e37f;
        for (int i = 0; i < w.Data.Length; i++) w.Data[i] = MathF.Abs(w.Data[i]) * 10f;
        // Rounded to fp32: the float64 sums themselves stay finite.
        float[] reference = ReferenceConv.Run(p, x.Data, w.Data, y.Data).Select(v => (float)v).ToArray();
        Assert.That(reference.Count(float.IsPositiveInfinity), Is.GreaterThan(reference.Length / 2), "the sums overflow");
        using var cpu = new CpuBackend(2);
        var algorithms = cpu.GetAlgorithms(p.WithConstantWeights(true), ConvPrecision.Strict);
        // Winograd exists only on the tiers with channel-tile kernels; on Vector128 (NEON on ARM64) the forward's
        // candidates are direct sums, still checked for their infinities below.
        if (op == ConvOp.BackwardData || ChannelTileTier.HasKernels)
            Assert.That(algorithms.Select(a => a.Name), Has.Some.Matches<string>(n => n.StartsWith("winograd", StringComparison.Ordinal) || n == "forward-phases"));
        foreach (var algorithm in algorithms)
        {
            var output = new HostTensor(p.OutputShape);
            cpu.Run(p, algorithm, op == ConvOp.Forward ? new ConvTensors(x, w, output) { ConstantWeights = true } : new ConvTensors(output, w, y) { ConstantWeights = true });
            for (int i = 0; i < reference.Length; i++)
                if (!float.IsFinite(reference[i]) || !float.IsFinite(output.Data[i]))
                    Assert.That(output.Data[i], Is.EqualTo(reference[i]), $"{algorithm.Name}: element {i}");
        }
    }
}
