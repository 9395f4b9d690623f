namespace GpuConv;

/// <summary>
/// Which GELU <see cref="ConvEngine.Gelu"/> and <see cref="ConvEngine.GeluBackward"/> compute: torch.nn.functional.gelu's
/// <c>approximate</c> argument.
/// </summary>
public enum GeluApproximation
{
    /// <summary>approximate='none': x·Φ(x) = x·(1 + erf(x/√2))/2, Φ the standard normal CDF (BERT, ViT).</summary>
    None,
    /// <summary>approximate='tanh': 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (GPT-2's "gelu_new").</summary>
    Tanh,
}
