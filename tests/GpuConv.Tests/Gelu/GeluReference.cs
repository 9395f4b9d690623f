namespace GpuConv.Tests.Gelu;

/// <summary>
/// GELU and its gradients in float64, the judge of the float32 code (.NET has no erf): the normal CDF Φ by its
/// all-positive-terms series Φ(x) = 1/2 + φ(x)·(x + x³/3 + x⁵/(3·5) + …) for |x| &lt; 3.5 (1 - Φ(-x) cancels at most
/// to 2e-4, a 5e-13 relative error there) and by the Mills-ratio continued fraction Φ(-a) = φ(a)/(a + 1/(a + 2/(a + …)))
/// beyond; φ(x) = e^(-x²/2)/√(2π) with x² exact for a float x. Checked against mpmath (30 digits) in GeluAccuracyTests.
/// The tanh form as x·σ(w), w = 2√(2/π)·(x + 0.044715·x³), the same function as 0.5·x·(1 + tanh(w/2)) without its
/// cancellation.
/// </summary>
internal static class GeluReference
{
    const double InvSqrt2Pi = 0.39894228040143267794;
    const double TwoSqrt2OverPi = 1.5957691216057307118; // 2·√(2/π)
    const double Kappa = 0.044715;

    public static double Density(double x) => Math.Exp(-0.5 * x * x) * InvSqrt2Pi;

    /// <summary>Φ(x), relative error below 1e-13.</summary>
    public static double Cdf(double x)
    {
        double a = Math.Abs(x);
        if (a < 3.5)
        {
            double term = a, sum = a, z = a * a;
            for (int n = 1; term > 1e-18 * sum; n++)
            {
                term *= z / (2 * n + 1);
                sum += term;
            }
            double half = Density(a) * sum; // Φ(a) - 1/2
            return x < 0 ? 0.5 - half : 0.5 + half;
        }
        double f = a;
        for (int k = 60; k >= 1; k--) f = a + k / f;
        double tail = Density(a) / f;
        return x < 0 ? tail : 1 - tail;
    }

    public static double Gelu(double x) => x * Cdf(x);

    /// <summary>Φ(x) + x·φ(x), and the scale |Φ| + |x·φ| its error is measured against (the sum crosses 0 near x = -0.75).</summary>
    public static (double Value, double Scale) GeluBackward(double x)
    {
        double c = Cdf(x), t = x * Density(x);
        return (c + t, Math.Abs(c) + Math.Abs(t));
    }

    static double W(double x) => TwoSqrt2OverPi * (x + Kappa * x * x * x);

    public static double GeluTanh(double x) => x / (1 + Math.Exp(-W(x)));

    /// <summary>σ·(1 + x·(1 - σ)·w'), and the scale σ·(1 + |x·(1 - σ)·w'|) (the sum crosses 0 near x = -0.75).</summary>
    public static (double Value, double Scale) GeluTanhBackward(double x)
    {
        double w = W(x);
        double s = 1 / (1 + Math.Exp(-w)), oneMinus = 1 / (1 + Math.Exp(w));
        double t = x * oneMinus * TwoSqrt2OverPi * (1 + 3 * Kappa * x * x);
        return (s * (1 + t), s * (1 + Math.Abs(t)));
    }
}
