using GpuConv.Tensors;

namespace GpuConv.Tests.Concat;

/// <summary>
/// The plain definition the tests hold Concat, Narrow and Split to: every element addressed through its full
/// multi-index (no rows, no pitches), so it shares nothing with the engine's slab arithmetic.
/// </summary>
static class ConcatReference
{
    /// <summary>torch.cat(xs, dim) element by element: each output index maps back to (input, index with dim shifted).</summary>
    public static float[] Cat(IReadOnlyList<HostTensor> xs, int dim, out int[] shape)
    {
        shape = [.. xs[0].Shape.Dims];
        shape[dim] = xs.Sum(x => x.Shape[dim]);
        var y = new float[shape.Aggregate(1, (a, b) => a * b)];
        var index = new int[shape.Length];
        for (int flat = 0; flat < y.Length; flat++)
        {
            Unflatten(flat, shape, index);
            int i = 0, at = index[dim];
            while (at >= xs[i].Shape[dim]) at -= xs[i++].Shape[dim];
            var source = (int[])index.Clone();
            source[dim] = at;
            y[flat] = xs[i].Data[Flatten(source, [.. xs[i].Shape.Dims])];
        }
        return y;
    }

    /// <summary>torch.narrow(x, dim, start, length) element by element (start already wrapped).</summary>
    public static float[] Narrow(HostTensor x, int dim, int start, int length)
    {
        int[] shape = [.. x.Shape.Dims];
        shape[dim] = length;
        var y = new float[shape.Aggregate(1, (a, b) => a * b)];
        var index = new int[shape.Length];
        for (int flat = 0; flat < y.Length; flat++)
        {
            Unflatten(flat, shape, index);
            index[dim] += start;
            y[flat] = x.Data[Flatten(index, [.. x.Shape.Dims])];
        }
        return y;
    }

    static void Unflatten(int flat, int[] shape, int[] index)
    {
        for (int k = shape.Length - 1; k >= 0; k--)
        {
            index[k] = flat % shape[k];
            flat /= shape[k];
        }
    }

    static int Flatten(int[] index, int[] shape)
    {
        int flat = 0;
        for (int k = 0; k < shape.Length; k++) flat = flat * shape[k] + index[k];
        return flat;
    }

    /// <summary>Values in ±[0.5, 4) with a random sign, never zero: a misplaced element shows.</summary>
    public static HostTensor Random(TensorShape shape, Random rng)
    {
        var data = new float[shape.ElementCountInt];
        for (int i = 0; i < data.Length; i++) data[i] = (float)((0.5 + rng.NextDouble() * 3.5) * (rng.Next(2) == 0 ? -1 : 1));
        return new HostTensor(shape, data);
    }

    /// <summary>A random problem: rank 2–5, 1–4 inputs, uneven sizes in <paramref name="dim"/>, sizes 1–4 elsewhere.</summary>
    public static HostTensor[] RandomInputs(int rank, int dim, int count, Random rng)
    {
        var dims = new int[rank];
        for (int k = 0; k < rank; k++) dims[k] = rng.Next(1, 5);
        return [.. Enumerable.Range(0, count).Select(_ =>
        {
            var own = (int[])dims.Clone();
            own[dim] = rng.Next(1, 6);
            return Random(new TensorShape(own), rng);
        })];
    }

    public static uint[] Bits(float[] v) => [.. v.Select(BitConverter.SingleToUInt32Bits)];
}
