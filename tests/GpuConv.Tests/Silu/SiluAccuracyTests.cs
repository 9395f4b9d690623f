using GpuConv.Cpu.Elementwise;
using GpuConv.Reference;

namespace GpuConv.Tests.Silu;

/// <summary>
/// The stated accuracy of SiLU and its gradient (src/GpuConv/Cpu/Elementwise/SiluMath.cs, the one definition every device runs)
/// against the float64 reference (<see cref="ReferenceActivation"/>), over a dense sweep of float32: every 61st bit
/// pattern with |x| ≤ 100 (some 29 million values, every exponent from subnormals up) plus the floats around the ends.
/// <list type="bullet">
/// <item>silu(x): relative error ≤ <see cref="ForwardTolerance"/> (2.4e-7, about 2 ulp) wherever e^-x does not overflow
/// (x &gt; -88.7228394; the result there is a normal float of at least 2.6e-37 in magnitude, or x/2 rounded when x is
/// subnormal). At and below -88.7228394 the result is -0, as torch's, where the true value is below 2.7e-37 in
/// magnitude (that absolute error is asserted).</item>
/// <item>silu'(x)·dy: error ≤ <see cref="BackwardTolerance"/> (4e-7) times |dy|·s·(1 + |x·(1 - s)|), the size of the
/// formula's terms. Relative to the gradient itself that is the same except near its zero crossing x = -1.27846, where
/// 1 + x·(1 - s) cancels: there the bound is absolute (≤ 1.8e-7·|dy|). For x &lt; -87.34 sigmoid(x) is subnormal
/// in float32 (torch's formula, computed as torch does), so the bound there is absolute: ≤ 2^-140·(1 + |dy|)·(1 + |x|);
/// at and below the overflow end s is 0 and so is the gradient, as torch's (the true value is below 3e-39·|dy|·(1 + |x|)).</item>
/// </list>
/// </summary>
public class SiluAccuracyTests
{
    /// <summary>Max relative error of silu against float64 where e^-x does not overflow (1.63e-7 seen).</summary>
    public const double ForwardTolerance = 2.4e-7;

    /// <summary>Max error of the gradient relative to <see cref="GradientScale"/> (2.45e-7 seen).</summary>
    public const double BackwardTolerance = 4e-7;

    /// <summary>The first x (going down) where e^-x overflows float32 and silu gives -0, as torch 1.13 (-88.72283935546875).</summary>
    public static readonly float OverflowEnd = -88.72283935546875f;

    /// <summary>Below this x, sigmoid(x) = 1 / (1 + e^-x) is a subnormal float32 (e^-x &gt; 2^126): the gradient's bound is absolute.</summary>
    public const float SubnormalSigmoid = -87.34f;

    /// <summary>|dy|·s·(1 + |x·(1 - s)|) in float64: the size of the gradient formula's terms.</summary>
    public static double GradientScale(double dy, double x)
    {
        double s = 1 / (1 + Math.Exp(-x));
        return Math.Abs(dy) * s * (1 + Math.Abs(x * (1 - s)));
    }

    /// <summary>Why silu(x) = <paramref name="got"/> is out of its bound, or null.</summary>
    public static string? ForwardError(float x, float got)
    {
        double expected = ReferenceActivation.Apply(Activation.Silu, x);
        if (double.IsNaN(expected) || double.IsInfinity(expected))
            return ((double)got).Equals(expected) ? null : $"silu({x:R}) = {got:R}, expected {expected:R}";
        if (x <= OverflowEnd)
            return BitConverter.SingleToUInt32Bits(got) == 0x8000_0000u && Math.Abs(expected) < 2.7e-37 ? null
                : $"silu({x:R}) = {got:R}: expected -0 (torch's overflow end; true value {expected:R})";
        double error = Math.Abs(got - expected);
        // A subnormal x gives x/2 rounded once to the subnormal grid: at most half its spacing, 2^-150.
        double allowed = Math.Max(ForwardTolerance * Math.Abs(expected), Math.Pow(2, -150));
        return error <= allowed ? null : $"silu({x:R}) = {got:R}, float64 {expected:R}: relative error {error / Math.Abs(expected):E3}";
    }

    /// <summary>Why SiluBackward(dy, x) = <paramref name="got"/> is out of its bound, or null.</summary>
    public static string? BackwardError(float dy, float x, float got)
    {
        double expected = ReferenceActivation.SiluBackward(dy, x);
        if (double.IsNaN(expected) || double.IsInfinity(expected))
            return ((double)got).Equals(expected) ? null : $"silu'({x:R})·{dy:R} = {got:R}, expected {expected:R}";
        if (x <= OverflowEnd)
            return got == 0 && Math.Abs(expected) < 3e-39 * Math.Abs(dy) * (1 + Math.Abs(x)) ? null
                : $"silu'({x:R})·{dy:R} = {got:R}: expected ±0 (e^-x overflows, s = 0, as torch; true value {expected:R})";
        double error = Math.Abs(got - expected);
        double allowed = x < SubnormalSigmoid
            ? Math.Pow(2, -140) * (1 + Math.Abs(dy)) * (1 + Math.Abs(x))
            : BackwardTolerance * GradientScale(dy, x);
        return error <= allowed ? null : $"silu'({x:R})·{dy:R} = {got:R}, float64 {expected:R}: error {error:E3} > {allowed:E3}";
    }

    /// <summary>Every <paramref name="stride"/>-th float32 bit pattern with |x| ≤ 100, then the floats around the overflow end.</summary>
    static IEnumerable<float> Sweep(int stride)
    {
        for (long bits = 0; bits <= uint.MaxValue; bits += stride)
        {
            float x = BitConverter.UInt32BitsToSingle((uint)bits);
            if (Math.Abs(x) <= 100) yield return x;
        }
        float v = OverflowEnd;
        for (int i = 0; i < 8; i++) v = MathF.BitIncrement(v);
        for (int i = 0; i < 16; i++, v = MathF.BitDecrement(v)) yield return v;
    }

    [Test]
    public void SiluIsWithinItsStatedBoundOfFloat64_DenseSweep()
    {
        double worst = 0;
        float worstX = 0;
        long count = 0, overflowed = 0;
        var failures = new List<string>();
        foreach (float x in Sweep(61))
        {
            float got = SiluMath.Silu(x);
            count++;
            if (ForwardError(x, got) is { } why) { if (failures.Count < 10) failures.Add(why); continue; }
            if (x <= OverflowEnd) { overflowed++; continue; }
            double expected = ReferenceActivation.Apply(Activation.Silu, x);
            if (Math.Abs(expected) < 1.1754943508222875e-38) continue; // subnormal results: absolute bound above
            double relative = Math.Abs(got - expected) / Math.Abs(expected);
            if (relative > worst) (worst, worstX) = (relative, x);
        }
        TestContext.Out.WriteLine($"{count} values, {overflowed} at or below the overflow end (-0): worst relative error {worst:E3} at x = {worstX:R}");
        Assert.That(failures, Is.Empty);
        Assert.That(count, Is.GreaterThan(20_000_000));
        Assert.That(overflowed, Is.GreaterThan(1000), "the overflow end is swept");
        Assert.That(worst, Is.GreaterThan(1e-8), "the sweep measured rounding at all");
    }

    [Test]
    public void SiluBackwardIsWithinItsStatedBoundOfFloat64_DenseSweep()
    {
        double worst = 0, worstNearCrossing = 0;
        float worstX = 0;
        long count = 0;
        var failures = new List<string>();
        var dys = new[] { 1f, -0.3f, 2.5f };
        int i = 0;
        foreach (float x in Sweep(61))
        {
            float dy = dys[i++ % dys.Length];
            float got = SiluMath.SiluBackward(dy, x);
            count++;
            if (BackwardError(dy, x, got) is { } why) { if (failures.Count < 10) failures.Add(why); continue; }
            if (x < SubnormalSigmoid) continue;
            double error = Math.Abs(got - ReferenceActivation.SiluBackward(dy, x)) / GradientScale(dy, x);
            if (error > worst) (worst, worstX) = (error, x);
            if (Math.Abs(x + 1.27846) < 0.01) worstNearCrossing = Math.Max(worstNearCrossing, Math.Abs(got - ReferenceActivation.SiluBackward(dy, x)) / Math.Abs(dy));
        }
        TestContext.Out.WriteLine($"{count} values: worst error {worst:E3} of |dy|·s·(1 + |x(1 - s)|) at x = {worstX:R}; " +
            $"near the zero crossing (|x + 1.27846| < 0.01) worst absolute error {worstNearCrossing:E3}·|dy|");
        Assert.That(failures, Is.Empty);
        Assert.That(worst, Is.GreaterThan(1e-8), "the sweep measured rounding at all");
        Assert.That(worstNearCrossing, Is.LessThan(1.8e-7));
    }

    [Test]
    public void TheBoundsCatchAWrongResult()
    {
        // One ulp more than 2 off, and a gradient with torch's cancelling 1 - s at x = 17 (a 6.6e-7 relative error).
        float x = 0.75f;
        float good = SiluMath.Silu(x);
        Assert.That(ForwardError(x, good), Is.Null);
        float bad = good;
        for (int i = 0; i < 4; i++) bad = MathF.BitIncrement(bad);
        Assert.That(ForwardError(x, bad), Is.Not.Null, "4 ulp off");
        Assert.That(ForwardError(-90f, -1e-38f), Is.Not.Null, "below the overflow end the answer is -0");
        float s = 1f / (1f + MathF.Exp(-17f));
        float torchLike = s * (1f + 17f * (1f - s));
        Assert.That(BackwardError(1f, 17f, torchLike), Is.Not.Null, $"1 - s cancelling: {torchLike:R}");
        Assert.That(BackwardError(1f, 17f, SiluMath.SiluBackward(1f, 17f)), Is.Null);
    }
}
