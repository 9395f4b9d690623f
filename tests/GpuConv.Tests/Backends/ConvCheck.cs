using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Backends;

/// <summary>Runs one problem on a backend with every candidate algorithm and compares with ReferenceConv.</summary>
public static class ConvCheck
{
    /// <summary>
    /// Worst max-relative error over the problem's algorithms, with a description of the worst case.
    /// A backend that offers no algorithm for the problem gets an infinite error: an empty loop must not
    /// read as a pass. <paramref name="tally"/>, when given, counts the runs per op and rank so a sweep
    /// can show at the end that it ran what it meant to.
    /// </summary>
    public static (double Error, string Where) AllAlgorithms(IConvBackend backend, ConvProblem p, int seed, bool withBias, SweepTally? tally = null)
    {
        var algorithms = backend.GetAlgorithms(p, ConvPrecision.Strict).ToList();
        if (algorithms.Count == 0)
            return (double.PositiveInfinity, $"{backend.GetType().Name} offers no algorithm for {p} ({p.Op}, rank {p.Rank})");
        var x = HostTensor.Random(p.XShape, seed);
        var w = HostTensor.Random(p.WShape, seed + 1);
        var y = HostTensor.Random(p.YShape, seed + 2);
        HostTensor? bias = withBias && p.Op != ConvOp.BackwardFilter ? HostTensor.Random(new TensorShape(p.BiasLength), seed + 3) : null;
        double[] expected = ReferenceConv.Run(p, x.Data, w.Data, y.Data, bias is null ? default : bias.Data);
        double worst = 0;
        string where = "";
        foreach (var algo in algorithms)
        {
            tally?.Count(p);
            // The output starts as NaN so an element the backend forgets to write fails the check.
            var output = p.Op switch { ConvOp.Forward => y, ConvOp.BackwardData => x, _ => w };
            var inputs = (x.Clone(), w.Clone(), y.Clone());
            Array.Fill(output.Data, float.NaN);
            backend.Run(p, algo, new ConvTensors(x, w, y, bias));
            var err = ErrorMetrics.Compare(output.Data, expected);
            double e = double.IsFinite(err.MaxRelative) ? err.MaxRelative : double.PositiveInfinity;
            if (e > worst || where == "") { worst = Math.Max(worst, e); where = $"{algo.Key} on {p}{(bias is null ? "" : " +bias")}: {err}"; }
            // Inputs must be left untouched.
            if (p.Op != ConvOp.Forward) Assert.That(y.Data, Is.EqualTo(inputs.Item3.Data), $"{algo.Key} modified dy");
            if (p.Op != ConvOp.BackwardFilter) Assert.That(w.Data, Is.EqualTo(inputs.Item2.Data), $"{algo.Key} modified w");
            if (p.Op != ConvOp.BackwardData) Assert.That(x.Data, Is.EqualTo(inputs.Item1.Data), $"{algo.Key} modified x");
            // Restore the output tensor's inputs role for the next algorithm (outputs are recomputed anyway).
            inputs.Item1.Data.CopyTo(x.Data, 0); inputs.Item2.Data.CopyTo(w.Data, 0); inputs.Item3.Data.CopyTo(y.Data, 0);
        }
        return (worst, where);
    }
}
