using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.Support;

/// <summary>
/// Small random convolutions with a padding mode, reproducible from the seed: the given mode and rank, batch 1–2,
/// strides 1–2, dilations 1–2, asymmetric pads up to 3 (within the mode's limit: reflect &lt; size, circular ≤ size),
/// groups 1–3 (depthwise sometimes), and input sizes from the smallest the mode allows (reflect pad = size − 1, circular
/// pad = size) upward, so the edges of each rule are reached.
/// </summary>
public static class RandomPaddedProblems
{
    public static ConvProblem Create(int seed, PaddingMode mode, int rank, ConvOp op = ConvOp.Forward)
    {
        var rng = new Random(seed * 31 + (int)mode * 7 + rank);
        while (true)
        {
            int n = rng.Next(1, 3);
            int groups = rng.Next(1, 4);
            bool depthwise = rng.Next(4) == 0;
            int cg = depthwise ? 1 : rng.Next(1, 3), kg = rng.Next(1, 3);
            var kernel = new int[rank]; var stride = new int[rank]; var dil = new int[rank];
            var pb = new int[rank]; var pe = new int[rank]; var input = new int[rank];
            int maxExtra = rank == 3 ? 2 : rank == 2 ? 4 : 8;
            for (int d = 0; d < rank; d++)
            {
                kernel[d] = rng.Next(1, rank == 3 ? 3 : 4);
                stride[d] = rng.Next(1, 3);
                dil[d] = rng.Next(1, 3);
                pb[d] = rng.Next(0, 4);
                pe[d] = rng.Next(0, 4);
                int need = Math.Max(pb[d], pe[d]);
                // The smallest size the mode allows, then a little more now and then.
                int least = mode switch { PaddingMode.Circular => Math.Max(need, 1), PaddingMode.Replicate => 1, _ => need + 1 }; // zeros: an input that some tap reaches
                input[d] = least + (rng.Next(3) == 0 ? 0 : rng.Next(0, maxExtra));
            }
            var spec = new ConvSpec(kernel, stride, dil, pb, pe, groups, paddingMode: mode);
            bool valid = true;
            for (int d = 0; d < rank; d++) valid &= spec.ConvOutputSizeLong(d, input[d]) >= 1 && Reaches(spec, d, input[d]);
            if (!valid) continue;
            int c = groups * cg, k = groups * kg;
            return ConvProblem.Create(spec, new TensorShape([n, c, .. input]), new TensorShape([k, cg, .. kernel]), op);
        }
    }

    /// <summary>Some output of dimension d reads an input element (zero padding could otherwise give an all-zero result).</summary>
    static bool Reaches(ConvSpec spec, int d, int n)
    {
        long outs = spec.ConvOutputSizeLong(d, n);
        for (long o = 0; o < outs; o++)
            for (int t = 0; t < spec.Kernel[d]; t++)
            {
                long i = o * spec.Stride[d] - spec.PadBegin[d] + (long)t * spec.Dilation[d];
                if (i >= 0 && i < n) return true;
            }
        return false;
    }

    /// <summary>Random pads (up to 3 a side) within <paramref name="mode"/>'s limit for a random input of <paramref name="rank"/> spatial dimensions.</summary>
    public static (PadSpec Spec, TensorShape Input) CreatePad(int seed, PadMode mode, int rank)
    {
        var rng = new Random(seed * 17 + (int)mode * 5 + rank);
        var pb = new int[rank]; var pe = new int[rank]; var input = new int[rank];
        int maxExtra = rank == 3 ? 3 : rank == 2 ? 6 : 20;
        for (int d = 0; d < rank; d++)
        {
            pb[d] = rng.Next(0, 4);
            pe[d] = rng.Next(0, 4);
            int need = Math.Max(pb[d], pe[d]);
            int least = mode switch { PadMode.Reflect => need + 1, PadMode.Circular => Math.Max(need, 1), _ => 1 };
            input[d] = least + (rng.Next(3) == 0 ? 0 : rng.Next(0, maxExtra));
        }
        float value = mode == PadMode.Constant ? (float)(rng.NextDouble() * 4 - 2) : 0f;
        return (new PadSpec(mode, pb, pe, value), new TensorShape([rng.Next(1, 3), rng.Next(1, 4), .. input]));
    }
}
