namespace GpuConv.Reference;

/// <summary>
/// GELU in float64, the judge of the float32 forms (.NET has no erf): the normal CDF Φ by its all-positive-terms series
/// Φ(x) = 1/2 + φ(x)·(x + x³/3 + x⁵/(3·5) + …) for |x| &lt; 3.5 (1 - Φ(-x) cancels at most to 2e-4, a 5e-13 relative
/// error there) and by the Mills-ratio continued fraction Φ(-a) = φ(a)/(a + 1/(a + 2/(a + …))) beyond; φ(x) =
/// e^(-x²/2)/√(2π). Checked against mpmath (30 digits) in tests/GpuConv.Tests/Gelu/GeluTests.cs. The tanh form as
/// x·σ(w), w = 2√(2/π)·(x + 0.044715·x³): the same function as 0.5·x·(1 + tanh(w/2)) without its cancellation.
/// Ends as torch: gelu(+∞) = +∞, gelu(-∞) = NaN (-∞·0), NaN stays NaN.
/// </summary>
public static class ReferenceGelu
{
    const double InvSqrt2Pi = 0.39894228040143267794;
    /// <summary>2·√(2/π), w's factor.</summary>
    public const double TwoSqrt2OverPi = 1.5957691216057307118;
    /// <summary>The cubic term's coefficient of the tanh form.</summary>
    public const double Kappa = 0.044715;

    /// <summary>φ(x), the standard normal density.</summary>
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

    /// <summary>x·Φ(x), torch's gelu (approximate='none').</summary>
    public static double Gelu(double x) => x * Cdf(x);

    /// <summary>w = 2√(2/π)·(x + 0.044715·x³), the argument of σ in the tanh form.</summary>
    public static double TanhArgument(double x) => TwoSqrt2OverPi * (x + Kappa * x * x * x);

    /// <summary>0.5·x·(1 + tanh(w/2)) = x·σ(w), torch's gelu (approximate='tanh').</summary>
    public static double GeluTanh(double x) => x / (1 + Math.Exp(-TanhArgument(x)));
}
