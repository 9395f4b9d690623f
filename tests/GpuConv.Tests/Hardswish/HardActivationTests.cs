using System.Text.Json;
using GpuConv.Tensors;

namespace GpuConv.Tests.Hardswish;

/// <summary>
/// Hardsigmoid and Hardswish and their gradients on the CPU engine against torch 1.13's own CPU results
/// (torch_hard_cases.json, make_torch_cases.py): bit for bit, NaN as NaN — the ends ±3 and their neighbours, ±∞, NaN,
/// ±0, a subnormal, random values in ±5 and wide ones; 5014 values, so the Vector256 loop and the scalar tail both run.
/// Two values differ by design: hardswish's gradient at x = 3 and at NaN follows torch's CUDA kernel (and scalar CPU
/// loop), not its vectorized CPU loop.
/// Against float64 too: each result within one rounding of the exact value. The kernels' bits are the CPU's
/// (ElementwiseKernelTests, every op on the interpreter).
/// </summary>
public class HardActivationTests
{
    sealed record Cases(string torch, uint[] x, uint[] dy, uint[] hardsigmoid, uint[] hardsigmoid_dx, uint[] hardswish, uint[] hardswish_dx);

    static readonly Lazy<Cases> Data = new(() =>
    {
        using var stream = typeof(HardActivationTests).Assembly.GetManifestResourceStream("GpuConv.Tests.Hardswish.torch_hard_cases.json")
            ?? throw new InvalidOperationException("torch_hard_cases.json is not embedded");
        return JsonSerializer.Deserialize<Cases>(stream)!;
    });

    static float[] F(uint[] b) => [.. b.Select(BitConverter.UInt32BitsToSingle)];

    static List<string> Differences(float[] got, float[] expected, float[] x, string what)
    {
        var failures = new List<string>();
        for (int i = 0; i < got.Length; i++)
            if (BitConverter.SingleToUInt32Bits(got[i]) != BitConverter.SingleToUInt32Bits(expected[i]) && !(float.IsNaN(got[i]) && float.IsNaN(expected[i])))
                failures.Add($"{what} at x = {x[i]:R}: {got[i]:R}, torch {expected[i]:R}");
        return failures;
    }

    [Test]
    public void MatchesPyTorchBitForBit()
    {
        var c = Data.Value;
        Assert.That(c.torch, Does.StartWith("1.13"));
        float[] x = F(c.x), dy = F(c.dy);
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var shape = new TensorShape(x.Length);
        var tx = engine.Upload(new HostTensor(shape, x));
        var tdy = engine.Upload(new HostTensor(shape, dy));
        var failures = new List<string>();
        failures.AddRange(Differences(engine.Download(engine.Hardsigmoid(tx)).Data, F(c.hardsigmoid), x, "hardsigmoid"));
        failures.AddRange(Differences(engine.Download(engine.HardsigmoidBackward(tdy, tx)).Data, F(c.hardsigmoid_dx), x, "hardsigmoid dx"));
        failures.AddRange(Differences(engine.Download(engine.Hardswish(tx)).Data, F(c.hardswish), x, "hardswish"));
        // hardswish's gradient at x = 3 and at a NaN x: torch's CUDA kernel and its scalar CPU loop give dy·1.5 and dy;
        // its vectorized CPU loop (where these values fell) gives dy and NaN. GpuConv follows CUDA's, as for ReLU6.
        var dx = engine.Download(engine.HardswishBackward(tdy, tx)).Data;
        var torchDx = F(c.hardswish_dx);
        int odd = 0;
        for (int i = 0; i < x.Length; i++)
            if (x[i] == 3f || float.IsNaN(x[i]))
            {
                Assert.That(dx[i], Is.EqualTo(x[i] == 3f ? dy[i] * 1.5f : dy[i]), $"hardswish dx at x = {x[i]:R}: CUDA's rule");
                torchDx[i] = dx[i];
                odd++;
            }
        Assert.That(odd, Is.EqualTo(2), "the cases hold one 3 and one NaN");
        failures.AddRange(Differences(dx, torchDx, x, "hardswish dx"));
        Assert.That(failures, Is.Empty);
    }

    [Test]
    public void WithinOneRoundingOfFloat64()
    {
        var x = Elementwise.ElementwiseKernelTests.Values(4001, 9).Where(float.IsFinite).Where(v => Math.Abs(v) < 1e30f).ToArray();
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var tx = engine.Upload(new HostTensor(new TensorShape(x.Length), x));
        var hs = engine.Download(engine.Hardsigmoid(tx)).Data;
        var hw = engine.Download(engine.Hardswish(tx)).Data;
        for (int i = 0; i < x.Length; i++)
        {
            double c = Math.Clamp(x[i] + 3.0, 0, 6);
            // Two or three roundings (x + 3, the product, the quotient): within 3 ulp of the exact value.
            Assert.That(hs[i], Is.EqualTo(c / 6).Within(3 * Ulp(c / 6)), $"hardsigmoid({x[i]:R})");
            Assert.That(hw[i], Is.EqualTo(x[i] * c / 6).Within(3 * Ulp(x[i] * c / 6) + 1e-45), $"hardswish({x[i]:R})");
        }

        static double Ulp(double v) => Math.Abs(MathF.BitIncrement((float)Math.Abs(v)) - (float)Math.Abs(v));
    }
}
