using System.Numerics;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// Division of any 32-bit unsigned n by a fixed divisor d without a divide instruction (Granlund and
/// Montgomery, "Division by invariant integers using multiplication", 1994): with s = ceil(log2 d) and
/// m = floor(2^32 (2^s - d) / d) + 1, q = (mulhi(n, m) + n) >> s, the add done in 64 bits.
/// The kernels get (m, s) as parameters and spend a multiply-high, a 64-bit add and a shift per
/// division (about 4 machine instructions) where div.u32 costs about 20 and div.u64 about 70.
/// Why it is exact: m + 2^32 = floor(2^(32+s)/d) + 1 = (2^(32+s) + e)/d with 0 &lt; e &lt;= d, so
/// n(m + 2^32)/2^(32+s) = n/d + n·e/(d·2^(32+s)), whose error term is below 2^-s &lt;= 1/d for n &lt; 2^32
/// and so never reaches the next integer: the floor is floor(n/d).
/// m fits 32 bits: 2^(s-1) &lt; d &lt;= 2^s makes (2^s - d)/d at most 1 - 2/(2^(s-1)+1) &lt; 1 - 2^-32.
/// </summary>
internal readonly record struct FastDivisor
{
    /// <summary>d, at least 1.</summary>
    public uint Divisor { get; }
    /// <summary>m, the low 32 bits of the 33-bit multiplier m + 2^32.</summary>
    public uint Multiplier { get; }
    /// <summary>s = ceil(log2 d), 0..32.</summary>
    public uint Shift { get; }

    public FastDivisor(uint divisor)
    {
        if (divisor == 0) throw new ArgumentOutOfRangeException(nameof(divisor), "a divisor must be at least 1, got 0.");
        Divisor = divisor;
        Shift = divisor == 1 ? 0u : 32u - (uint)BitOperations.LeadingZeroCount(divisor - 1);
        UInt128 m = ((UInt128)((1UL << (int)Shift) - divisor) << 32) / divisor + 1;
        Multiplier = (uint)m;
        if (Multiplier != m) throw new InvalidOperationException($"multiplier for {divisor} does not fit 32 bits"); // proven impossible above
    }

    /// <summary>A divisor given as a geometry value (1 ..= 2^32 - 1).</summary>
    public static FastDivisor Of(long divisor, string what) =>
        divisor is >= 1 and <= uint.MaxValue
            ? new FastDivisor((uint)divisor)
            : throw new ArgumentOutOfRangeException(what, $"{what} must be in 1..2^32-1 to divide by it in a kernel, got {divisor}.");

    /// <summary>floor(n / d) exactly as the kernels compute it.</summary>
    public uint Divide(uint n) => (uint)((((ulong)n * Multiplier >> 32) + n) >> (int)Shift);
}
