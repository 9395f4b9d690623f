using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Support;

/// <summary>
/// Small random convolution problems for property tests, reproducible from the seed: ranks 1–3, batch
/// 1–3, strides, dilations, asymmetric pads, groups, depthwise (with channel multipliers), pointwise,
/// odd sizes, and transposed convolutions (which become BackwardData problems). <see cref="Create"/>
/// draws the backend sweeps' mix; <see cref="Next"/> draws the smaller shapes the PTX interpreter runs.
/// </summary>
public static class RandomConvProblems
{
    public static ConvProblem Create(int seed, ConvOp op)
    {
        var rng = new Random(seed);
        int rank = rng.Next(10) switch { < 2 => 1, < 8 => 2, _ => 3 };
        int n = rng.Next(1, 4);
        int kind = rng.Next(10);
        bool pointwise = kind < 2, depthwise = kind is 2 or 3;
        int groups = depthwise ? rng.Next(2, 7) : rng.Next(3) == 0 ? rng.Next(2, 4) : 1;
        int cg = depthwise ? 1 : rng.Next(1, 5), kg = rng.Next(1, 4);
        int maxK = rank == 3 ? 2 : 3;
        var kernel = new int[rank]; var stride = new int[rank]; var dil = new int[rank];
        var pb = new int[rank]; var pe = new int[rank]; var input = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            kernel[d] = pointwise ? 1 : rng.Next(1, maxK + 1);
            stride[d] = pointwise ? 1 : rng.Next(1, 4);
            dil[d] = pointwise ? 1 : rng.Next(1, 3);
            pb[d] = pointwise ? 0 : rng.Next(0, 3);
            pe[d] = pointwise ? 0 : rng.Next(0, 3);
            int ext = dil[d] * (kernel[d] - 1) + 1;
            int max = rank == 3 ? 6 : rank == 2 ? 11 : 23;
            input[d] = Math.Max(1, Math.Max(ext - pb[d] - pe[d], 1) + rng.Next(0, max));
        }
        bool transposed = op == ConvOp.BackwardData && rng.Next(2) == 0;
        var spec = new ConvSpec(kernel, stride, dil, pb, pe, groups);
        int c = groups * cg, k = groups * kg;
        var x = new TensorShape([n, c, .. input]);
        var w = new TensorShape([k, cg, .. kernel]);
        var problem = ConvProblem.Create(spec, x, w, op);
        if (!transposed) return problem;
        // The same geometry stated as a transposed convolution of y back to x: its forward is BackwardData.
        var outPad = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            // Output padding recovers input sizes that the floor in the output-size rule dropped.
            outPad[d] = problem.XShape[2 + d] - spec.TransposedOutputSize(d, problem.YShape[2 + d]);
        }
        if (Enumerable.Range(0, rank).Any(d => outPad[d] < 0 || (outPad[d] > 0 && outPad[d] >= stride[d] && outPad[d] >= dil[d]))) return problem;
        var tspec = spec.AsTransposed(outPad);
        var tw = new TensorShape([k, cg, .. kernel]); // transposed layout [Cin = K, Cout/g = C/g, k…]
        var tp = ConvProblem.Create(tspec, problem.YShape, tw, ConvOp.Forward);
        Assert.That(tp.Op, Is.EqualTo(ConvOp.BackwardData), "a transposed forward is stored as BackwardData");
        return tp;
    }

    /// <summary>A valid problem drawn from <paramref name="rng"/>; <paramref name="depthwise"/> forces groups == C.</summary>
    public static ConvProblem Next(Random rng, bool depthwise = false, ConvOp op = ConvOp.Forward, int maxSpatial = 7)
    {
        while (true)
        {
            int rank = rng.Next(1, 4);
            int groups = depthwise ? rng.Next(2, 5) : rng.Next(1, 4);
            int cpg = depthwise ? 1 : rng.Next(1, 4);
            int kpg = rng.Next(1, 3);
            int n = rng.Next(1, 4);
            // Keep 3-d problems smaller so the interpreter stays quick.
            int maxS = rank == 3 ? Math.Min(maxSpatial, 5) : maxSpatial;
            var kernel = Draw(rank, () => rng.Next(1, 4));
            var stride = Draw(rank, () => rng.Next(1, 4));
            var dilation = Draw(rank, () => rng.Next(1, 3));
            var padBegin = Draw(rank, () => rng.Next(0, 3));
            var padEnd = Draw(rank, () => rng.Next(0, 3));
            var spatial = Draw(rank, () => rng.Next(1, maxS + 1));
            var spec = new ConvSpec(kernel, stride, dilation, padBegin, padEnd, groups);
            bool valid = true;
            for (int d = 0; d < rank; d++) valid &= spec.ConvOutputSize(d, spatial[d]) >= 1;
            if (!valid) continue;
            var x = new TensorShape([n, groups * cpg, .. spatial]);
            var w = new TensorShape([groups * kpg, cpg, .. kernel]);
            return ConvProblem.Create(spec, x, w, op);
        }

        static int[] Draw(int rank, Func<int> f) => Enumerable.Range(0, rank).Select(_ => f()).ToArray();
    }

    public static float[] RandomData(Random rng, long count) =>
        Enumerable.Range(0, (int)count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
}
