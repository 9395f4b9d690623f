using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Support;

/// <summary>
/// <see cref="ConvTensors.Accumulate"/> on one backend, every candidate algorithm of a problem: the written tensor
/// starts as random non-zero values, a run with Accumulate = true must leave initial + result (judged against
/// initial + the float64 reference, max |error| / max |expected|), and a second run with Accumulate = false on the
/// same tensors must overwrite it with the result alone.
/// </summary>
internal static class AccumulateCheck
{
    /// <summary>The ptx backend's algorithms for <paramref name="op"/> that the accumulate sweeps must reach.</summary>
    public static string[] PtxAlgorithms(ConvOp op) => op switch
    {
        ConvOp.Forward => ["im2col-gemm", "gemm-1x1", "depthwise-direct"],
        ConvOp.BackwardData => ["gemm-col2im", "gemm-1x1"],
        _ => ["im2col-gemm-acc", "gemm-1x1"],
    };

    /// <summary>Runs every algorithm of <paramref name="p"/>; failures and declined algorithms are appended; returns the algorithms that ran.</summary>
    public static List<string> EveryAlgorithm(IConvBackend backend, ConvProblem p, ConvPrecision precision, int seed, bool withBias,
        Func<ConvAlgorithm, double> tolerance, List<string> failures, List<string>? declined = null)
    {
        var ran = new List<string>();
        var mem = backend.Memory;
        foreach (var algorithm in backend.GetAlgorithms(p, precision))
        {
            var x = HostTensor.Random(p.XShape, seed++);
            var w = HostTensor.Random(p.WShape, seed++);
            var y = HostTensor.Random(p.YShape, seed++);
            var bias = withBias && p.Op != ConvOp.BackwardFilter ? HostTensor.Random(new TensorShape(p.BiasLength), seed++) : null;
            var written = p.Op switch { ConvOp.Forward => y, ConvOp.BackwardData => x, _ => w };
            float[] initial = (float[])written.Data.Clone();   // the op's inputs never read the written tensor
            var made = new List<Tensor>();
            Tensor Put(HostTensor h)
            {
                var t = mem.Allocate(h.Shape);
                made.Add(t);
                mem.CopyFromHost(h.Data, t);
                return t;
            }
            try
            {
                Tensor X = Put(x), W = Put(w), Y = Put(y);
                Tensor? B = bias is null ? null : Put(bias);
                Tensor output = p.Op switch { ConvOp.Forward => Y, ConvOp.BackwardData => X, _ => W };
                double[] result = ReferenceConv.Run(p, x.Data, w.Data, y.Data, bias?.Data);
                var sum = new double[result.Length];
                for (int i = 0; i < sum.Length; i++) sum[i] = initial[i] + result[i];
                var actual = new float[initial.Length];
                try
                {
                    backend.Run(p, algorithm, new ConvTensors(X, W, Y, B) { Accumulate = true });
                }
                catch (AlgorithmDeclinedException e)
                {
                    declined?.Add($"{algorithm.Key} on {p}: {e.Message}");
                    continue;
                }
                mem.CopyToHost(output, actual);
                var added = ErrorMetrics.Compare(actual, sum);
                if (!(added.MaxRelative < tolerance(algorithm)))
                    failures.Add($"{algorithm.Key} on {p}, accumulate: {added} (tolerance {tolerance(algorithm):E0})");

                backend.Run(p, algorithm, new ConvTensors(X, W, Y, B));
                mem.CopyToHost(output, actual);
                var overwritten = ErrorMetrics.Compare(actual, result);
                if (!(overwritten.MaxRelative < tolerance(algorithm)))
                    failures.Add($"{algorithm.Key} on {p}, overwrite after accumulate: {overwritten}");
                ran.Add($"{p.Op}/{algorithm.Name}");
            }
            finally
            {
                foreach (var t in made) (t as IDisposable)?.Dispose();
            }
        }
        return ran;
    }
}
