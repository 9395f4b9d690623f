using GpuConv.Cpu.Elementwise;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Gelu;

/// <summary>
/// Gelu and GeluBackward on the CPU engine: the ends spelled out (torch 1.13's values where it has them), the approximation
/// refused before any work when undefined, the default ('none'), in place, split over worker threads with the one loop's
/// bits, and the float64 judge (<see cref="GeluReference"/>) against mpmath.
/// </summary>
public class GeluTests
{
    static ConvEngine Cpu(int threads = 1) => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = threads });

    static uint[] Bits(float[] v) => [.. v.Select(BitConverter.SingleToUInt32Bits)];

    static float[] Run(ElementwiseOp op, float[] a, float[] b)
    {
        var o = new float[a.Length];
        CpuElementwise.Run(op, a, b, 0f, o);
        return o;
    }

    [TestCase(-0.3, 0.38208857781104736693)]
    [TestCase(-1.0, 0.15865525393145705141)]
    [TestCase(-3.5, 0.00023262907903552503635)]
    [TestCase(-5.0, 2.8665157187919391167e-7)]
    [TestCase(-10.0, 7.619853024160526066e-24)]
    [TestCase(-14.0, 7.7935368191928002544e-45)]
    [TestCase(2.5, 0.99379033467422386483)]
    public void TheFloat64JudgeMatchesMpmath(double x, double mpmathCdf) =>
        Assert.That(GeluReference.Cdf(x), Is.EqualTo(mpmathCdf).Within(Math.Abs(mpmathCdf) * 1e-13));

    [Test]
    public void TheEndsOfTheForwardForms()
    {
        float nan = float.NaN, inf = float.PositiveInfinity;
        float[] x = [0f, -0f, inf, -inf, nan, 1e-40f, -1e-40f, 1e20f, -1e20f, 20f, -20f, float.MaxValue, -float.MaxValue];
        foreach (var op in new[] { ElementwiseOp.Gelu, ElementwiseOp.GeluTanh })
        {
            var y = Run(op, x, x);
            uint[] bits = Bits(y);
            Assert.That(bits[0], Is.EqualTo(0u), $"{op}(+0) = +0");
            Assert.That(bits[1], Is.EqualTo(0x8000_0000u), $"{op}(-0) = -0");
            Assert.That(y[2], Is.EqualTo(inf), $"{op}(+inf)");
            Assert.That(bits[3], Is.EqualTo(0x7FFF_FFFFu), $"{op}(-inf) = NaN (torch: -inf·0), canonical");
            Assert.That(bits[4], Is.EqualTo(0x7FFF_FFFFu), $"{op}(NaN): the canonical NaN");
            Assert.That(y[5], Is.EqualTo(5e-41f), $"{op}: a subnormal x gives x/2");
            Assert.That(y[6], Is.EqualTo(-5e-41f));
            Assert.That(y[7], Is.EqualTo(1e20f), $"{op}: x for large x");
            Assert.That(bits[8], Is.EqualTo(0x8000_0000u), $"{op}: -0 for large negative x (the true value is below 2^-149)");
            Assert.That(y[9], Is.EqualTo(20f));
            Assert.That(bits[10], Is.EqualTo(0x8000_0000u));
            Assert.That(y[11], Is.EqualTo(float.MaxValue), $"{op}: no overflow on the way");
            Assert.That(bits[12], Is.EqualTo(0x8000_0000u));
        }
        // Tiny results are gradual, not flushed: gelu(-14) = -1.09e-43 (a subnormal), the tanh form's -10.5 -7.4e-43.
        Assert.That(Run(ElementwiseOp.Gelu, [-14f], [0f])[0], Is.EqualTo(-14 * GeluReference.Cdf(-14)).Within(float.Epsilon));
        Assert.That(Run(ElementwiseOp.GeluTanh, [-10.5f], [0f])[0], Is.EqualTo(GeluReference.GeluTanh(-10.5)).Within(float.Epsilon));
    }

    [Test]
    public void TheEndsOfTheGradients()
    {
        float inf = float.PositiveInfinity;
        float[] x = [0f, -0f, inf, -inf, float.NaN, 1e20f, -1e20f, 30f, -30f, 1e-40f];
        float[] dy = [3f, 3f, 3f, 3f, 3f, 3f, 3f, 3f, 3f, 3f];
        foreach (var op in new[] { ElementwiseOp.GeluBackward, ElementwiseOp.GeluTanhBackward })
        {
            var d = Run(op, dy, x);
            Assert.That(d[0], Is.EqualTo(1.5f), $"{op}: 0.5·dy at 0");
            Assert.That(d[1], Is.EqualTo(1.5f));
            Assert.That(float.IsNaN(d[2]) && float.IsNaN(d[3]), $"{op}: NaN at ±inf, as torch (x·pdf = ±inf·0)");
            Assert.That(BitConverter.SingleToUInt32Bits(d[4]), Is.EqualTo(0x7FFF_FFFFu), $"{op}: the canonical NaN");
            Assert.That(d[5], Is.EqualTo(3f), $"{op}: dy for large x (torch's tanh form gives NaN from 1.85e19 on: x² overflows)");
            Assert.That(BitConverter.SingleToUInt32Bits(d[6]), Is.Zero, $"{op}: +0 for large negative x (torch: 0 + x·0)");
            Assert.That(d[7], Is.EqualTo(3f));
            Assert.That(BitConverter.SingleToUInt32Bits(d[8]), Is.Zero);
            Assert.That(d[9], Is.EqualTo(1.5f));
        }
    }

    [Test]
    public void AnUndefinedApproximationIsRefusedBeforeAnyWork()
    {
        using var engine = Cpu();
        // x is null: the approximation is checked first, so the error names it, not x.
        ExpectArgument.Throws(() => engine.Gelu(null!, (GeluApproximation)7), "approximate", "approximate", "7");
        ExpectArgument.Throws(() => engine.GeluBackward(null!, null!, (GeluApproximation)(-1)), "approximate", "approximate", "-1");
        using var x = engine.Upload(new HostTensor(new TensorShape(2, 3), [1, 2, 3, 4, 5, 6]));
        using var other = engine.Upload(new HostTensor(new TensorShape(3, 2), [1, 2, 3, 4, 5, 6]));
        ExpectArgument.Throws(() => engine.GeluBackward(x, other), "x", "[3, 2]", "[2, 3]");
        ExpectArgument.Throws(() => engine.Gelu(x, output: other), "output");
    }

    [Test]
    public void TheDefaultIsNoneAndInPlaceGivesTheSameBits()
    {
        using var engine = Cpu();
        var shape = new TensorShape(3, 37);
        var host = new HostTensor(shape, Elementwise.ElementwiseKernelTests.Values(shape.ElementCountInt, 77));
        var dyHost = new HostTensor(shape, Elementwise.ElementwiseKernelTests.Values(shape.ElementCountInt, 78));
        using var x = engine.Upload(host);
        using var dy = engine.Upload(dyHost);
        var byDefault = engine.Download(engine.Gelu(x)).Data;
        Assert.That(Bits(byDefault), Is.EqualTo(Bits(engine.Download(engine.Gelu(x, GeluApproximation.None)).Data)));
        Assert.That(Bits(byDefault), Is.Not.EqualTo(Bits(engine.Download(engine.Gelu(x, GeluApproximation.Tanh)).Data)), "the forms differ");
        var dx = engine.Download(engine.GeluBackward(dy, x, GeluApproximation.Tanh)).Data;
        Assert.That(engine.GeluBackward(dy, x, GeluApproximation.Tanh, output: dy), Is.SameAs(dy));
        Assert.That(Bits(engine.Download(dy).Data), Is.EqualTo(Bits(dx)), "the gradient into dy");
        Assert.That(engine.Gelu(x, output: x), Is.SameAs(x));
        Assert.That(Bits(engine.Download(x).Data), Is.EqualTo(Bits(byDefault)), "gelu in place");
    }

    [TestCase(GeluApproximation.None)]
    [TestCase(GeluApproximation.Tanh)]
    public void SplitOverWorkersWithTheOneLoopsBitsAndWithinBoundsOfFloat64(GeluApproximation approximate)
    {
        // 73 920 elements: above ParallelElementwise.MinParallelElements; random values in ±12, no zeros.
        using var engine = Cpu(threads: 3);
        var shape = new TensorShape(1, 64, 33, 35);
        var rng = new Random(5);
        var x = new float[shape.ElementCountInt];
        var dy = new float[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)((rng.NextDouble() * 11.99 + 0.01) * (rng.Next(2) == 0 ? -1 : 1));
            dy[i] = (float)(rng.NextDouble() * 2 + 0.5);
        }
        using var tx = engine.Upload(new HostTensor(shape, x));
        using var tdy = engine.Upload(new HostTensor(shape, dy));
        var y = engine.Download(engine.Gelu(tx, approximate)).Data;
        var dx = engine.Download(engine.GeluBackward(tdy, tx, approximate)).Data;
        bool tanh = approximate == GeluApproximation.Tanh;
        Assert.That(Bits(y), Is.EqualTo(Bits(Run(tanh ? ElementwiseOp.GeluTanh : ElementwiseOp.Gelu, x, x))));
        Assert.That(Bits(dx), Is.EqualTo(Bits(Run(tanh ? ElementwiseOp.GeluTanhBackward : ElementwiseOp.GeluBackward, dy, x))));
        for (int i = 0; i < x.Length; i++)
        {
            double exact = tanh ? GeluReference.GeluTanh(x[i]) : GeluReference.Gelu(x[i]);
            Assert.That(GeluAccuracyTests.Ulps(y[i], exact, exact), Is.LessThanOrEqualTo(tanh ? GeluAccuracyTests.ForwardTanhBound : GeluAccuracyTests.ForwardBound), $"x = {x[i]:R}");
            var (g, scale) = tanh ? GeluReference.GeluTanhBackward(x[i]) : GeluReference.GeluBackward(x[i]);
            // dy·d rounds once more: half an ulp of the scale.
            double bound = (tanh ? GeluAccuracyTests.BackwardTanhBound : GeluAccuracyTests.BackwardBound) + 0.5;
            Assert.That(GeluAccuracyTests.Ulps(dx[i], dy[i] * g, dy[i] * scale), Is.LessThanOrEqualTo(bound + 1), $"x = {x[i]:R}, dy = {dy[i]:R}");
        }
    }
}
