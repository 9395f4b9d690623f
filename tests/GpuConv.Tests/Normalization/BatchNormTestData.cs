using GpuConv.Tensors;

namespace GpuConv.Tests.Normalization;

/// <summary>Random BatchNorm inputs (never zero, per-channel offsets so means are not 0) and the tolerance checks the tests share.</summary>
static class BatchNormTestData
{
    /// <summary>(name, shape) over every rank: [N, C], [N, C, L], NCHW, NCDHW; channels longer than 256 values, odd sizes, N·S = 2.</summary>
    public static IEnumerable<TestCaseData> Shapes()
    {
        TestCaseData C(string name, params int[] dims) => new TestCaseData(dims).SetArgDisplayNames(name);
        yield return C("NC 8x5", 8, 5);
        yield return C("NC 2x3 (N·S = 2)", 2, 3);
        yield return C("NCL 3x4x37", 3, 4, 37);
        yield return C("NCL 1x2x2 (N·S = 2)", 1, 2, 2);
        yield return C("NCHW 2x3x7x9", 2, 3, 7, 9);
        yield return C("NCHW 4x16x14x14 (parallel)", 4, 16, 14, 14);
        yield return C("NCHW 3x2x33x17 (rows cross partial wraps)", 3, 2, 33, 17);
        yield return C("NCDHW 2x3x3x5x6", 2, 3, 3, 5, 6);
    }

    /// <summary>offset[c] + spread·u, u uniform in (−1, 1) and never 0, channel c = (i / spatial) % channels.</summary>
    public static float[] Values(TensorShape shape, int seed, float offset = 2f, float spread = 1.5f)
    {
        var rng = new Random(seed);
        int channels = shape.Dims[1];
        long spatial = shape.ElementCount / shape.Dims[0] / channels;
        var v = new float[shape.ElementCountInt];
        for (int i = 0; i < v.Length; i++)
        {
            int c = (int)(i / spatial % channels);
            float u = (float)(rng.NextDouble() * 2 - 1);
            if (u == 0) u = 0.25f;
            v[i] = offset * (c % 3 - 1 + 0.5f) + spread * u;
        }
        return v;
    }

    /// <summary>Channel values: center + spread·u, never 0.</summary>
    public static float[] Channel(int channels, int seed, float center, float spread)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, channels).Select(_ => { float v = center + spread * (float)(rng.NextDouble() * 2 - 1); return v == 0 ? 0.5f : v; })];
    }

    public static double[] Wide(float[] v) => [.. v.Select(f => (double)f)];

    /// <summary>
    /// κ = max over channels of max |x|·invstd: how many standard deviations x's largest value lies from 0. fp32's
    /// x − mean loses u·|mean| to the mean's rounding, so BatchNorm's outputs are good to about u·κ relative, in any fp32
    /// implementation (PyTorch's too); the tolerances scale with max(1, κ).
    /// </summary>
    public static double Kappa(float[] x, int batch, int channels, int spatial, double[] invStd)
    {
        double k = 0;
        for (int i = 0; i < x.Length; i++) k = Math.Max(k, Math.Abs(x[i]) * invStd[i / spatial % channels]);
        return Math.Max(1, k);
    }

    /// <summary>
    /// A per-channel sum (dgamma, dbeta) against float64, within <paramref name="relative"/> of the sum of its terms'
    /// magnitudes <paramref name="magnitude"/>[c] (the summation error bound is (n/256 + 8)·2^-24 of it, CpuBatchNorm).
    /// </summary>
    public static void AssertSumClose(float[] actual, double[] reference, double[] magnitude, double relative, string what)
    {
        for (int c = 0; c < actual.Length; c++)
            Assert.That(Math.Abs(actual[c] - reference[c]), Is.LessThanOrEqualTo(relative * magnitude[c]),
                $"{what}[{c}] = {actual[c]}, reference {reference[c]}, Σ|terms| {magnitude[c]:g4}");
    }

    /// <summary>Σ|dy| and Σ|dy|·(|x| + |mean|)·invstd per channel: the magnitudes behind dbeta and dgamma.</summary>
    public static (double[] DGamma, double[] DBeta) SumMagnitudes(float[] dy, float[] x, int batch, int channels, int spatial, double[] mean, double[] invStd)
    {
        var g = new double[channels];
        var b = new double[channels];
        for (int i = 0; i < x.Length; i++)
        {
            int c = i / spatial % channels;
            b[c] += Math.Abs(dy[i]);
            g[c] += Math.Abs(dy[i]) * (Math.Abs(x[i]) + Math.Abs(mean[c])) * invStd[c];
        }
        return (g, b);
    }

    /// <summary>
    /// The fp32 tolerance of the engine against float64: every element within <paramref name="relative"/> of the
    /// tensor's largest reference magnitude (normwise; BatchNorm's outputs are O(1) after normalisation, and dx
    /// cancels, so an element's own magnitude is not a scale).
    /// </summary>
    public static double AssertClose(float[] actual, double[] reference, double relative, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(reference.Length), what);
        double scale = reference.Max(Math.Abs);
        double worst = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            Assert.That(float.IsFinite(actual[i]), $"{what}[{i}] = {actual[i]}");
            worst = Math.Max(worst, Math.Abs(actual[i] - reference[i]));
        }
        Assert.That(worst, Is.LessThanOrEqualTo(relative * scale), $"{what}: worst error {worst:g3} against max |reference| {scale:g3}");
        return scale == 0 ? worst : worst / scale;
    }
}
