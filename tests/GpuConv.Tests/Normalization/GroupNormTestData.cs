namespace GpuConv.Tests.Normalization;

/// <summary>GroupNorm's shapes (groups = 1, = C and in between; every rank; N &gt; 1) and the tolerance helpers its tests share (inputs from <see cref="BatchNormTestData"/>).</summary>
static class GroupNormTestData
{
    /// <summary>
    /// (name, dims, groups): units shorter and longer than 256 values, rows that cross a partial-index wrap, the parallel
    /// path, rows of 8–15 values (runs that end mid-vector at most row ends), and groups of more channels than the
    /// backward's one-pass affine sums take (<see cref="Cpu.Layers.CpuGroupNorm.MaxFusedChannels"/>).
    /// </summary>
    public static IEnumerable<TestCaseData> Shapes()
    {
        TestCaseData C(string name, int groups, params int[] dims) => new TestCaseData(dims, groups).SetArgDisplayNames(name);
        yield return C("NC 4x6, G=3", 3, 4, 6);
        yield return C("NC 3x4, G=1", 1, 3, 4);
        yield return C("NCL 3x4x37, G=2", 2, 3, 4, 37);
        yield return C("NCL 2x6x5, G=6 (= C)", 6, 2, 6, 5);
        yield return C("NCL 1x3x300, G=1 (one unit of 900)", 1, 1, 3, 300);
        yield return C("NCHW 2x6x7x9, G=3", 3, 2, 6, 7, 9);
        yield return C("NCHW 2x4x33x17, G=1 (rows cross partial wraps)", 1, 2, 4, 33, 17);
        yield return C("NCHW 2x8x5x5, G=8 (= C)", 8, 2, 8, 5, 5);
        yield return C("NCHW 4x32x16x16, G=8 (parallel)", 8, 4, 32, 16, 16);
        yield return C("NCDHW 2x6x3x5x6, G=2", 2, 2, 6, 3, 5, 6);
        yield return C("NCHW 7x6x3x3, G=3 (rows of 9)", 3, 7, 6, 3, 3);
        yield return C("NCL 40x4x8, G=2 (rows of exactly 8, 320 a channel)", 2, 40, 4, 8);
        yield return C("NCL 30x2x15, G=1 (rows of 15, 450 a channel)", 1, 30, 2, 15);
        yield return C("NCHW 3x40x3x5, G=2 (20 channels a group: dx and the affine sums in two passes)", 2, 3, 40, 3, 5);
    }

    /// <summary>
    /// κ = max over elements of |x|·rstd of its unit: how many standard deviations x's largest value lies from 0. fp32's
    /// x − mean loses u·|mean| to the mean's rounding, so the outputs are good to about u·κ relative in any fp32
    /// implementation (PyTorch's too); the tolerances scale with max(1, κ).
    /// </summary>
    public static double Kappa(float[] x, int groupSize, double[] rstd)
    {
        double k = 0;
        for (int i = 0; i < x.Length; i++) k = Math.Max(k, Math.Abs(x[i]) * rstd[i / groupSize]);
        return Math.Max(1, k);
    }

    /// <summary>Σ|dy| and Σ|dy|·(|x| + |mean|)·rstd per channel: the magnitudes behind dbias and dweight.</summary>
    public static (double[] DWeight, double[] DBias) SumMagnitudes(float[] dy, float[] x, int channels, int spatial, int groupSize, double[] mean, double[] rstd)
    {
        var w = new double[channels];
        var b = new double[channels];
        for (int i = 0; i < x.Length; i++)
        {
            int c = i / spatial % channels, u = i / groupSize;
            b[c] += Math.Abs(dy[i]);
            w[c] += Math.Abs(dy[i]) * (Math.Abs(x[i]) + Math.Abs(mean[u])) * rstd[u];
        }
        return (w, b);
    }

    /// <summary>dx's scale: max |dy|·rstd·|weight|·κ, the size of its cancelling terms (w·dy − mean(w·dy) − x̂·mean(w·dy·x̂)).</summary>
    public static double DxScale(float[] dy, double[] rstd, float[]? weight, double kappa) =>
        dy.Max(Math.Abs) * rstd.Max() * (weight is null ? 1 : weight.Max(Math.Abs)) * kappa;

    /// <summary>The worst |actual − reference| over a tensor, asserted within <paramref name="bound"/>; returns it relative to the bound's scale.</summary>
    public static double AssertWithin(float[] actual, double[] reference, double bound, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(reference.Length), what);
        double worst = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            Assert.That(float.IsFinite(actual[i]), $"{what}[{i}] = {actual[i]}");
            worst = Math.Max(worst, Math.Abs(actual[i] - reference[i]));
        }
        Assert.That(worst, Is.LessThanOrEqualTo(bound), $"{what}: worst error {worst:g3}, bound {bound:g3}");
        return worst;
    }
}
