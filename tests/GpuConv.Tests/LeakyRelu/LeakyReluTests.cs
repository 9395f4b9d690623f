using System.Text.Json;
using GpuConv.Tensors;

namespace GpuConv.Tests.LeakyRelu;

/// <summary>
/// LeakyRelu, LeakyReluBackward and Mul on the CPU engine against torch 1.13's own CPU results
/// (torch_leaky_relu_cases.json, make_torch_cases.py): bit for bit, NaN as NaN, at slopes 0.01, 0.1, 0.2, -0.3 and 1.5,
/// on ±∞, NaN, ±0, subnormals, values near the float limit and random ones (4011 values, so the Vector256 loop and the
/// scalar tail both run). Against float64: one rounding. The kernels' bits are the CPU's (ElementwiseKernelTests, every
/// op on the interpreter; ElementwiseGpuTests on a device).
/// </summary>
public class LeakyReluTests
{
    sealed record Cases(string torch, uint[] x, uint[] dy, uint[] b, uint[] slopes, uint[][] y, uint[][] dx, uint[] mul, uint[] mul_da, uint[] mul_db);

    static readonly Lazy<Cases> Data = new(() =>
    {
        using var stream = typeof(LeakyReluTests).Assembly.GetManifestResourceStream("GpuConv.Tests.LeakyRelu.torch_leaky_relu_cases.json")
            ?? throw new InvalidOperationException("torch_leaky_relu_cases.json is not embedded");
        return JsonSerializer.Deserialize<Cases>(stream)!;
    });

    static float[] F(uint[] b) => [.. b.Select(BitConverter.UInt32BitsToSingle)];

    static ConvEngine Cpu() => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    static List<string> Differences(float[] got, uint[] expected, float[] x, string what)
    {
        var failures = new List<string>();
        for (int i = 0; i < got.Length; i++)
        {
            float e = BitConverter.UInt32BitsToSingle(expected[i]);
            if (BitConverter.SingleToUInt32Bits(got[i]) != expected[i] && !(float.IsNaN(got[i]) && float.IsNaN(e)))
                failures.Add($"{what} at x = {x[i]:R}: {got[i]:R}, torch {e:R}");
        }
        return failures;
    }

    [Test]
    public void MatchesPyTorchBitForBit()
    {
        var c = Data.Value;
        Assert.That(c.torch, Does.StartWith("1.13"));
        float[] x = F(c.x);
        using var engine = Cpu();
        var shape = new TensorShape(x.Length);
        var tx = engine.Upload(new HostTensor(shape, x));
        var tdy = engine.Upload(new HostTensor(shape, F(c.dy)));
        var tb = engine.Upload(new HostTensor(shape, F(c.b)));
        var failures = new List<string>();
        for (int s = 0; s < c.slopes.Length; s++)
        {
            float slope = BitConverter.UInt32BitsToSingle(c.slopes[s]);
            failures.AddRange(Differences(engine.Download(engine.LeakyRelu(tx, slope)).Data, c.y[s], x, $"leaky_relu({slope})"));
            failures.AddRange(Differences(engine.Download(engine.LeakyReluBackward(tdy, tx, slope)).Data, c.dx[s], x, $"leaky_relu({slope}) dx"));
        }
        failures.AddRange(Differences(engine.Download(engine.Mul(tx, tb)).Data, c.mul, x, "mul"));
        failures.AddRange(Differences(engine.Download(engine.Mul(tdy, tb)).Data, c.mul_da, x, "mul da = dy·b"));
        failures.AddRange(Differences(engine.Download(engine.Mul(tdy, tx)).Data, c.mul_db, x, "mul db = dy·a"));
        Assert.That(failures, Is.Empty);
    }

    [Test]
    public void WithinOneRoundingOfFloat64([Values(0.01f, 0.2f, -0.7f, 3f)] float slope)
    {
        var x = Elementwise.ElementwiseKernelTests.Values(4003, 5).Where(float.IsFinite).ToArray();
        var dy = Elementwise.ElementwiseKernelTests.Values(x.Length, 6).Select(v => float.IsFinite(v) ? v : 1.5f).ToArray();
        using var engine = Cpu();
        var shape = new TensorShape(x.Length);
        var tx = engine.Upload(new HostTensor(shape, x));
        var tdy = engine.Upload(new HostTensor(shape, dy));
        var y = engine.Download(engine.LeakyRelu(tx, slope)).Data;
        var dx = engine.Download(engine.LeakyReluBackward(tdy, tx, slope)).Data;
        var p = engine.Download(engine.Mul(tx, tdy)).Data;
        for (int i = 0; i < x.Length; i++)
        {
            Assert.That(y[i], Is.EqualTo((float)(x[i] > 0 ? x[i] : (double)x[i] * slope)), $"leaky_relu({x[i]:R}, {slope})");
            Assert.That(dx[i], Is.EqualTo((float)(x[i] > 0 ? dy[i] : (double)dy[i] * slope)), $"dx at x = {x[i]:R}");
            Assert.That(p[i], Is.EqualTo((float)((double)x[i] * dy[i])), $"{x[i]:R}·{dy[i]:R}");
        }
        // The signs of zero: -0 · 0.01 is -0 (torch keeps it), 0 > 0 is false for both zeros.
        var z = engine.Download(engine.LeakyRelu(engine.Upload(new HostTensor(new TensorShape(2), [-0f, 0f])), 0.01f)).Data;
        Assert.That(BitConverter.SingleToUInt32Bits(z[0]), Is.EqualTo(0x8000_0000u), "leaky_relu(-0)");
        Assert.That(BitConverter.SingleToUInt32Bits(z[1]), Is.Zero, "leaky_relu(+0)");
    }

    [Test]
    public void InPlaceAsTorchsInplaceForm()
    {
        using var engine = Cpu();
        var x = Elementwise.ElementwiseKernelTests.Values(1001, 8);
        var t = engine.Upload(new HostTensor(new TensorShape(7, 11, 13), x));
        var expected = engine.Download(engine.LeakyRelu(t, 0.1f)).Data;
        Assert.That(engine.LeakyRelu(t, 0.1f, output: t), Is.SameAs(t));
        Assert.That(engine.Download(t).Data.Select(BitConverter.SingleToUInt32Bits), Is.EqualTo(expected.Select(BitConverter.SingleToUInt32Bits)));
    }

    [TestCase(float.NaN)]
    [TestCase(float.PositiveInfinity)]
    [TestCase(float.NegativeInfinity)]
    public void ANonFiniteSlopeIsRefusedNamingIt(float slope)
    {
        using var engine = Cpu();
        var x = engine.Upload(new HostTensor(new TensorShape(4), [1f, -1f, 2f, -2f]));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => engine.LeakyRelu(x, slope))!;
        Assert.That(e.ParamName, Is.EqualTo("negativeSlope"));
        Assert.That(e.Message, Does.Contain("finite"));
        e = Assert.Throws<ArgumentOutOfRangeException>(() => engine.LeakyReluBackward(x, x, slope))!;
        Assert.That(e.ParamName, Is.EqualTo("negativeSlope"));
        Assert.That(engine.Download(x).Data, Is.EqualTo(new[] { 1f, -1f, 2f, -2f }), "nothing written");
    }

    [Test]
    public void MismatchedShapesAreRefusedNamingTheOperand()
    {
        using var engine = Cpu();
        var a = engine.Upload(new HostTensor(new TensorShape(2, 3), [1, 2, 3, 4, 5, 6]));
        var b = engine.Upload(new HostTensor(new TensorShape(3, 2), [1, 2, 3, 4, 5, 6]));
        var e = Assert.Throws<ArgumentException>(() => engine.Mul(a, b))!;
        Assert.That(e.ParamName, Is.EqualTo("b"));
        Assert.That(e.Message, Does.Contain("[3, 2]").And.Contain("[2, 3]"));
        e = Assert.Throws<ArgumentException>(() => engine.LeakyReluBackward(a, b, 0.1f))!;
        Assert.That(e.ParamName, Is.EqualTo("x"));
    }
}
