namespace GpuConv.Reference;

/// <summary>
/// The judge of the engine's BatchNorm: PyTorch's batch_norm written out in float64 from its definition, sharing
/// nothing with the CPU loops or kernels/batchnorm.ptx. Tensors are [N, C, S] (S the product of the spatial
/// dimensions, 1 for [N, C]); per-channel values are [C].
/// </summary>
public static class ReferenceBatchNorm
{
    /// <summary>The batch's per-channel mean and biased variance over N and S (n = N·S values each).</summary>
    public static (double[] Mean, double[] BiasedVar) Statistics(ReadOnlySpan<double> x, int batch, int channels, int spatial)
    {
        Check(x.Length, batch, channels, spatial, nameof(x));
        var mean = new double[channels];
        var variance = new double[channels];
        double n = (double)batch * spatial;
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            for (int b = 0; b < batch; b++)
                for (int s = 0; s < spatial; s++) sum += x[(b * channels + c) * spatial + s];
            mean[c] = sum / n;
            double sq = 0;
            for (int b = 0; b < batch; b++)
                for (int s = 0; s < spatial; s++)
                {
                    double d = x[(b * channels + c) * spatial + s] - mean[c];
                    sq += d * d;
                }
            variance[c] = sq / n;
        }
        return (mean, variance);
    }

    /// <summary>y = (x − mean[c]) / sqrt(var[c] + eps) · gamma[c] + beta[c]; gamma null means 1, beta null 0.</summary>
    public static double[] Normalize(ReadOnlySpan<double> x, int batch, int channels, int spatial, double[] mean, double[] variance, double eps, double[]? gamma, double[]? beta)
    {
        Check(x.Length, batch, channels, spatial, nameof(x));
        var y = new double[x.Length];
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < channels; c++)
            {
                double invStd = 1 / Math.Sqrt(variance[c] + eps);
                for (int s = 0; s < spatial; s++)
                {
                    int i = (b * channels + c) * spatial + s;
                    y[i] = (x[i] - mean[c]) * invStd * (gamma?[c] ?? 1) + (beta?[c] ?? 0);
                }
            }
        return y;
    }

    /// <summary>
    /// Training mode: y from the batch statistics, and the running statistics' update (in place when given):
    /// running = (1 − momentum)·running + momentum·batch, the variance unbiased (n/(n − 1)). Returns y, the batch mean and 1/sqrt(var_b + eps).
    /// </summary>
    public static (double[] Y, double[] Mean, double[] InvStd) Training(ReadOnlySpan<double> x, int batch, int channels, int spatial, double eps, double momentum,
        double[]? gamma, double[]? beta, double[]? runningMean = null, double[]? runningVar = null)
    {
        var (mean, variance) = Statistics(x, batch, channels, spatial);
        var y = Normalize(x, batch, channels, spatial, mean, variance, eps, gamma, beta);
        double n = (double)batch * spatial;
        var invStd = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            invStd[c] = 1 / Math.Sqrt(variance[c] + eps);
            if (runningMean is not null) runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean[c];
            if (runningVar is not null) runningVar[c] = (1 - momentum) * runningVar[c] + momentum * variance[c] * n / (n - 1);
        }
        return (y, mean, invStd);
    }

    /// <summary>
    /// The training-mode backward from the saved mean and inverse std: dbeta = Σdy, dgamma = Σdy·x̂ and
    /// dx = invstd·gamma/n·(n·dy − Σdy − x̂·Σ(dy·x̂)), x̂ = (x − mean)·invstd, sums per channel over N and S.
    /// </summary>
    public static (double[] Dx, double[] DGamma, double[] DBeta) Backward(ReadOnlySpan<double> dy, ReadOnlySpan<double> x, int batch, int channels, int spatial,
        double[] mean, double[] invStd, double[]? gamma)
    {
        Check(x.Length, batch, channels, spatial, nameof(x));
        Check(dy.Length, batch, channels, spatial, nameof(dy));
        var dGamma = new double[channels];
        var dBeta = new double[channels];
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < channels; c++)
                for (int s = 0; s < spatial; s++)
                {
                    int i = (b * channels + c) * spatial + s;
                    dBeta[c] += dy[i];
                    dGamma[c] += dy[i] * (x[i] - mean[c]) * invStd[c];
                }
        double n = (double)batch * spatial;
        var dx = new double[x.Length];
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < channels; c++)
                for (int s = 0; s < spatial; s++)
                {
                    int i = (b * channels + c) * spatial + s;
                    double xHat = (x[i] - mean[c]) * invStd[c];
                    dx[i] = invStd[c] * (gamma?[c] ?? 1) / n * (n * dy[i] - dBeta[c] - xHat * dGamma[c]);
                }
        return (dx, dGamma, dBeta);
    }

    static void Check(int length, int batch, int channels, int spatial, string name)
    {
        if (batch < 1 || channels < 1 || spatial < 1 || length != (long)batch * channels * spatial)
            throw new ArgumentException($"{name} has {length} values; [N, C, S] = [{batch}, {channels}, {spatial}] needs {(long)batch * channels * spatial}.", name);
    }
}
