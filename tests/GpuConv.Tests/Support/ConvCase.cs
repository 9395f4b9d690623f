using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Support;

/// <summary>A small convolution geometry for correctness tests (plain, non-transposed spec).</summary>
public sealed record ConvCase(string Name, ConvSpec Spec, int N, int C, int K, int[] InSpatial)
{
    public TensorShape InputShape => new([N, C, .. InSpatial]);
    public TensorShape FilterShape => new([K, C / Spec.Groups, .. Spec.Kernel]);
    public ConvProblem Problem => ConvProblem.Create(Spec, InputShape, FilterShape);

    /// <summary>Output padding that makes the transposed spec map the output back to exactly InSpatial.</summary>
    public int[] TransposedOutputPadding()
    {
        var pad = new int[Spec.Rank];
        for (int d = 0; d < Spec.Rank; d++)
            pad[d] = (InSpatial[d] + Spec.PadBegin[d] + Spec.PadEnd[d] - Spec.DilatedKernel(d)) % Spec.Stride[d];
        return pad;
    }

    public override string ToString() => Name;
}

/// <summary>Named and random geometries covering every rank, groups, stride, dilation and asymmetric padding.</summary>
public static class ConvCases
{
    public static IEnumerable<ConvCase> Named()
    {
        yield return new("1d plain", new ConvSpec([3]), 2, 2, 3, [7]);
        yield return new("1d stride2 dil2 pad(2,1)", new ConvSpec([3], stride: [2], dilation: [2], padBegin: [2], padEnd: [1]), 2, 2, 2, [9]);
        yield return new("1d groups3 stride3 pad(0,2)", new ConvSpec([2], stride: [3], padBegin: [0], padEnd: [2], groups: 3), 1, 3, 6, [8]);
        yield return new("2d plain 3x3", new ConvSpec([3, 3]), 1, 3, 4, [5, 6]);
        yield return new("2d stride(2,1) dil(1,2) pad(1,0)-(0,2)", new ConvSpec([3, 2], stride: [2, 1], dilation: [1, 2], padBegin: [1, 0], padEnd: [0, 2]), 2, 2, 3, [6, 5]);
        yield return new("2d groups2 stride2 pad1", new ConvSpec([3, 3], stride: [2], padBegin: [1], groups: 2), 1, 4, 4, [7, 6]);
        yield return new("2d depthwise pad1", new ConvSpec([3, 3], padBegin: [1], groups: 3), 2, 3, 3, [5, 5]);
        yield return new("2d depthwise multiplier2 stride2", new ConvSpec([3, 3], stride: [2], padBegin: [1], groups: 2), 1, 2, 4, [6, 5]);
        yield return new("2d pointwise 1x1", new ConvSpec([1, 1]), 2, 3, 2, [3, 4]);
        yield return new("2d kernel larger than input, pad1", new ConvSpec([3, 3], padBegin: [1]), 1, 2, 2, [2, 2]);
        yield return new("2d stride3 > kernel2 (skipped inputs)", new ConvSpec([2, 2], stride: [3]), 1, 2, 2, [8, 7]);
        yield return new("2d rectangular 1x3 dil3 pad(0,3)", new ConvSpec([1, 3], dilation: [1, 3], padBegin: [0, 3]), 1, 2, 2, [3, 6]);
        yield return new("3d plain 2x2x2", new ConvSpec([2, 2, 2]), 1, 2, 2, [4, 3, 4]);
        yield return new("3d groups2 stride(2,1,2) dil(1,2,1) asym pads", new ConvSpec([2, 3, 2], stride: [2, 1, 2], dilation: [1, 2, 1], padBegin: [1, 0, 1], padEnd: [0, 2, 0], groups: 2), 1, 2, 4, [5, 5, 4]);
        yield return new("3d depthwise pad1", new ConvSpec([3, 3, 3], padBegin: [1], groups: 2), 1, 2, 2, [3, 3, 3]);
    }

    /// <summary>Reproducible random small geometries of rank 1–3.</summary>
    public static IEnumerable<ConvCase> Random(int count, int seed)
    {
        var rng = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            int rank = 1 + i % 3;
            int groups = rng.Next(1, 4);
            int maxIn = rank == 3 ? 5 : rank == 2 ? 7 : 12;
            var kernel = new int[rank]; var stride = new int[rank]; var dilation = new int[rank];
            var padBegin = new int[rank]; var padEnd = new int[rank]; var input = new int[rank];
            for (int d = 0; d < rank; d++)
            {
                kernel[d] = rng.Next(1, 4);
                stride[d] = rng.Next(1, 4);
                dilation[d] = rng.Next(1, 3);
                padBegin[d] = rng.Next(0, 3);
                padEnd[d] = rng.Next(0, 3);
                int minIn = Math.Max(1, dilation[d] * (kernel[d] - 1) + 1 - padBegin[d] - padEnd[d]);
                input[d] = minIn + rng.Next(0, Math.Max(1, maxIn - minIn));
            }
            var spec = new ConvSpec(kernel, stride, dilation, padBegin, padEnd, groups);
            if (!EveryDimensionReadsInput(spec, input)) { i--; continue; }
            int c = groups * rng.Next(1, 3), k = groups * rng.Next(1, 3), n = rng.Next(1, 3);
            yield return new($"random#{i} {spec} n{n} c{c} k{k} in{string.Join("x", input)}", spec, n, c, k, input);
        }
    }

    /// <summary>
    /// False when, in some dimension, every tap of every output lands in the padding: the output would
    /// be identically zero and a test on it would prove nothing.
    /// </summary>
    static bool EveryDimensionReadsInput(ConvSpec spec, int[] input)
    {
        var output = spec.OutputSpatial(input);
        for (int d = 0; d < spec.Rank; d++)
        {
            bool reads = false;
            for (int o = 0; o < output[d] && !reads; o++)
                for (int t = 0; t < spec.Kernel[d] && !reads; t++)
                {
                    int i = o * spec.Stride[d] - spec.PadBegin[d] + t * spec.Dilation[d];
                    reads = i >= 0 && i < input[d];
                }
            if (!reads) return false;
        }
        return true;
    }

    public static IEnumerable<ConvCase> All() => Named().Concat(Random(12, 20261123));
}

/// <summary>Test data helpers.</summary>
public static class TestData
{
    /// <summary>
    /// Random values on a grid of 2^-10 in [-1, 1]: adding or subtracting a power of two ≥ 2^-10
    /// is exact in float32, so finite differences perturb exactly what they mean to.
    /// </summary>
    public static float[] Grid(long count, int seed)
    {
        var rng = new Random(seed);
        var data = new float[count];
        for (long i = 0; i < count; i++)
        {
            int v;
            do v = rng.Next(-1024, 1025); while (v == 0);
            data[i] = v / 1024f;
        }
        return data;
    }

    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"lengths differ: {a.Length} vs {b.Length}.");
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    public static double MaxAbs(ReadOnlySpan<double> a)
    {
        double m = 0;
        foreach (var v in a) m = Math.Max(m, Math.Abs(v));
        return m;
    }
}
