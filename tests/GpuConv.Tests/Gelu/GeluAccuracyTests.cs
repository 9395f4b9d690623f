using GpuConv.Cpu.Elementwise;

namespace GpuConv.Tests.Gelu;

/// <summary>
/// GELU and its gradients (both approximations) on the CPU loops against float64 (<see cref="GeluReference"/>) on every
/// 211th float32 of each sign up to 16 (10 416 188 floats) (beyond, the results are x or ±0 and exact) — the vector loop, which must equal
/// the scalar definition lane by lane. Errors are in ulps of the float nearest the exact value, that ulp never taken below
/// 2^-149 (the subnormal spacing): tiny outputs (x·Φ(x) for x near -14, the tanh form near -10.8) are judged absolutely
/// in units of the smallest subnormal, where relative error means nothing; and torch 1.13's own error there is 100% anyway.
/// The gradients cross 0 (near x = -0.75), so their error is in ulps of the sum of the magnitudes of their terms
/// (|Φ| + |x·φ|; σ·(1 + |x·(1 - σ)·w'|)), as SiluAccuracyTests does. The kernels' bits are the CPU's
/// (ElementwiseKernelTests, GeluKernelTests).
/// </summary>
public class GeluAccuracyTests
{
    /// <summary>
    /// The bounds: the worst errors of a once-run sweep of every 17th float to 16 (129 283 254 floats: 'none' 3.584 ulp
    /// at -3.6549165, 'tanh' 3.135 at -1.82247, the gradients 2.573 at -12.537385 and 5.024 at -3.199857), with a little
    /// room; this test's every 211th float sees 3.441, 3.013, 2.387 and 4.563.
    /// </summary>
    public const double ForwardBound = 4.0, ForwardTanhBound = 3.5, BackwardBound = 3.0, BackwardTanhBound = 5.5;

    internal static double Ulps(float got, double exact, double scale)
    {
        float nearest = Math.Min((float)Math.Abs(scale), float.MaxValue);
        double ulp = Math.Max(MathF.BitIncrement(nearest) - nearest, float.Epsilon);
        return Math.Abs(got - exact) / ulp;
    }

    static float[] Sweep(uint step, uint end)
    {
        var x = new List<float>();
        for (uint b = 0; b <= end; b += step)
        {
            x.Add(BitConverter.UInt32BitsToSingle(b));
            x.Add(BitConverter.UInt32BitsToSingle(b | 0x8000_0000));
        }
        return [.. x];
    }

    static readonly Lazy<float[]> Xs = new(() => Sweep(211, 0x4180_0000));

    static float[] Run(ElementwiseOp op, float[] a, float[] b)
    {
        var o = new float[a.Length];
        CpuElementwise.Run(op, a, b, 0f, o);
        return o;
    }

    [TestCase("Gelu", ForwardBound)]
    [TestCase("GeluTanh", ForwardTanhBound)]
    [TestCase("GeluBackward", BackwardBound)]
    [TestCase("GeluTanhBackward", BackwardTanhBound)]
    public void WithinTheStatedUlpsOfFloat64(string name, double bound)
    {
        var op = Enum.Parse<ElementwiseOp>(name);
        var x = Xs.Value;
        bool backward = op.Inputs() == 2;
        var ones = Enumerable.Repeat(1f, x.Length).ToArray();
        var y = backward ? Run(op, ones, x) : Run(op, x, x);
        double worst = 0;
        float worstAt = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float v = x[i];
            float scalar = op switch
            {
                ElementwiseOp.Gelu => GeluMath.Gelu(v),
                ElementwiseOp.GeluTanh => GeluMath.GeluTanh(v),
                ElementwiseOp.GeluBackward => GeluMath.GeluBackward(1f, v),
                _ => GeluMath.GeluTanhBackward(1f, v),
            };
            if (BitConverter.SingleToUInt32Bits(scalar) != BitConverter.SingleToUInt32Bits(y[i]))
                Assert.Fail($"{op}({v:R}): the vector loop gives {y[i]:R}, the scalar definition {scalar:R}");
            var (exact, scale) = op switch
            {
                ElementwiseOp.Gelu => (GeluReference.Gelu(v), GeluReference.Gelu(v)),
                ElementwiseOp.GeluTanh => (GeluReference.GeluTanh(v), GeluReference.GeluTanh(v)),
                ElementwiseOp.GeluBackward => GeluReference.GeluBackward(v),
                _ => GeluReference.GeluTanhBackward(v),
            };
            double u = Ulps(y[i], exact, scale);
            if (u > worst) (worst, worstAt) = (u, v);
        }
        TestContext.Out.WriteLine($"{op}: worst {worst:F3} ulp at x = {worstAt:R} over {x.Length} floats in [-16, 16]");
        Assert.That(worst, Is.LessThanOrEqualTo(bound), $"{op}: worst at x = {worstAt:R}");
    }
}
