namespace GpuConv.Reference;

/// <summary>
/// The judge of the engine's Softmax and LogSoftmax: torch's softmax / log_softmax over one dimension and their
/// gradients (_softmax_backward_data, _log_softmax_backward_data) written out in float64 from their definitions,
/// sharing nothing with the CPU loops or kernels/softmax.ptx (Math.Exp and Math.Log, a plain sequential order). A
/// tensor is [outer, axis, inner]: the slice (o, i) is the axis values at (o·axis + a)·inner + i.
/// </summary>
public static class ReferenceSoftmax
{
    /// <summary>
    /// y = softmax(x) (log: log_softmax(x)) over the axis, torch's max-subtracted form: m = max, e = exp(x − m),
    /// y = e / Σe (log: (x − m) − ln Σe). −∞ entries give 0 (−∞); a slice of −∞ only, or with +∞ or NaN, gives NaN.
    /// </summary>
    public static double[] Forward(ReadOnlySpan<double> x, int outer, int axis, int inner, bool log)
    {
        Check(x.Length, outer, axis, inner, nameof(x));
        var y = new double[x.Length];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                long start = (long)o * axis * inner + i;
                double m = double.NegativeInfinity;
                for (int a = 0; a < axis; a++) m = Math.Max(m, x[(int)(start + (long)a * inner)]);
                double sum = 0;
                for (int a = 0; a < axis; a++) sum += Math.Exp(x[(int)(start + (long)a * inner)] - m);
                double logSum = Math.Log(sum);
                for (int a = 0; a < axis; a++)
                {
                    int at = (int)(start + (long)a * inner);
                    y[at] = log ? x[at] - m - logSum : Math.Exp(x[at] - m) / sum;
                }
            }
        return y;
    }

    /// <summary>
    /// dx from dy and the forward's output y: softmax dx = y·(dy − Σ dy·y); log-softmax dx = dy − exp(y)·Σ dy (sums
    /// over each slice).
    /// </summary>
    public static double[] Backward(ReadOnlySpan<double> dy, ReadOnlySpan<double> y, int outer, int axis, int inner, bool log)
    {
        Check(dy.Length, outer, axis, inner, nameof(dy));
        Check(y.Length, outer, axis, inner, nameof(y));
        var dx = new double[y.Length];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                long start = (long)o * axis * inner + i;
                double sum = 0;
                for (int a = 0; a < axis; a++)
                {
                    int at = (int)(start + (long)a * inner);
                    sum += log ? dy[at] : dy[at] * y[at];
                }
                for (int a = 0; a < axis; a++)
                {
                    int at = (int)(start + (long)a * inner);
                    dx[at] = log ? dy[at] - Math.Exp(y[at]) * sum : y[at] * (dy[at] - sum);
                }
            }
        return dx;
    }

    static void Check(int length, int outer, int axis, int inner, string name)
    {
        if (outer < 1 || axis < 1 || inner < 1)
            throw new ArgumentException($"[outer, axis, inner] = [{outer}, {axis}, {inner}]: each must be at least 1.", nameof(axis));
        if (length != (long)outer * axis * inner)
            throw new ArgumentException($"{name} has {length} elements, [outer, axis, inner] = [{outer}, {axis}, {inner}] needs {(long)outer * axis * inner}.", name);
    }
}
