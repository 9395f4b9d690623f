namespace GpuConv.Reference;

/// <summary>
/// The judge of the engine's channels-first LayerNorm (timm's LayerNorm2d): F.layer_norm over the channel dimension
/// and its backward written out in float64 from the definition, sharing nothing with the CPU loops or
/// kernels/layernorm.ptx. Tensors are [N, C, P] (P the product of the spatial dimensions, 1 for [N, C]); per-channel
/// values are [C]; per-position values are [N·P], index n·P + p.
/// </summary>
public static class ReferenceChannelLayerNorm
{
    /// <summary>
    /// y = (x − mean)·rstd·gamma[c] + beta[c] with each (n, p)'s mean and rstd = 1/sqrt(var_b + eps) over its C values,
    /// var_b the biased variance; gamma null means 1, beta null 0. Returns y, mean and rstd.
    /// </summary>
    public static (double[] Y, double[] Mean, double[] Rstd) Forward(ReadOnlySpan<double> x, int batch, int channels, int positions,
        double eps, double[]? gamma, double[]? beta)
    {
        Check(x.Length, batch, channels, positions, nameof(x));
        var mean = new double[batch * positions];
        var rstd = new double[batch * positions];
        var y = new double[x.Length];
        for (int n = 0; n < batch; n++)
            for (int p = 0; p < positions; p++)
            {
                double sum = 0;
                for (int c = 0; c < channels; c++) sum += x[(n * channels + c) * positions + p];
                double m = sum / channels;
                double sq = 0;
                for (int c = 0; c < channels; c++)
                {
                    double d = x[(n * channels + c) * positions + p] - m;
                    sq += d * d;
                }
                double r = 1 / Math.Sqrt(sq / channels + eps);
                mean[n * positions + p] = m;
                rstd[n * positions + p] = r;
                for (int c = 0; c < channels; c++)
                {
                    int i = (n * channels + c) * positions + p;
                    y[i] = (x[i] - m) * r * (gamma?[c] ?? 1) + (beta?[c] ?? 0);
                }
            }
        return (y, mean, rstd);
    }

    /// <summary>
    /// The backward from the saved mean and rstd: with x̂ = (x − mean)·rstd and, per (n, p), the means over its C values,
    /// dx = rstd·(gamma·dy − mean_c(gamma·dy) − x̂·mean_c(gamma·dy·x̂)); dgamma[c] = Σ dy·x̂ and dbeta[c] = Σ dy over N and P.
    /// </summary>
    public static (double[] Dx, double[] DGamma, double[] DBeta) Backward(ReadOnlySpan<double> dy, ReadOnlySpan<double> x, int batch, int channels, int positions,
        double[] mean, double[] rstd, double[]? gamma)
    {
        Check(x.Length, batch, channels, positions, nameof(x));
        Check(dy.Length, batch, channels, positions, nameof(dy));
        var dx = new double[x.Length];
        var dGamma = new double[channels];
        var dBeta = new double[channels];
        for (int n = 0; n < batch; n++)
            for (int p = 0; p < positions; p++)
            {
                int j = n * positions + p;
                double meanGdy = 0, meanGdyXhat = 0;
                for (int c = 0; c < channels; c++)
                {
                    int i = (n * channels + c) * positions + p;
                    double xHat = (x[i] - mean[j]) * rstd[j];
                    double gdy = (gamma?[c] ?? 1) * dy[i];
                    meanGdy += gdy;
                    meanGdyXhat += gdy * xHat;
                    dGamma[c] += dy[i] * xHat;
                    dBeta[c] += dy[i];
                }
                meanGdy /= channels;
                meanGdyXhat /= channels;
                for (int c = 0; c < channels; c++)
                {
                    int i = (n * channels + c) * positions + p;
                    double xHat = (x[i] - mean[j]) * rstd[j];
                    dx[i] = rstd[j] * ((gamma?[c] ?? 1) * dy[i] - meanGdy - xHat * meanGdyXhat);
                }
            }
        return (dx, dGamma, dBeta);
    }

    static void Check(int length, int batch, int channels, int positions, string name)
    {
        if (batch < 1 || channels < 1 || positions < 1 || length != (long)batch * channels * positions)
            throw new ArgumentException($"{name} has {length} values; [N, C, P] = [{batch}, {channels}, {positions}] needs {(long)batch * channels * positions}.", name);
    }
}
