using GpuConv.Tensors;

namespace GpuConv.Reference;

/// <summary>
/// Adaptive max and average pooling and their gradients in float64, written from PyTorch's definition on their own
/// (each output's window [⌊o·in/out⌋, ⌈(o+1)·in/out⌉) per dimension, computed with doubles and Math.Floor / Ceiling,
/// not with <see cref="AdaptivePoolGeometry"/>'s integer formulas): the judge of the CPU loops and the kernels.
/// Max: the window's maximum, NaN if it holds one; its gradient goes to PyTorch's index: the first position of the
/// maximum, or the last NaN when the window holds NaNs (each NaN replaces what came before it).
/// </summary>
public static class ReferenceAdaptivePool
{
    /// <summary>Forward of x [N, C, spatial…] to [N, C, outputSize…] (one size per spatial dimension).</summary>
    public static double[] Forward(TensorShape input, ReadOnlySpan<float> x, IReadOnlyList<int> outputSize, bool max)
    {
        var (planes, ins, outs) = Dims(input, outputSize);
        var y = new double[planes * Product(outs)];
        int yi = 0;
        for (long plane = 0; plane < planes; plane++)
            foreach (var o in Indices(outs))
            {
                var taps = new List<double>();
                foreach (var i in Window(ins, outs, o)) taps.Add(x[(int)(plane * Product(ins) + Flat(ins, i))]);
                y[yi++] = max ? (taps.Any(double.IsNaN) ? double.NaN : taps.Max()) : taps.Sum() / taps.Count;
            }
        return y;
    }

    /// <summary>dx for an input of <paramref name="input"/>'s shape from dy [N, C, outputSize…]; x only for max.</summary>
    public static double[] Backward(TensorShape input, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, IReadOnlyList<int> outputSize, bool max)
    {
        var (planes, ins, outs) = Dims(input, outputSize);
        long planeSize = Product(ins);
        var dx = new double[planes * planeSize];
        int yi = 0;
        for (long plane = 0; plane < planes; plane++)
            foreach (var o in Indices(outs))
            {
                var window = Window(ins, outs, o).Select(i => Flat(ins, i)).ToArray();
                double g = dy[yi++];
                if (!max)
                {
                    foreach (long i in window) dx[plane * planeSize + i] += g / window.Length;
                    continue;
                }
                // PyTorch's pick: the first maximum, a NaN replacing whatever came before it.
                long at = window[0];
                double m = double.NegativeInfinity;
                foreach (long i in window)
                {
                    double v = x[(int)(plane * planeSize + i)];
                    if (v > m || double.IsNaN(v)) { m = v; at = i; }
                }
                dx[plane * planeSize + at] += g;
            }
        return dx;
    }

    static (long Planes, int[] Ins, int[] Outs) Dims(TensorShape input, IReadOnlyList<int> outputSize)
    {
        int rank = input.Rank - 2;
        var ins = input.Dims.Skip(2).ToArray();
        var outs = Enumerable.Range(0, rank).Select(d => outputSize.Count == 1 ? outputSize[0] : outputSize[d]).ToArray();
        return ((long)input.Dims[0] * input.Dims[1], ins, outs);
    }

    static long Product(int[] dims) => dims.Aggregate(1L, (a, b) => a * b);

    static long Flat(int[] dims, int[] index)
    {
        long f = 0;
        for (int d = 0; d < dims.Length; d++) f = f * dims[d] + index[d];
        return f;
    }

    /// <summary>Every index of a box of the given extents, the last dimension fastest.</summary>
    static IEnumerable<int[]> Indices(int[] extents) => Box(new int[extents.Length], extents);

    static IEnumerable<int[]> Box(int[] start, int[] end)
    {
        int rank = start.Length;
        var i = (int[])start.Clone();
        if (Enumerable.Range(0, rank).Any(d => start[d] >= end[d])) yield break;
        while (true)
        {
            yield return (int[])i.Clone();
            int d = rank - 1;
            while (d >= 0 && ++i[d] == end[d]) { i[d] = start[d]; d--; }
            if (d < 0) yield break;
        }
    }

    /// <summary>Output <paramref name="o"/>'s window: [floor(o·in/out), ceil((o+1)·in/out)) per dimension, in doubles.</summary>
    static IEnumerable<int[]> Window(int[] ins, int[] outs, int[] o)
    {
        var start = new int[ins.Length];
        var end = new int[ins.Length];
        for (int d = 0; d < ins.Length; d++)
        {
            start[d] = (int)Math.Floor((double)o[d] * ins[d] / outs[d]);
            end[d] = (int)Math.Ceiling((double)(o[d] + 1) * ins[d] / outs[d]);
        }
        return Box(start, end);
    }
}
