using GpuConv.Reference;

namespace GpuConv.Tests.Gelu;

/// <summary>
/// GELU's gradients in float64, the judge of the float32 code, from <see cref="ReferenceGelu"/>'s Φ, φ and w (the
/// forward functions are <see cref="ReferenceGelu"/>'s, which ReferenceActivation uses for Activation.Gelu / GeluTanh).
/// </summary>
internal static class GeluReference
{
    const double TwoSqrt2OverPi = ReferenceGelu.TwoSqrt2OverPi;
    const double Kappa = ReferenceGelu.Kappa;

    public static double Density(double x) => ReferenceGelu.Density(x);

    /// <summary>Φ(x), relative error below 1e-13.</summary>
    public static double Cdf(double x) => ReferenceGelu.Cdf(x);

    public static double Gelu(double x) => ReferenceGelu.Gelu(x);

    /// <summary>Φ(x) + x·φ(x), and the scale |Φ| + |x·φ| its error is measured against (the sum crosses 0 near x = -0.75).</summary>
    public static (double Value, double Scale) GeluBackward(double x)
    {
        double c = Cdf(x), t = x * Density(x);
        return (c + t, Math.Abs(c) + Math.Abs(t));
    }

    static double W(double x) => ReferenceGelu.TanhArgument(x);

    public static double GeluTanh(double x) => ReferenceGelu.GeluTanh(x);

    /// <summary>σ·(1 + x·(1 - σ)·w'), and the scale σ·(1 + |x·(1 - σ)·w'|) (the sum crosses 0 near x = -0.75).</summary>
    public static (double Value, double Scale) GeluTanhBackward(double x)
    {
        double w = W(x);
        double s = 1 / (1 + Math.Exp(-w)), oneMinus = 1 / (1 + Math.Exp(w));
        double t = x * oneMinus * TwoSqrt2OverPi * (1 + 3 * Kappa * x * x);
        return (s * (1 + t), s * (1 + Math.Abs(t)));
    }
}
