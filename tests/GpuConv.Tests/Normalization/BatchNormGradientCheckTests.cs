using GpuConv.Reference;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// The float64 reference's backward (the judge of the engine's) against finite differences of its own training
/// forward: loss = Σ w·y for random w, central differences with h = 1e-5 on every x, gamma and beta element; agreement
/// within 1e-6 relative to the largest gradient (the differences' truncation error is O(h²)·y''', about 1e-9 here).
/// </summary>
public class BatchNormGradientCheckTests
{
    [TestCase(4, 3, 1)]
    [TestCase(2, 2, 5)]
    [TestCase(1, 3, 2)]
    [TestCase(2, 1, 1)]
    [TestCase(3, 2, 12)]
    public void ReferenceBackwardMatchesFiniteDifferences(int batch, int channels, int spatial)
    {
        var rng = new Random(batch * 100 + channels * 10 + spatial);
        double[] R(int count, double center) => [.. Enumerable.Range(0, count).Select(_ => center + rng.NextDouble() * 2 - 1)];
        int total = batch * channels * spatial;
        double[] x = R(total, 0.7), gamma = R(channels, 1.2), beta = R(channels, 0), w = R(total, 0.3);
        const double eps = 1e-3, h = 1e-5;

        double Loss(double[] xs, double[] gs, double[] bs)
        {
            var (y, _, _) = ReferenceBatchNorm.Training(xs, batch, channels, spatial, eps, 0.1, gs, bs);
            return y.Select((v, i) => v * w[i]).Sum();
        }
        double[] Numeric(double[] v)
        {
            var g = new double[v.Length];
            for (int i = 0; i < v.Length; i++)
            {
                double keep = v[i];
                v[i] = keep + h;
                double up = Loss(x, gamma, beta);
                v[i] = keep - h;
                double down = Loss(x, gamma, beta);
                v[i] = keep;
                g[i] = (up - down) / (2 * h);
            }
            return g;
        }

        var (_, mean, invStd) = ReferenceBatchNorm.Training(x, batch, channels, spatial, eps, 0.1, gamma, beta);
        var (dx, dGamma, dBeta) = ReferenceBatchNorm.Backward(w, x, batch, channels, spatial, mean, invStd, gamma);
        foreach (var (analytic, numeric, name) in new[] { (dx, Numeric(x), "dx"), (dGamma, Numeric(gamma), "dgamma"), (dBeta, Numeric(beta), "dbeta") })
        {
            double scale = Math.Max(numeric.Max(Math.Abs), 1e-3);
            for (int i = 0; i < analytic.Length; i++)
                Assert.That(analytic[i], Is.EqualTo(numeric[i]).Within(1e-6 * scale), $"{name}[{i}]");
        }
    }
}
