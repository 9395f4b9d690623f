using System.Runtime.Intrinsics;
using GpuConv.Cpu.Elementwise;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu.Simd;

/// <summary>
/// SiluMath's scalar, Vector256, four-Vector256 block and four-Vector512 block forms, and the CPU loop that picks between them, give
/// the same bits over a sweep of every float32 exponent (NaN, ±∞ and subnormals included), and the Vector512 blocks give
/// the first merged sequence's bits (<see cref="SiluFirstSequence"/>) on every float32. Re-run by
/// <see cref="SimdTierChildProcessTests"/> with AVX-512, with AVX2 and with all hardware intrinsics switched off: then the
/// wider forms are the runtime's software vectors with the compare-and-select and two-product steps, and the fused
/// multiply-adds are its software fma, which must still round once, as the FMA instruction and the kernels' fma.rn do.
/// </summary>
public class SiluMathSimdTests
{
    [Test]
    public void ScalarVectorBlockAndLoopGiveTheSameBits()
    {
        const int n = 1 << 20;
        var (x, dy) = Patterns(n);
        var loopY = new float[n];
        var loopDx = new float[n];
        CpuElementwise.Run(ElementwiseOp.Silu, x, x, 0f, loopY);
        CpuElementwise.Run(ElementwiseOp.SiluBackward, dy, x, 0f, loopDx);
        var blockY = new float[n];
        var blockDx = new float[n];
        for (int i = 0; i < n; i += SiluMath.Block512Length)
        {
            SiluMath.SiluBlock512(ref x[i], ref blockY[i]);
            SiluMath.SiluBackwardBlock512(ref dy[i], ref x[i], ref blockDx[i]);
        }
        var block256Y = new float[n];
        var block256Dx = new float[n];
        for (int i = 0; i < n; i += SiluMath.Block256Length)
        {
            SiluMath.SiluBlock256(ref x[i], ref block256Y[i]);
            SiluMath.SiluBackwardBlock256(ref dy[i], ref x[i], ref block256Dx[i]);
        }
        int mismatches = 0;
        string first = "";
        for (int i = 0; i + 8 <= n; i += 8)
        {
            var vy = SiluMath.Silu(Vector256.Create(x, i));
            var vdx = SiluMath.SiluBackward(Vector256.Create(dy, i), Vector256.Create(x, i));
            for (int k = 0; k < 8; k++)
            {
                uint scalarY = Bits(SiluMath.Silu(x[i + k]));
                uint scalarDx = Bits(SiluMath.SiluBackward(dy[i + k], x[i + k]));
                if (scalarY != Bits(vy[k]) || scalarY != Bits(loopY[i + k]) || scalarY != Bits(blockY[i + k]) || scalarY != Bits(block256Y[i + k])
                    || scalarDx != Bits(vdx[k]) || scalarDx != Bits(loopDx[i + k]) || scalarDx != Bits(blockDx[i + k]) || scalarDx != Bits(block256Dx[i + k]))
                {
                    if (mismatches++ == 0) first = $"x = {x[i + k]:R} (0x{Bits(x[i + k]):X8}), dy = {dy[i + k]:R}";
                }
            }
        }
        TestContext.Out.WriteLine($"Vector256 accelerated: {Vector256.IsHardwareAccelerated}, Vector512 blocks accelerated: {SiluMath.Blocks512Accelerated}; {n} values");
        Assert.That(mismatches, Is.Zero, $"first at {first}");
    }

    /// <summary>
    /// Every length from 0 to 200 at four offsets, in place and into another array: wherever the loop switches from blocks to
    /// Vector256 to scalar, each element is its scalar value.
    /// </summary>
    [Test]
    public void LoopsOfEveryLengthAndOffsetGiveTheScalarBits()
    {
        var (x, dy) = Patterns(1 << 12);
        int checkedRuns = 0;
        for (int offset = 0; offset < 4; offset++)
            for (int length = 0; length <= 200; length++)
            {
                var xs = x.AsSpan(offset * 997, length);
                var dys = dy.AsSpan(offset * 991, length);
                var y = new float[length];
                var dx = new float[length];
                CpuElementwise.Run(ElementwiseOp.Silu, xs, xs, 0f, y);
                CpuElementwise.Run(ElementwiseOp.SiluBackward, dys, xs, 0f, dx);
                var inPlaceY = xs.ToArray();
                CpuElementwise.Run(ElementwiseOp.Silu, inPlaceY, inPlaceY, 0f, inPlaceY);
                var inPlaceDx = dys.ToArray();
                CpuElementwise.Run(ElementwiseOp.SiluBackward, inPlaceDx, xs, 0f, inPlaceDx);
                for (int i = 0; i < length; i++)
                {
                    uint wantY = Bits(SiluMath.Silu(xs[i])), wantDx = Bits(SiluMath.SiluBackward(dys[i], xs[i]));
                    if (Bits(y[i]) != wantY || Bits(inPlaceY[i]) != wantY || Bits(dx[i]) != wantDx || Bits(inPlaceDx[i]) != wantDx)
                        Assert.Fail($"length {length}, offset {offset}, element {i}: x = {xs[i]:R}, dy = {dys[i]:R}: silu 0x{Bits(y[i]):X8} / in place 0x{Bits(inPlaceY[i]):X8}, " +
                            $"gradient 0x{Bits(dx[i]):X8} / in place 0x{Bits(inPlaceDx[i]):X8}; scalar 0x{wantY:X8}, 0x{wantDx:X8}");
                }
                checkedRuns++;
            }
        Assert.That(checkedRuns, Is.EqualTo(4 * 201));
    }

    /// <summary>
    /// All 2^32 float32 x through the Vector512 blocks (VMAXPS/VMINPS clamps, VSCALEFPS for 2^k, no select in the
    /// forward): silu and the gradient (dy from a fixed set of 64) give the first merged sequence's bits
    /// (<see cref="SiluFirstSequence"/>). Proves that the replaced steps (the compare-and-select clamps, the two products
    /// for 2^k, the forward's 0 for x &gt; 30, where 1 + e^-30 is already 1) change no bit anywhere; the Vector256 forms
    /// use the same instructions on 8 lanes (checked on the sweep above). Only where the blocks run as AVX-512: without it
    /// the oracle's Vector512 is software and the check takes minutes (85 s in the SIMD-tier child without AVX-512).
    /// </summary>
    [Test]
    public void EveryFloat32GivesTheFirstSequencesBits_Vector512Blocks()
    {
        if (!SiluMath.Blocks512Accelerated)
            Assert.Ignore("the Vector512 blocks are not accelerated here (no AVX-512, or switched off); the sweep above checks the forms in use");
        var rng = new Random(11);
        var dy = new float[SiluMath.Block512Length];
        for (int i = 0; i < dy.Length; i++) dy[i] = (float)(rng.NextDouble() * 6 - 3);
        const int chunks = 256;
        const long perChunk = (1L << 32) / chunks;
        var firstBad = new string?[chunks];
        Parallel.For(0, chunks, c =>
        {
            var x = new float[SiluMath.Block512Length];
            var y = new float[SiluMath.Block512Length];
            var dx = new float[SiluMath.Block512Length];
            var lanes = Vector512.Create(0u, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            for (long start = c * perChunk; start < (c + 1) * perChunk && firstBad[c] is null; start += SiluMath.Block512Length)
            {
                for (int i = 0; i < x.Length; i += 16)
                    (Vector512.Create((uint)(start + i)) + lanes).AsSingle().CopyTo(x, i);
                SiluMath.SiluBlock512(ref x[0], ref y[0]);
                SiluMath.SiluBackwardBlock512(ref dy[0], ref x[0], ref dx[0]);
                for (int i = 0; i < x.Length; i += 16)
                {
                    var vx = Vector512.Create(x, i);
                    var wantY = SiluFirstSequence.Silu(vx).AsUInt32();
                    var wantDx = SiluFirstSequence.SiluBackward(Vector512.Create(dy, i), vx).AsUInt32();
                    if (wantY != Vector512.Create(y, i).AsUInt32() || wantDx != Vector512.Create(dx, i).AsUInt32())
                        firstBad[c] ??= $"the group of 16 from bits 0x{start + i:X8}";
                }
            }
        });
        Assert.That(firstBad.FirstOrDefault(b => b is not null), Is.Null, "first mismatch");
    }

    static (float[] X, float[] Dy) Patterns(int n) => FloatPatterns.EveryExponent(n, 3);

    static uint Bits(float v) => BitConverter.SingleToUInt32Bits(v);
}
