using GpuConv.Tensors;

namespace GpuConv.Tests.Normalization;

/// <summary>The channels-first LayerNorm's shapes (every rank, C = 1, chunk tails, the parallel path) and the tolerance helpers its tests share (inputs from <see cref="BatchNormTestData"/>).</summary>
static class ChannelLayerNormTestData
{
    /// <summary>(name, dims): positions shorter and longer than a 64-position chunk and than 256, C = 1, a ConvNeXt-like width, the parallel path.</summary>
    public static IEnumerable<TestCaseData> Shapes()
    {
        TestCaseData S(string name, params int[] dims) => new TestCaseData(dims).SetArgDisplayNames(name);
        yield return S("NC 4x6", 4, 6);
        yield return S("NC 5x1 (C = 1)", 5, 1);
        yield return S("NCL 3x4x37", 3, 4, 37);
        yield return S("NCL 2x1x20 (C = 1)", 2, 1, 20);
        yield return S("NCHW 2x6x7x9", 2, 6, 7, 9);
        yield return S("NCHW 2x96x8x8 (ConvNeXt width, one whole chunk)", 2, 96, 8, 8);
        yield return S("NCHW 2x5x33x17 (chunk tail, partial wraps)", 2, 5, 33, 17);
        yield return S("NCDHW 2x6x3x5x6", 2, 6, 3, 5, 6);
        yield return S("NCHW 4x64x16x16 (parallel)", 4, 64, 16, 16);
        yield return S("NC 1500x48 (parallel, one position per sample)", 1500, 48);
    }

    /// <summary>[N, C, P] of an input's dims.</summary>
    public static (int N, int C, int P) Dims(int[] dims) => (dims[0], dims[1], (int)(new TensorShape(dims).ElementCount / dims[0] / dims[1]));

    /// <summary>
    /// κ = max over elements of |x|·rstd of its position: how many standard deviations x's largest value lies from 0.
    /// fp32's x − mean loses u·|mean| to the mean's rounding, so the outputs are good to about u·κ relative in any fp32
    /// implementation (PyTorch's too); the tolerances scale with max(1, κ).
    /// </summary>
    public static double Kappa(float[] x, int channels, int positions, double[] rstd)
    {
        double k = 0;
        for (int i = 0; i < x.Length; i++) k = Math.Max(k, Math.Abs(x[i]) * rstd[StatisticOf(i, channels, positions)]);
        return Math.Max(1, k);
    }

    /// <summary>The position j = n·P + p of element i.</summary>
    public static int StatisticOf(int i, int channels, int positions) => i / (channels * positions) * positions + i % positions;

    /// <summary>Σ|dy| and Σ|dy|·(|x| + |mean|)·rstd per channel: the magnitudes behind dbias and dweight.</summary>
    public static (double[] DWeight, double[] DBias) SumMagnitudes(float[] dy, float[] x, int channels, int positions, double[] mean, double[] rstd)
    {
        var w = new double[channels];
        var b = new double[channels];
        for (int i = 0; i < x.Length; i++)
        {
            int c = i / positions % channels, j = StatisticOf(i, channels, positions);
            b[c] += Math.Abs(dy[i]);
            w[c] += Math.Abs(dy[i]) * (Math.Abs(x[i]) + Math.Abs(mean[j])) * rstd[j];
        }
        return (w, b);
    }

    /// <summary>dx's scale: max |dy|·rstd·|weight|·κ, the size of its cancelling terms.</summary>
    public static double DxScale(float[] dy, double[] rstd, float[]? weight, double kappa) =>
        dy.Max(Math.Abs) * rstd.Max() * (weight is null ? 1 : weight.Max(Math.Abs)) * kappa;
}
