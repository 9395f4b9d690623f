using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.Tests.Softmax;

/// <summary>
/// Shapes, random inputs and the error bounds the softmax tests judge by. The bounds follow the fp32 error analysis of
/// the max-subtracted form, so they are tight where the problem is well conditioned and honest where it is not: with
/// u = 2^-24, a term e^(x − m) carries the rounding of x − m (|x − m|·u) and the exponential (1 ulp), the sum adds n
/// rounding steps (n = Axis for a sequential fold, a bound for every order), so softmax's y carries
/// u·(K + |x − m| + κ + n) relative, κ = Σ y·|x − m| over the slice; log-softmax's y = (x − m) − ln s carries
/// u·(K·(|x − m| + |ln s|) + κ + n) absolutely. The gradients: softmax dx = y·(dy − S) within
/// u·y·(K·|dy − S| + (n + K)·Σ|dy·y|); log-softmax dx = dy − e^y·S within u·(K·|dx| + K·e^y·|S| + n·e^y·Σ|dy|).
/// Each with an absolute floor of a few subnormal spacings (K = 4).
/// </summary>
static class SoftmaxTestData
{
    const double U = 1.0 / (1 << 24), K = 4, Floor = 4 * 1.401298464324817e-45;

    /// <summary>(dims, dim): contiguous rows (Inner = 1) shorter than, equal to, and beyond the 32 partials; Inner &gt; 1 below, at and beyond 8 lanes; dim = 0; ranks 1 to 5; negative dims.</summary>
    public static IEnumerable<TestCaseData> Shapes()
    {
        foreach (var (dims, dim) in new (int[], int)[]
        {
            ([8, 10], -1), ([5, 32], 1), ([3, 77], -1), ([2, 1000], 1), ([1, 1], 0), ([7], 0), ([300], -1),
            ([2, 21, 6, 7], 1), ([2, 5, 4, 4], 1), ([3, 6, 2], 1), ([2, 3, 9, 5], 2), ([4, 9, 3], -2),
            ([5, 3, 4], 0), ([2, 3, 4, 37], -1), ([2, 4, 3, 2, 5], 2), ([3, 1, 6], 1), ([2, 40, 17], 1),
        })
            yield return new TestCaseData(dims, dim).SetArgDisplayNames($"[{string.Join(", ", dims)}] dim={dim}");
    }

    /// <summary>Uniform values in ±scale, never zero.</summary>
    public static float[] Values(long count, int seed, float scale)
    {
        var rng = new Random(seed);
        var v = new float[count];
        for (int i = 0; i < v.Length; i++)
        {
            float u = (float)(rng.NextDouble() * 2 - 1);
            v[i] = (u == 0 ? 0.25f : u) * scale;
        }
        return v;
    }

    public static double[] D(float[] v) => [.. v.Select(f => (double)f)];

    /// <summary>Visits every slice's element indices (o, i) in axis order.</summary>
    static IEnumerable<int[]> Slices(SoftmaxShape s)
    {
        for (int o = 0; o < s.Outer; o++)
            for (int i = 0; i < s.Inner; i++)
            {
                var at = new int[s.Axis];
                for (int a = 0; a < s.Axis; a++) at[a] = (o * s.Axis + a) * s.Inner + i;
                yield return at;
            }
    }

    /// <summary>Per-element bounds for the forward's y of x (see the class comment).</summary>
    public static double[] ForwardBounds(float[] x, SoftmaxShape s, bool log)
    {
        var bound = new double[x.Length];
        var exact = ReferenceSoftmax.Forward(D(x), s.Outer, s.Axis, s.Inner, log: false);
        foreach (var at in Slices(s))
        {
            double m = at.Max(i => (double)x[i]);
            double kappa = at.Sum(i => double.IsFinite(x[i] - m) ? exact[i] * Math.Abs(x[i] - m) : 0);
            double sum = at.Sum(i => Math.Exp(x[i] - m));
            foreach (int i in at)
            {
                double d = Math.Abs(x[i] - m);
                if (double.IsInfinity(d)) { bound[i] = Floor; continue; } // x = −∞: y = 0 (−∞ in log space) exactly
                bound[i] = log
                    ? U * (K * (d + Math.Abs(Math.Log(sum))) + kappa + s.Axis + K) + Floor
                    : U * exact[i] * (K + d + kappa + s.Axis) + Floor;
            }
        }
        return bound;
    }

    /// <summary>Per-element bounds for the backward's dx from dy and the forward's y.</summary>
    public static double[] BackwardBounds(float[] dy, float[] y, SoftmaxShape s, bool log)
    {
        var bound = new double[y.Length];
        foreach (var at in Slices(s))
        {
            double sum = at.Sum(i => log ? (double)dy[i] : (double)dy[i] * y[i]);
            double magnitude = at.Sum(i => log ? Math.Abs((double)dy[i]) : Math.Abs((double)dy[i] * y[i]));
            foreach (int i in at)
            {
                if (log)
                {
                    double e = Math.Exp(y[i]);
                    bound[i] = U * (K * Math.Abs(dy[i] - e * sum) + K * e * Math.Abs(sum) + s.Axis * e * magnitude) + Floor;
                }
                else
                    bound[i] = U * Math.Abs((double)y[i]) * (K * Math.Abs(dy[i] - sum) + (s.Axis + K) * magnitude) + Floor;
            }
        }
        return bound;
    }

    /// <summary>
    /// Asserts |actual − reference| ≤ bound element by element, NaN exactly where the reference is NaN (±∞ where it is
    /// ±∞); returns the worst ratio of error to bound and prints it with the worst plain relative error.
    /// </summary>
    public static double AssertWithin(float[] actual, double[] reference, double[] bound, string what)
    {
        double worst = 0, worstRelative = 0;
        int at = -1;
        for (int i = 0; i < actual.Length; i++)
        {
            double r = reference[i];
            if (double.IsNaN(r) || double.IsInfinity(r))
            {
                Assert.That((double)actual[i], Is.EqualTo(r), $"{what}[{i}]");
                continue;
            }
            double err = Math.Abs(actual[i] - r);
            if (!(err <= bound[i]))
                Assert.Fail($"{what}[{i}] = {actual[i]:R}, reference {r:R}: error {err:E3} exceeds the bound {bound[i]:E3}");
            double ratio = err / bound[i];
            if (ratio > worst) { worst = ratio; at = i; }
            if (Math.Abs(r) > 1e-30) worstRelative = Math.Max(worstRelative, err / Math.Abs(r));
        }
        TestContext.Out.WriteLine($"{what}: worst error {worst:F3} of its bound (at {at}), worst relative error {worstRelative:E2} where |ref| > 1e-30");
        return worst;
    }

    public static uint[] Bits(float[] v) => [.. v.Select(BitConverter.SingleToUInt32Bits)];
}
