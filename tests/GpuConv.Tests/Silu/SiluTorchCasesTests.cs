using System.Text.Json;
using GpuConv.Cpu.Elementwise;

namespace GpuConv.Tests.Silu;

/// <summary>
/// The SiLU definition (SiluMath, which the CPU loops and, bit for bit, the kernels run) against PyTorch's own CPU
/// results (torch_silu_cases.json, written by make_torch_cases.py with torch 1.13: F.silu and x.grad for a given dy on
/// 3 429 values — the special ones, the floats around the overflow end, a band around the gradient's zero crossing,
/// 8 values in every binade from 2^-126 to 2^7 in both signs, 1 200 uniform in ±100). torch computes e^-x with its
/// own exp (Sleef's), so values agree within a tolerance: silu within 4e-7 relative (both within about 2 ulp of the
/// exact value); the gradient within 1.5e-6 of |dy|·s·(1 + |x(1 - s)|), the slack being torch's 1 - s, which cancels
/// for large x (0 for x &gt; 16.6 where the true 1 - s is 6e-8 and more: 6.6e-7 relative at x = 17, SiluMath keeps it).
/// Where either answer is NaN, ±∞, ±0 or subnormal they must be the same value (NaN as NaN, zeros with their sign).
/// </summary>
public class SiluTorchCasesTests
{
    sealed record File(string torch, uint[] x, uint[] y, uint[] dy, uint[] dx);

    static readonly Lazy<File> Data = new(() =>
    {
        using var stream = typeof(SiluTorchCasesTests).Assembly.GetManifestResourceStream("GpuConv.Tests.Silu.torch_silu_cases.json")
            ?? throw new InvalidOperationException("torch_silu_cases.json is not embedded");
        return JsonSerializer.Deserialize<File>(stream)!;
    });

    static float[] Floats(uint[] bits) => [.. bits.Select(BitConverter.UInt32BitsToSingle)];

    /// <summary>The value itself is the answer (no tolerance): NaN, an infinity, a zero or a subnormal.</summary>
    static bool Exact(float v) => !float.IsNormal(v);

    /// <summary>Same value: NaN as NaN, a zero with its sign.</summary>
    static bool Same(float a, float b) => float.IsNaN(a) ? float.IsNaN(b) : BitConverter.SingleToUInt32Bits(a) == BitConverter.SingleToUInt32Bits(b);

    [Test]
    public void SiluMatchesPyTorch()
    {
        var d = Data.Value;
        Assert.That(d.torch, Does.StartWith("1.13"));
        var x = Floats(d.x);
        var expected = Floats(d.y);
        var got = new float[x.Length];
        CpuElementwise.Run(ElementwiseOp.Silu, x, x, 0f, got);
        double worst = 0;
        int exact = 0;
        var failures = new List<string>();
        for (int i = 0; i < x.Length; i++)
        {
            if (Exact(expected[i]) || Exact(got[i]))
            {
                exact++;
                // A subnormal result is x/2 rounded once on both sides (no exp involved): the same float.
                if (!Same(got[i], expected[i])) failures.Add($"silu({x[i]:R}): torch {expected[i]:R}, here {got[i]:R}");
                continue;
            }
            double relative = Math.Abs((double)got[i] - expected[i]) / Math.Abs(expected[i]);
            worst = Math.Max(worst, relative);
            if (relative > 4e-7) failures.Add($"silu({x[i]:R}): torch {expected[i]:R}, here {got[i]:R}: {relative:E2}");
        }
        TestContext.Out.WriteLine($"{x.Length} values, {exact} compared exactly; worst relative difference from torch {worst:E3}");
        Assert.That(failures, Is.Empty);
        Assert.That(exact, Is.GreaterThan(20), "NaN, ±∞, ±0 and the overflow end were compared as values");
    }

    [Test]
    public void SiluBackwardMatchesPyTorch()
    {
        var d = Data.Value;
        var x = Floats(d.x);
        var dy = Floats(d.dy);
        var expected = Floats(d.dx);
        var got = new float[x.Length];
        CpuElementwise.Run(ElementwiseOp.SiluBackward, dy, x, 0f, got);
        double worst = 0;
        int exact = 0;
        var failures = new List<string>();
        for (int i = 0; i < x.Length; i++)
        {
            // Where torch's s is subnormal (x < -87.34) its formula's bits are ours only up to that rounding; compare absolutely.
            bool subnormalS = x[i] < SiluAccuracyTests.SubnormalSigmoid && x[i] > SiluAccuracyTests.OverflowEnd;
            if ((Exact(expected[i]) || Exact(got[i])) && !subnormalS)
            {
                exact++;
                if (!Same(got[i], expected[i])) failures.Add($"silu'({x[i]:R})·{dy[i]:R}: torch {expected[i]:R}, here {got[i]:R}");
                continue;
            }
            double scale = SiluAccuracyTests.GradientScale(dy[i], x[i]);
            double difference = Math.Abs((double)got[i] - expected[i]);
            if (subnormalS)
            {
                if (difference > Math.Pow(2, -138) * (1 + Math.Abs(dy[i])) * (1 + Math.Abs(x[i])))
                    failures.Add($"silu'({x[i]:R})·{dy[i]:R} (subnormal s): torch {expected[i]:R}, here {got[i]:R}");
                continue;
            }
            worst = Math.Max(worst, difference / scale);
            if (difference > 1.5e-6 * scale) failures.Add($"silu'({x[i]:R})·{dy[i]:R}: torch {expected[i]:R}, here {got[i]:R}: {difference / scale:E2} of the scale");
        }
        TestContext.Out.WriteLine($"{x.Length} values, {exact} compared exactly; worst difference from torch {worst:E3} of |dy|·s·(1 + |x(1 - s)|)");
        Assert.That(failures, Is.Empty);
        Assert.That(exact, Is.GreaterThan(20));
    }
}
