namespace GpuConv.Inference;

/// <summary>
/// An eval-mode BatchNorm over channels (PyTorch's BatchNorm{1,2,3}d after model.eval()):
/// y[c] = (x[c] − RunningMean[c]) / sqrt(RunningVar[c] + Eps) · Gamma[c] + Beta[c], one value per channel.
/// Gamma is PyTorch's <c>weight</c>, Beta its <c>bias</c>.
/// </summary>
public sealed record BatchNormParameters(float[] Gamma, float[] Beta, float[] RunningMean, float[] RunningVar, double Eps = 1e-5)
{
    /// <summary>Channels (the length of every list).</summary>
    public int Channels => Gamma?.Length ?? 0;

    /// <summary>Throws <see cref="ArgumentException"/> naming the field: lists missing, of unequal length, non-finite, a negative variance, Eps negative or not finite, a zero variance with Eps = 0.</summary>
    public void Validate()
    {
        Check(Gamma, nameof(Gamma));
        foreach (var (list, name) in new[] { (Beta, nameof(Beta)), (RunningMean, nameof(RunningMean)), (RunningVar, nameof(RunningVar)) })
        {
            Check(list, name);
            if (list.Length != Gamma.Length)
                throw new ArgumentException($"{name} has {list.Length} values but Gamma has {Gamma.Length}; every BatchNorm list has one value per channel.", name);
        }
        if (!(Eps >= 0) || double.IsInfinity(Eps))
            throw new ArgumentException($"Eps must be finite and at least 0, got {Eps}.", nameof(Eps));
        for (int c = 0; c < RunningVar.Length; c++)
        {
            if (RunningVar[c] < 0)
                throw new ArgumentException($"RunningVar[{c}] = {RunningVar[c]} is negative; a variance is at least 0.", nameof(RunningVar));
            // PyTorch accepts eps = 0 (models exported with it exist); a zero variance would then scale by 1/0.
            if (RunningVar[c] + Eps == 0)
                throw new ArgumentException($"RunningVar[{c}] = 0 with Eps = 0 divides by zero; a channel with no variance needs Eps > 0.", nameof(RunningVar));
        }
    }

    static void Check(float[]? list, string name)
    {
        if (list is null) throw new ArgumentException($"{name} is null.", name);
        for (int c = 0; c < list.Length; c++)
            if (!float.IsFinite(list[c]))
                throw new ArgumentException($"{name}[{c}] = {list[c]} is not finite.", name);
    }

    /// <summary>The per-channel scale Gamma / sqrt(RunningVar + Eps), in float64.</summary>
    public double Scale(int c) => Gamma[c] / Math.Sqrt(RunningVar[c] + Eps);

    /// <summary>The BatchNorm of one value of channel c, in float64 (the definition folding reproduces).</summary>
    public double Apply(int c, double x) => (x - RunningMean[c]) * Scale(c) + Beta[c];
}
