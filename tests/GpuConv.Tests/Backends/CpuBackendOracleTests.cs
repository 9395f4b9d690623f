using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Backends;

/// <summary>
/// The CPU backend judged by numbers nobody on this project computed: PyTorch's float64 results
/// (every candidate algorithm, all three ops, every rank). The random sweeps compare with ReferenceConv;
/// these would still fail if the reference and the fast paths ever came to share a geometry bug.
/// Tolerance: fp32 accumulation against float64, 1e-5 normwise relative.
/// </summary>
public class CpuBackendOracleTests
{
    const double Tolerance = 1e-5;

    [Test]
    public void EveryAlgorithmMatchesTheHandComputed3dCase()
    {
        var p = HandComputed3d.Problem;
        using var backend = new CpuBackend(maxDegreeOfParallelism: 2);
        var algorithms = backend.GetAlgorithms(p, ConvPrecision.Strict);
        Assert.That(algorithms, Is.Not.Empty, $"no CPU algorithm for {p}");
        foreach (var algorithm in algorithms)
        {
            var y = new HostTensor(p.YShape);
            Array.Fill(y.Data, float.NaN);
            backend.Run(p, algorithm, new ConvTensors(new HostTensor(p.XShape, HandComputed3d.X()), new HostTensor(p.WShape, HandComputed3d.W), y));
            // Every value is an integer below 2^24 and each sum has at most two non-zero terms: exact in fp32.
            Assert.That(y.Data.Select(v => (double)v), Is.EqualTo(HandComputed3d.Y), algorithm.Key);
        }
    }

    [Test]
    public void EveryBackwardAlgorithmHitsTheHandComputed3dPositions([Values(ConvOp.BackwardData, ConvOp.BackwardFilter)] ConvOp op)
    {
        // One-hot dy per output: backward-data puts 1000 / 1 where the first / last tap reads; backward-filter
        // reads x (each value spells its position) at every tap's input. Integers below 2^24: exact in fp32.
        var p = HandComputed3d.Problem.WithOp(op);
        var x = HandComputed3d.X();
        using var backend = new CpuBackend(maxDegreeOfParallelism: 2);
        var algorithms = backend.GetAlgorithms(p, ConvPrecision.Strict);
        Assert.That(algorithms, Is.Not.Empty, $"no CPU algorithm for {p}");
        foreach (var algorithm in algorithms)
        {
            int o = 0;
            foreach (var (od, oh, ow) in HandComputed3d.Outputs())
            {
                var dy = new HostTensor(p.YShape);
                dy.Data[o++] = 1;
                var expected = new double[op == ConvOp.BackwardData ? x.Length : 8];
                if (op == ConvOp.BackwardData)
                {
                    if (HandComputed3d.InputOf(od, oh, ow, 0, 0, 0) is { } first) expected[HandComputed3d.Flat(first)] += 1000;
                    if (HandComputed3d.InputOf(od, oh, ow, 1, 1, 1) is { } last) expected[HandComputed3d.Flat(last)] += 1;
                }
                else
                    for (int t = 0; t < 8; t++)
                        if (HandComputed3d.InputOf(od, oh, ow, t / 4, t / 2 % 2, t % 2) is { } i)
                            expected[t] = 100 * (i.D + 1) + 10 * (i.H + 1) + (i.W + 1);
                var xt = op == ConvOp.BackwardData ? new HostTensor(p.XShape) : new HostTensor(p.XShape, (float[])x.Clone());
                var wt = op == ConvOp.BackwardData ? new HostTensor(p.WShape, HandComputed3d.W) : new HostTensor(p.WShape);
                var output = op == ConvOp.BackwardData ? xt : wt;
                Array.Fill(output.Data, float.NaN);
                backend.Run(p, algorithm, new ConvTensors(xt, wt, dy));
                Assert.That(output.Data.Select(v => (double)v), Is.EqualTo(expected), $"{algorithm.Key}, output ({od}, {oh}, {ow})");
            }
        }
    }

    [Test]
    public void EveryAlgorithmMatchesTorch([ValueSource(typeof(TorchCases), nameof(TorchCases.Names))] string name,
        [Values(ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter)] ConvOp op)
    {
        var c = TorchCases.Get(name);
        var p = c.Problem.WithOp(op);
        using var backend = new CpuBackend(maxDegreeOfParallelism: 2);
        var algorithms = backend.GetAlgorithms(p, ConvPrecision.Strict);
        Assert.That(algorithms, Is.Not.Empty, $"no CPU algorithm for {p}");
        foreach (var algorithm in algorithms)
        {
            var x = new HostTensor(p.XShape, (float[])c.X.Clone());
            var w = new HostTensor(p.WShape, (float[])c.W.Clone());
            var y = new HostTensor(p.YShape, (float[])c.Dy.Clone());
            var output = op switch { ConvOp.Forward => y, ConvOp.BackwardData => x, _ => w };
            Array.Fill(output.Data, float.NaN);
            backend.Run(p, algorithm, new ConvTensors(x, w, y));
            var report = ErrorMetrics.Compare(output.Data, c.Expected(op));
            Assert.That(report.MaxRelative, Is.LessThan(Tolerance), $"{algorithm.Key} on {name} ({p}): {report}");
        }
    }
}
