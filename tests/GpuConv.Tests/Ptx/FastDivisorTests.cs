using GpuConv.Backends.Ptx;

namespace GpuConv.Tests.Ptx;

/// <summary>
/// FastDivisor (the kernels' division by invariant integers) against plain integer division: every
/// edge divisor (1, powers of two and their neighbours, 2^31 ± 1, 2^32 - 1) with every edge numerator
/// (0, 1, around each multiple of d near 0 and near 2^32, 2^32 - 1), every divisor up to 2^12 with every
/// numerator up to 2^12 and the top numerators, and a million random pairs of both uniform and
/// log-uniform sizes. The same (m, s) pairs then run through the PTX sequence the kernels use.
/// </summary>
public class FastDivisorTests
{
    internal static IEnumerable<uint> EdgeDivisors()
    {
        var set = new SortedSet<uint> { 1, 3, 5, 6, 7, 9, 10, 11, 12, 25, 49, 641, 6700417, 0x7FFF_FFFF, 0x8000_0001, 0xFFFF_FFFD, 0xFFFF_FFFE, uint.MaxValue };
        for (int k = 0; k < 32; k++)
        {
            uint p = 1u << k;
            set.Add(p);
            set.Add(p + 1);
            if (p > 1) set.Add(p - 1);
        }
        return set;
    }

    static IEnumerable<uint> EdgeNumerators(uint d)
    {
        var set = new SortedSet<uint> { 0, 1, 2, d - 1, d, uint.MaxValue, uint.MaxValue - 1, 0x7FFF_FFFF, 0x8000_0000 };
        ulong top = uint.MaxValue / d * (ulong)d; // the largest multiple of d that fits
        foreach (ulong m in new[] { (ulong)d, 2UL * d, 3UL * d, top, top - d, top - 2UL * d })
            for (long delta = -2; delta <= 2; delta++)
            {
                long n = (long)m + delta;
                if (n is >= 0 and <= uint.MaxValue) set.Add((uint)n);
            }
        return set;
    }

    static void Check(FastDivisor f, uint n)
    {
        uint expected = n / f.Divisor;
        if (f.Divide(n) != expected)
            Assert.Fail($"{n} / {f.Divisor}: got {f.Divide(n)}, expected {expected} (m = {f.Multiplier}, s = {f.Shift})");
    }

    [Test]
    public void KnownMultipliersAndShifts()
    {
        // d = 1: s = 0, m = 1, q = (hi(n) + n) >> 0 = n.  d = 2^k: s = k, m = 1.  d = 2^32 - 1: s = 32, m = 2.
        Assert.That(new FastDivisor(1), Is.EqualTo(new FastDivisor(1)).And.Property(nameof(FastDivisor.Shift)).EqualTo(0u).And.Property(nameof(FastDivisor.Multiplier)).EqualTo(1u));
        Assert.That(new FastDivisor(1u << 31).Shift, Is.EqualTo(31u));
        Assert.That(new FastDivisor(1u << 31).Multiplier, Is.EqualTo(1u));
        Assert.That(new FastDivisor(uint.MaxValue).Shift, Is.EqualTo(32u));
        Assert.That(new FastDivisor(uint.MaxValue).Multiplier, Is.EqualTo(2u));
        // d = 3: s = 2, m = floor(2^32 * 1 / 3) + 1 = 0x55555556.
        Assert.That(new FastDivisor(3).Shift, Is.EqualTo(2u));
        Assert.That(new FastDivisor(3).Multiplier, Is.EqualTo(0x5555_5556u));
        // d = 2^31 + 1 (the divisor just above a power of two) has the largest multiplier: still 32 bits.
        Assert.That(new FastDivisor(0x8000_0001).Multiplier, Is.EqualTo(0xFFFF_FFFDu)); // floor(2^32 - 4 + 4/(2^31+1)) + 1
    }

    [Test]
    public void EdgeDivisorsWithEdgeNumerators()
    {
        int checks = 0;
        foreach (uint d in EdgeDivisors())
        {
            var f = new FastDivisor(d);
            foreach (uint n in EdgeNumerators(d)) { Check(f, n); checks++; }
        }
        Assert.That(checks, Is.GreaterThan(2000));
    }

    [Test]
    public void EverySmallDivisorWithEverySmallAndEveryTopNumerator()
    {
        for (uint d = 1; d <= 4096; d++)
        {
            var f = new FastDivisor(d);
            for (uint n = 0; n <= 4096; n++) Check(f, n);
            for (uint n = uint.MaxValue - 4096; n != 0; n++) Check(f, n); // through 2^32 - 1, then n wraps to 0
        }
    }

    [Test]
    public void RandomPairs()
    {
        var rng = new Random(20261204);
        for (int i = 0; i < 1_000_000; i++)
        {
            // Half uniform, half log-uniform (small divisors and numerators are the common case in kernels).
            uint d = i % 2 == 0 ? (uint)rng.NextInt64(1, 1L << 32) : (uint)Math.Max(1, rng.NextInt64(1L << rng.Next(1, 33)));
            uint n = i % 3 == 0 ? (uint)rng.NextInt64(1L << 32) : (uint)rng.NextInt64(1L << rng.Next(1, 33));
            Check(new FastDivisor(d), n);
        }
    }

    [Test]
    public void ZeroAndOutOfRangeDivisorsAreRejectedByName()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new FastDivisor(0));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => FastDivisor.Of(0, "out_w"))!.Message, Does.Contain("out_w").And.Contain("got 0"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => FastDivisor.Of(1L << 32, "input volume"))!.Message, Does.Contain("input volume"));
        Assert.That(FastDivisor.Of(uint.MaxValue, "d").Divisor, Is.EqualTo(uint.MaxValue));
    }

    /// <summary>
    /// The kernels' instruction sequence (mul.hi.u32, both widened to 64 bits, add.u64, shr.u64 by s,
    /// cvt back) in the interpreter, with (m, s) from FastDivisor, on edge divisors and numerators.
    /// </summary>
    [Test]
    public void ThePtxSequenceOfTheKernelsDividesExactly()
    {
        var kernel = PtxParser.Parse("""
            .version 7.0
            .target sm_70
            .address_size 64
            .visible .entry divide(.param .u64 p_out, .param .u32 p_n, .param .u32 p_m, .param .u32 p_s)
            {
                .reg .b32 %n, %m, %s, %hi, %q;
                .reg .b64 %out, %w64, %n64;
                ld.param.u64 %out, [p_out];
                cvta.to.global.u64 %out, %out;
                ld.param.u32 %n, [p_n];
                ld.param.u32 %m, [p_m];
                ld.param.u32 %s, [p_s];
                mul.hi.u32 %hi, %n, %m;
                cvt.u64.u32 %w64, %hi;
                cvt.u64.u32 %n64, %n;
                add.u64 %w64, %w64, %n64;
                shr.u64 %w64, %w64, %s;
                cvt.u32.u64 %q, %w64;
                st.global.u32 [%out], %q;
                ret;
            }
            """)["divide"];
        var mem = new PtxGlobalMemory();
        ulong output = mem.AllocatePoisoned(1);
        var interpreter = new PtxInterpreter(mem);
        int checks = 0;
        foreach (uint d in EdgeDivisors())
        {
            var f = new FastDivisor(d);
            foreach (uint n in EdgeNumerators(d).Where((_, i) => i % 3 == 0))
            {
                interpreter.Launch(kernel, new(1), new(1), output, n, f.Multiplier, f.Shift);
                uint q = BitConverter.SingleToUInt32Bits(mem.Download(output, 1)[0]);
                Assert.That(q, Is.EqualTo(n / d), $"{n} / {d} with m = {f.Multiplier}, s = {f.Shift}");
                checks++;
            }
        }
        Assert.That(checks, Is.GreaterThan(500));
    }
}
