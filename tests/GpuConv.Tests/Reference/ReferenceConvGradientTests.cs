using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Reference;

/// <summary>
/// Finite-difference checks of the reference's gradients against its forward. With L(x, w, b) =
/// &lt;Forward(x, w, b), r&gt; for a random r, dL/dx = BackwardData(r, w), dL/dw = BackwardFilter(x, r)
/// and dL/db = BiasGradient(r). Inputs lie on a 2^-10 grid and the step is h = 2^-4, so x ± h is exact
/// in float32; every product is exact in float64 and L is linear in each argument, so the central
/// difference equals the derivative up to float64 summation rounding. Tolerance: every element within
/// 1e-9 · max(1, max |gradient|) (a wrong index or a missing tap is off by at least ~1e-3).
/// </summary>
public class ReferenceConvGradientTests
{
    const float Step = 1f / 16;
    const double Tolerance = 1e-9;

    public static IEnumerable<TestCaseData> Cases() =>
        ConvCases.All().Select(c => new TestCaseData(c).SetArgDisplayNames(c.Name));

    [TestCaseSource(nameof(Cases))]
    public void BackwardDataIsGradientOfForwardWrtInput(ConvCase c)
    {
        var p = c.Problem;
        var x = TestData.Grid(p.XShape.ElementCount, 1);
        var w = TestData.Grid(p.WShape.ElementCount, 2);
        var r = TestData.Grid(p.YShape.ElementCount, 3);
        var analytic = ReferenceConv.BackwardData(p, r, w);
        var numeric = CentralDifferences(x, xs => TestData.Dot(ReferenceConv.Forward(p, xs, w), r));
        AssertClose(numeric, analytic, "dL/dx");
    }

    [TestCaseSource(nameof(Cases))]
    public void BackwardFilterIsGradientOfForwardWrtFilter(ConvCase c)
    {
        var p = c.Problem;
        var x = TestData.Grid(p.XShape.ElementCount, 4);
        var w = TestData.Grid(p.WShape.ElementCount, 5);
        var r = TestData.Grid(p.YShape.ElementCount, 6);
        var analytic = ReferenceConv.BackwardFilter(p, x, r);
        var numeric = CentralDifferences(w, ws => TestData.Dot(ReferenceConv.Forward(p, x, ws), r));
        AssertClose(numeric, analytic, "dL/dw");
    }

    [TestCaseSource(nameof(Cases))]
    public void BiasGradientIsGradientOfForwardWrtBias(ConvCase c)
    {
        var p = c.Problem;
        var x = TestData.Grid(p.XShape.ElementCount, 7);
        var w = TestData.Grid(p.WShape.ElementCount, 8);
        var b = TestData.Grid(p.K, 9);
        var r = TestData.Grid(p.YShape.ElementCount, 10);
        var analytic = ReferenceConv.BiasGradient(p.YShape, r);
        var numeric = CentralDifferences(b, bs => TestData.Dot(ReferenceConv.Forward(p, x, w, bs), r));
        AssertClose(numeric, analytic, "dL/db");
    }

    /// <summary>
    /// The transposed convolution's own gradients, as ConvProblem documents them: its forward is
    /// BackwardData, its input gradient is Forward, its filter gradient BackwardFilter with the roles
    /// of x (its upstream gradient) and dy (its input) swapped, its bias gradient sums over X's channels.
    /// </summary>
    [TestCaseSource(nameof(Cases))]
    public void TransposedConvolutionGradients(ConvCase c)
    {
        var t = ConvProblem.Create(c.Spec.AsTransposed(c.TransposedOutputPadding()), c.Problem.YShape, c.FilterShape);
        Assert.That(t.Op, Is.EqualTo(ConvOp.BackwardData));
        var input = TestData.Grid(t.YShape.ElementCount, 11);
        var w = TestData.Grid(t.WShape.ElementCount, 12);
        var b = TestData.Grid(t.C, 13);
        var r = TestData.Grid(t.XShape.ElementCount, 14);
        double Loss(float[] inp, float[] wt, float[] bias) => TestData.Dot(ReferenceConv.BackwardData(t, inp, wt, bias), r);

        AssertClose(CentralDifferences(input, v => Loss(v, w, b)), ReferenceConv.Forward(t, r, w), "dL/dinput");
        AssertClose(CentralDifferences(w, v => Loss(input, v, b)), ReferenceConv.BackwardFilter(t, r, input), "dL/dw");
        AssertClose(CentralDifferences(b, v => Loss(input, w, v)), ReferenceConv.BiasGradient(t.XShape, r), "dL/db");
    }

    /// <summary>(L(v + h·e_i) - L(v - h·e_i)) / 2h for every element i; v is restored afterwards.</summary>
    static double[] CentralDifferences(float[] v, Func<float[], double> loss)
    {
        var g = new double[v.Length];
        for (int i = 0; i < v.Length; i++)
        {
            float saved = v[i];
            v[i] = saved + Step;
            double plus = loss(v);
            v[i] = saved - Step;
            double minus = loss(v);
            v[i] = saved;
            g[i] = (plus - minus) / (2.0 * Step);
        }
        return g;
    }

    static void AssertClose(double[] numeric, double[] analytic, string what)
    {
        Assert.That(numeric, Has.Length.EqualTo(analytic.Length), $"{what}: length");
        double scale = Math.Max(1, TestData.MaxAbs(analytic));
        Assert.That(TestData.MaxAbs(analytic), Is.GreaterThan(0), $"{what}: gradient is all zeros, the check would prove nothing");
        double worst = 0; int worstIndex = -1;
        for (int i = 0; i < numeric.Length; i++)
        {
            double d = Math.Abs(numeric[i] - analytic[i]);
            if (!double.IsFinite(d)) d = double.PositiveInfinity;   // `d > worst` alone would skip a NaN
            if (d > worst) { worst = d; worstIndex = i; }
        }
        Assert.That(worst, Is.LessThanOrEqualTo(Tolerance * scale),
            $"{what}: element {worstIndex}: finite difference {(worstIndex >= 0 ? numeric[worstIndex] : 0)} vs analytic {(worstIndex >= 0 ? analytic[worstIndex] : 0)}");
    }
}
