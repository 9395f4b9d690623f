namespace GpuConv.Tests.Normalization;

/// <summary>
/// The float64 reference's GroupNorm backward (the judge of the engine's) against finite differences of its own
/// forward: loss = Σ w·y for random w, central differences with h = 1e-5 on every x, weight and bias element;
/// agreement within 1e-6 relative to the largest gradient (the differences' truncation error is O(h²)·y''', about 1e-9 here).
/// </summary>
public class GroupNormGradientCheckTests
{
    [TestCase(2, 4, 3, 2)]
    [TestCase(2, 6, 2, 6)]
    [TestCase(1, 3, 5, 1)]
    [TestCase(3, 4, 1, 2)]
    [TestCase(2, 6, 4, 3)]
    public void ReferenceBackwardMatchesFiniteDifferences(int batch, int channels, int spatial, int groups)
    {
        var rng = new Random(batch * 1000 + channels * 100 + spatial * 10 + groups);
        double[] R(int count, double center) => [.. Enumerable.Range(0, count).Select(_ => center + rng.NextDouble() * 2 - 1)];
        int total = batch * channels * spatial;
        double[] x = R(total, 0.7), weight = R(channels, 1.2), bias = R(channels, 0), w = R(total, 0.3);
        const double eps = 1e-3, h = 1e-5;

        double Loss(double[] xs, double[] ws, double[] bs)
        {
            var (y, _, _) = ReferenceGroupNorm.Forward(xs, batch, channels, spatial, groups, eps, ws, bs);
            return y.Select((v, i) => v * w[i]).Sum();
        }
        double[] Numeric(double[] v)
        {
            var g = new double[v.Length];
            for (int i = 0; i < v.Length; i++)
            {
                double keep = v[i];
                v[i] = keep + h;
                double up = Loss(x, weight, bias);
                v[i] = keep - h;
                double down = Loss(x, weight, bias);
                v[i] = keep;
                g[i] = (up - down) / (2 * h);
            }
            return g;
        }

        var (_, mean, rstd) = ReferenceGroupNorm.Forward(x, batch, channels, spatial, groups, eps, weight, bias);
        var (dx, dWeight, dBias) = ReferenceGroupNorm.Backward(w, x, batch, channels, spatial, groups, mean, rstd, weight);
        foreach (var (analytic, numeric, name) in new[] { (dx, Numeric(x), "dx"), (dWeight, Numeric(weight), "dweight"), (dBias, Numeric(bias), "dbias") })
        {
            double scale = Math.Max(numeric.Max(Math.Abs), 1e-3);
            for (int i = 0; i < analytic.Length; i++)
                Assert.That(analytic[i], Is.EqualTo(numeric[i]).Within(1e-6 * scale), $"{name}[{i}]");
        }
    }
}
