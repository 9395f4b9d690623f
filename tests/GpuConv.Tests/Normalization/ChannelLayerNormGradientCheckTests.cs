namespace GpuConv.Tests.Normalization;

/// <summary>
/// The float64 reference's channels-first LayerNorm backward (the judge of the engine's) against finite differences of
/// its own forward: loss = Σ w·y for random w, central differences with h = 1e-5 on every x, weight and bias element;
/// agreement within 1e-6 relative to the largest gradient (the differences' truncation error is O(h²)·y''', about 1e-9 here).
/// </summary>
public class ChannelLayerNormGradientCheckTests
{
    [TestCase(2, 4, 3)]
    [TestCase(3, 5, 1)]
    [TestCase(1, 3, 7)]
    [TestCase(2, 1, 4)]
    [TestCase(2, 6, 5)]
    public void ReferenceBackwardMatchesFiniteDifferences(int batch, int channels, int positions)
    {
        var rng = new Random(batch * 1000 + channels * 100 + positions);
        double[] R(int count, double center) => [.. Enumerable.Range(0, count).Select(_ => center + rng.NextDouble() * 2 - 1)];
        int total = batch * channels * positions;
        double[] x = R(total, 0.7), weight = R(channels, 1.2), bias = R(channels, 0), w = R(total, 0.3);
        const double eps = 1e-3, h = 1e-5;

        double Loss()
        {
            var (y, _, _) = ReferenceChannelLayerNorm.Forward(x, batch, channels, positions, eps, weight, bias);
            return y.Select((v, i) => v * w[i]).Sum();
        }
        double[] Numeric(double[] v)
        {
            var g = new double[v.Length];
            for (int i = 0; i < v.Length; i++)
            {
                double keep = v[i];
                v[i] = keep + h;
                double up = Loss();
                v[i] = keep - h;
                double down = Loss();
                v[i] = keep;
                g[i] = (up - down) / (2 * h);
            }
            return g;
        }

        var (_, mean, rstd) = ReferenceChannelLayerNorm.Forward(x, batch, channels, positions, eps, weight, bias);
        var (dx, dWeight, dBias) = ReferenceChannelLayerNorm.Backward(w, x, batch, channels, positions, mean, rstd, weight);
        foreach (var (analytic, numeric, name) in new[] { (dx, Numeric(x), "dx"), (dWeight, Numeric(weight), "dweight"), (dBias, Numeric(bias), "dbias") })
        {
            double scale = Math.Max(numeric.Max(Math.Abs), 1e-3);
            for (int i = 0; i < analytic.Length; i++)
                Assert.That(analytic[i], Is.EqualTo(numeric[i]).Within(1e-6 * scale), $"{name}[{i}]");
        }
    }
}
