using System.Text.Json;
using GpuConv.Cpu.Elementwise;
using GpuConv.Tensors;

namespace GpuConv.Tests.Tanh;

/// <summary>
/// Tanh and TanhBackward on the CPU engine. tanh: within 1.75 ulp of float64 on every 61st float32 from 0 to 20 (1.50
/// seen; both signs: the sequence is odd to the bit), and within 1.5 ulp of torch 1.13's CPU tanh (Sleef's, itself
/// within 1 ulp; 1.00 seen) on
/// 4016 values (torch_tanh_cases.json, make_torch_cases.py), with its ends exact: ±0, ±∞ → ±1, NaN. The gradient: torch's
/// bits, given torch's y. The kernels' bits are the CPU's (ElementwiseKernelTests, every op on the interpreter).
/// </summary>
public class TanhTests
{
    sealed record Cases(string torch, uint[] x, uint[] dy, uint[] tanh, uint[] tanh_dx);

    static readonly Lazy<Cases> Data = new(() =>
    {
        using var stream = typeof(TanhTests).Assembly.GetManifestResourceStream("GpuConv.Tests.Tanh.torch_tanh_cases.json")
            ?? throw new InvalidOperationException("torch_tanh_cases.json is not embedded");
        return JsonSerializer.Deserialize<Cases>(stream)!;
    });

    static float[] F(uint[] b) => [.. b.Select(BitConverter.UInt32BitsToSingle)];

    static ConvEngine Cpu() => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    /// <summary>The distance in ulps of the float nearest <paramref name="exact"/>.</summary>
    static double Ulps(float got, double exact)
    {
        float nearest = (float)exact;
        double ulp = Math.Max(MathF.BitIncrement(Math.Abs(nearest)) - Math.Abs(nearest), float.Epsilon);
        return Math.Abs(got - exact) / ulp;
    }

    [Test]
    public void WithinOneAndThreeQuarterUlpOfFloat64OnEvery61stFloat()
    {
        const uint step = 61, end = 0x41A0_0000; // 20: beyond it tanh is 1 in float32 (from 9.01 on)
        int count = (int)(end / step) + 1;
        var x = new float[2 * count];
        for (int i = 0; i < count; i++)
        {
            x[i] = BitConverter.UInt32BitsToSingle((uint)i * step);
            x[count + i] = -x[i];
        }
        var y = new float[x.Length];
        CpuElementwise.Run(ElementwiseOp.Tanh, x, [], 0f, y);
        double worst = 0;
        float worstAt = 0;
        for (int i = 0; i < count; i++)
        {
            double u = Ulps(y[i], Math.Tanh(x[i]));
            if (u > worst) (worst, worstAt) = (u, x[i]);
            if (BitConverter.SingleToUInt32Bits(y[count + i]) != (BitConverter.SingleToUInt32Bits(y[i]) ^ 0x8000_0000))
                Assert.Fail($"tanh({x[count + i]:R}) = {y[count + i]:R} is not -tanh({x[i]:R}) = {-y[i]:R}");
        }
        TestContext.Out.WriteLine($"tanh: worst {worst:F3} ulp at {worstAt:R} over {count} floats in [0, 20]");
        Assert.That(worst, Is.LessThanOrEqualTo(1.75), $"worst at x = {worstAt:R}");
    }

    [Test]
    public void TheEndsAreExact()
    {
        float[] x = [0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 1e-40f, -1e-40f, 20f, -3e38f, TanhMath.Split, MathF.BitDecrement(TanhMath.Split)];
        var y = new float[x.Length];
        CpuElementwise.Run(ElementwiseOp.Tanh, x, [], 0f, y);
        uint[] bits = [.. y.Select(BitConverter.SingleToUInt32Bits)];
        Assert.That(bits[0], Is.EqualTo(0u), "tanh(+0)");
        Assert.That(bits[1], Is.EqualTo(0x8000_0000u), "tanh(-0)");
        Assert.That(y[2], Is.EqualTo(1f), "tanh(+inf)");
        Assert.That(y[3], Is.EqualTo(-1f), "tanh(-inf)");
        Assert.That(bits[4], Is.EqualTo(0x7FFF_FFFFu), "tanh(NaN): the canonical NaN");
        Assert.That(y[5], Is.EqualTo(1e-40f), "a subnormal is its own tanh");
        Assert.That(y[6], Is.EqualTo(-1e-40f));
        Assert.That(y[7], Is.EqualTo(1f));
        Assert.That(y[8], Is.EqualTo(-1f));
        // Either side of the switch between the two forms: within 3 ulp, and increasing.
        Assert.That(Ulps(y[9], Math.Tanh(x[9])), Is.LessThanOrEqualTo(1.75));
        Assert.That(Ulps(y[10], Math.Tanh(x[10])), Is.LessThanOrEqualTo(1.75));
        Assert.That(y[10], Is.LessThanOrEqualTo(y[9]));
    }

    [Test]
    public void CloseToPyTorchAndItsGradientBitForBit()
    {
        var c = Data.Value;
        Assert.That(c.torch, Does.StartWith("1.13"));
        float[] x = F(c.x), torchY = F(c.tanh);
        using var engine = Cpu();
        var shape = new TensorShape(x.Length);
        var y = engine.Download(engine.Tanh(engine.Upload(new HostTensor(shape, x)))).Data;
        var failures = new List<string>();
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            if (float.IsNaN(x[i]) || float.IsInfinity(x[i]) || x[i] == 0)
            {
                if (BitConverter.SingleToUInt32Bits(y[i]) != BitConverter.SingleToUInt32Bits(torchY[i]) && !(float.IsNaN(y[i]) && float.IsNaN(torchY[i])))
                    failures.Add($"tanh({x[i]:R}) = {y[i]:R}, torch {torchY[i]:R}");
                continue;
            }
            double u = Ulps(y[i], torchY[i]);
            worst = Math.Max(worst, u);
            if (u > 1.5) failures.Add($"tanh({x[i]:R}) = {y[i]:R}, torch {torchY[i]:R}: {u:F1} ulp apart");
        }
        TestContext.Out.WriteLine($"tanh vs torch 1.13: worst {worst:F2} ulp over {x.Length} values");
        // The gradient from torch's own y: dy·fma(-y, y, 1), torch's bits.
        var dx = engine.Download(engine.TanhBackward(engine.Upload(new HostTensor(shape, F(c.dy))), engine.Upload(new HostTensor(shape, torchY)))).Data;
        var torchDx = F(c.tanh_dx);
        for (int i = 0; i < x.Length; i++)
            if (BitConverter.SingleToUInt32Bits(dx[i]) != BitConverter.SingleToUInt32Bits(torchDx[i]) && !(float.IsNaN(dx[i]) && float.IsNaN(torchDx[i])))
                failures.Add($"tanh dx at x = {x[i]:R}: {dx[i]:R}, torch {torchDx[i]:R}");
        Assert.That(failures, Is.Empty);
    }

    [Test]
    public void GradientWithinTwoRoundingsOfFloat64()
    {
        var y = Elementwise.ElementwiseKernelTests.Values(4001, 12).Where(v => Math.Abs(v) < 1e15f).Select(v => v / 4).ToArray();
        var dy = Elementwise.ElementwiseKernelTests.Values(y.Length, 13).Select(v => Math.Abs(v) < 1e15f ? v : 0.75f).ToArray();
        var dx = new float[y.Length];
        CpuElementwise.Run(ElementwiseOp.TanhBackward, dy, y, 0f, dx);
        for (int i = 0; i < y.Length; i++)
        {
            double m = 1.0 - (double)y[i] * y[i];
            double exact = dy[i] * m;
            // fma(-y, y, 1) rounded once, then the product: 2 half-ulps of each, relative to |dy·m|.
            Assert.That(dx[i], Is.EqualTo(exact).Within(Math.Abs(exact) * 1.2e-7 + 1e-44), $"dy = {dy[i]:R}, y = {y[i]:R}");
        }
    }
}
