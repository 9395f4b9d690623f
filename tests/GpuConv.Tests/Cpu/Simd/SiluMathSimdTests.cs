using System.Runtime.Intrinsics;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// SiluMath's scalar and Vector256 forms, and the CPU loop that picks between them, give the same bits over a sweep of
/// every float32 exponent (NaN, ±∞ and subnormals included). Re-run by <see cref="SimdTierChildProcessTests"/> with AVX2
/// and with all hardware intrinsics switched off: then the vector form is the runtime's software Vector256 and the fused
/// multiply-adds are its software fma, which must still round once, as the FMA instruction and the kernels' fma.rn do.
/// </summary>
public class SiluMathSimdTests
{
    [Test]
    public void ScalarVectorAndLoopGiveTheSameBits()
    {
        const int n = 1 << 20;
        var x = new float[n];
        var dy = new float[n];
        var rng = new Random(3);
        for (int i = 0; i < n; i++)
        {
            x[i] = BitConverter.UInt32BitsToSingle((uint)i * 4096u + (uint)rng.Next(4096));
            dy[i] = (float)(rng.NextDouble() * 6 - 3);
        }
        var loopY = new float[n];
        var loopDx = new float[n];
        GpuConv.Cpu.CpuElementwise.Run(ElementwiseOp.Silu, x, x, 0f, loopY);
        GpuConv.Cpu.CpuElementwise.Run(ElementwiseOp.SiluBackward, dy, x, 0f, loopDx);
        int mismatches = 0;
        string first = "";
        for (int i = 0; i + 8 <= n; i += 8)
        {
            var vy = GpuConv.Cpu.SiluMath.Silu(Vector256.Create(x, i));
            var vdx = GpuConv.Cpu.SiluMath.SiluBackward(Vector256.Create(dy, i), Vector256.Create(x, i));
            for (int k = 0; k < 8; k++)
            {
                uint scalarY = BitConverter.SingleToUInt32Bits(GpuConv.Cpu.SiluMath.Silu(x[i + k]));
                uint scalarDx = BitConverter.SingleToUInt32Bits(GpuConv.Cpu.SiluMath.SiluBackward(dy[i + k], x[i + k]));
                if (scalarY != BitConverter.SingleToUInt32Bits(vy[k]) || scalarY != BitConverter.SingleToUInt32Bits(loopY[i + k])
                    || scalarDx != BitConverter.SingleToUInt32Bits(vdx[k]) || scalarDx != BitConverter.SingleToUInt32Bits(loopDx[i + k]))
                {
                    if (mismatches++ == 0) first = $"x = {x[i + k]:R} (0x{BitConverter.SingleToUInt32Bits(x[i + k]):X8}), dy = {dy[i + k]:R}";
                }
            }
        }
        TestContext.Out.WriteLine($"Vector256 accelerated: {Vector256.IsHardwareAccelerated}; {n} values");
        Assert.That(mismatches, Is.Zero, $"first at {first}");
    }
}
