using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Ptx;

/// <summary>Small random convolution problems: ranks 1–3, strides, dilations, asymmetric pads, groups, batch.</summary>
static class RandomConvProblems
{
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
