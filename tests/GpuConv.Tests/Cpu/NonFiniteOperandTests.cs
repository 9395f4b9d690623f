using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// A ±Inf or NaN in the operand the fast paths multiply by padding zeros — W for forward and
/// backward-data, dy for backward-filter — must give the direct sum's NaN/±Inf pattern (padded taps
/// left out, as the float64 reference and PyTorch's default CPU paths do), not 0 · Inf = NaN at the
/// borders; every algorithm the cpu backend offers, per-call and constant weights. Finite outputs
/// within 1e-5 of the reference (relative to the largest finite value).
/// </summary>
public sealed class NonFiniteOperandTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        var shapes = new (string Name, ConvSpec Spec, int[] X, int[] W)[]
        {
            ("3x3", new ConvSpec([3, 3], padBegin: [1]), [2, 16, 10, 10], [16, 16, 3, 3]),
            ("3x3-64", new ConvSpec([3, 3], padBegin: [1]), [1, 64, 12, 12], [64, 64, 3, 3]),
            ("3x3s2", new ConvSpec([3, 3], stride: [2], padBegin: [1]), [2, 16, 11, 11], [32, 16, 3, 3]),
            ("stem7", new ConvSpec([7, 7], stride: [2], padBegin: [3]), [1, 3, 20, 20], [8, 3, 7, 7]),
            ("depthwise", new ConvSpec([3, 3], padBegin: [1], groups: 16), [2, 16, 9, 9], [16, 1, 3, 3]),
            ("grouped", new ConvSpec([3, 3], padBegin: [1], groups: 4), [2, 16, 9, 9], [16, 4, 3, 3]),
            ("1d-unpadded", new ConvSpec([5]), [2, 8, 30], [6, 8, 5]),
        };
        foreach (var (name, spec, x, w) in shapes)
            foreach (var op in new[] { ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter })
                foreach (float value in new[] { float.NegativeInfinity, float.NaN })
                    yield return new TestCaseData(spec, x, w, op, value).SetName($"{name} {op} {value}");
    }

    [TestCaseSource(nameof(Cases))]
    public void PaddingZerosTimesANonFiniteOperandLeaveNoNaNOfTheirOwn(ConvSpec spec, int[] xShape, int[] wShape, ConvOp op, float value)
    {
        var p = ConvProblem.Create(spec, new TensorShape(xShape), new TensorShape(wShape), op);
        HostTensor x = HostTensor.Random(p.XShape, 1), w = HostTensor.Random(p.WShape, 2), y = HostTensor.Random(p.YShape, 3);
        HostTensor? bias = op == ConvOp.BackwardFilter ? null : HostTensor.Random(new TensorShape(p.BiasLength), 4);
        HostTensor operand = op == ConvOp.BackwardFilter ? y : w;
        operand.Data[operand.Data.Length / 3] = value;
        double[] reference = ReferenceConv.Run(p, x.Data, w.Data, y.Data, bias is null ? default : bias.Data);
        using var cpu = new CpuBackend(2);
        foreach (var algorithm in cpu.GetAlgorithms(p, ConvPrecision.Strict))
            foreach (bool constant in new[] { false, true })
            {
                var output = new HostTensor(p.OutputShape);
                var tensors = op switch
                {
                    ConvOp.Forward => new ConvTensors(x, w, output, bias) { ConstantWeights = constant },
                    ConvOp.BackwardData => new ConvTensors(output, w, y, bias) { ConstantWeights = constant },
                    _ => new ConvTensors(x, output, y),
                };
                cpu.Run(p, algorithm, tensors);
                string what = $"{algorithm.Name} {(constant ? "constant" : "per-call")}";
                for (int i = 0; i < reference.Length; i++)
                    if (!double.IsFinite(reference[i]) || !float.IsFinite(output.Data[i]))
                        Assert.That((double)output.Data[i], Is.EqualTo(reference[i]), $"{what}: element {i}");
                double error = ErrorMetrics.Compare(output.Data, reference).MaxRelative;
                Assert.That(error, Is.LessThan(1e-5), what);
            }
    }
}
