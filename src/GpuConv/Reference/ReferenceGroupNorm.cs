namespace GpuConv.Reference;

/// <summary>
/// The judge of the engine's GroupNorm: PyTorch's group_norm (native_group_norm and its backward) written out in
/// float64 from its definition, sharing nothing with the CPU loops or kernels/groupnorm.ptx. Tensors are [N, C, S]
/// (S the product of the spatial dimensions, 1 for [N, C]); per-channel values are [C]; per-(sample, group) values
/// are [N·G], index n·G + g, group g holding channels g·C/G … (g + 1)·C/G − 1.
/// </summary>
public static class ReferenceGroupNorm
{
    /// <summary>
    /// y = (x − mean)·rstd·gamma[c] + beta[c] with each (n, group)'s mean and rstd = 1/sqrt(var_b + eps) over its
    /// (C/G)·S values, var_b the biased variance; gamma null means 1, beta null 0. Returns y, mean and rstd.
    /// </summary>
    public static (double[] Y, double[] Mean, double[] Rstd) Forward(ReadOnlySpan<double> x, int batch, int channels, int spatial, int groups,
        double eps, double[]? gamma, double[]? beta)
    {
        Check(x.Length, batch, channels, spatial, groups, nameof(x));
        int per = channels / groups;
        double count = (double)per * spatial;
        var mean = new double[batch * groups];
        var rstd = new double[batch * groups];
        var y = new double[x.Length];
        for (int n = 0; n < batch; n++)
            for (int g = 0; g < groups; g++)
            {
                double sum = 0;
                for (int c = g * per; c < (g + 1) * per; c++)
                    for (int s = 0; s < spatial; s++) sum += x[(n * channels + c) * spatial + s];
                double m = sum / count;
                double sq = 0;
                for (int c = g * per; c < (g + 1) * per; c++)
                    for (int s = 0; s < spatial; s++)
                    {
                        double d = x[(n * channels + c) * spatial + s] - m;
                        sq += d * d;
                    }
                double r = 1 / Math.Sqrt(sq / count + eps);
                mean[n * groups + g] = m;
                rstd[n * groups + g] = r;
                for (int c = g * per; c < (g + 1) * per; c++)
                    for (int s = 0; s < spatial; s++)
                    {
                        int i = (n * channels + c) * spatial + s;
                        y[i] = (x[i] - m) * r * (gamma?[c] ?? 1) + (beta?[c] ?? 0);
                    }
            }
        return (y, mean, rstd);
    }

    /// <summary>
    /// The backward from the saved mean and rstd: with x̂ = (x − mean)·rstd and, per (n, group), the means over its
    /// values, dx = rstd·(gamma·dy − mean(gamma·dy) − x̂·mean(gamma·dy·x̂)); dgamma[c] = Σ dy·x̂ and dbeta[c] = Σ dy over N and S.
    /// </summary>
    public static (double[] Dx, double[] DGamma, double[] DBeta) Backward(ReadOnlySpan<double> dy, ReadOnlySpan<double> x, int batch, int channels, int spatial, int groups,
        double[] mean, double[] rstd, double[]? gamma)
    {
        Check(x.Length, batch, channels, spatial, groups, nameof(x));
        Check(dy.Length, batch, channels, spatial, groups, nameof(dy));
        int per = channels / groups;
        double count = (double)per * spatial;
        var dx = new double[x.Length];
        var dGamma = new double[channels];
        var dBeta = new double[channels];
        for (int n = 0; n < batch; n++)
            for (int g = 0; g < groups; g++)
            {
                int u = n * groups + g;
                double meanGdy = 0, meanGdyXhat = 0;
                for (int c = g * per; c < (g + 1) * per; c++)
                    for (int s = 0; s < spatial; s++)
                    {
                        int i = (n * channels + c) * spatial + s;
                        double xHat = (x[i] - mean[u]) * rstd[u];
                        double gdy = (gamma?[c] ?? 1) * dy[i];
                        meanGdy += gdy;
                        meanGdyXhat += gdy * xHat;
                        dGamma[c] += dy[i] * xHat;
                        dBeta[c] += dy[i];
                    }
                meanGdy /= count;
                meanGdyXhat /= count;
                for (int c = g * per; c < (g + 1) * per; c++)
                    for (int s = 0; s < spatial; s++)
                    {
                        int i = (n * channels + c) * spatial + s;
                        double xHat = (x[i] - mean[u]) * rstd[u];
                        dx[i] = rstd[u] * ((gamma?[c] ?? 1) * dy[i] - meanGdy - xHat * meanGdyXhat);
                    }
            }
        return (dx, dGamma, dBeta);
    }

    static void Check(int length, int batch, int channels, int spatial, int groups, string name)
    {
        if (batch < 1 || channels < 1 || spatial < 1 || groups < 1 || channels % groups != 0 || length != (long)batch * channels * spatial)
            throw new ArgumentException($"{name} has {length} values; [N, C, S] = [{batch}, {channels}, {spatial}] with {groups} groups (dividing C) needs {(long)batch * channels * spatial}.", name);
    }
}
