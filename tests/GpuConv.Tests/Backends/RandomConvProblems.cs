using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Backends;

/// <summary>
/// Small random convolution problems for property tests: ranks 1–3, batch 1–3, strides, dilations,
/// asymmetric pads, groups, depthwise (with channel multipliers), pointwise, odd sizes, and
/// transposed convolutions (which become BackwardData problems). Reproducible from the seed.
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
}
