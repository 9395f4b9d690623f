namespace GpuConv.Tests.Support;

/// <summary>Inputs for the bit-for-bit checks of element-wise functions' scalar and vector forms.</summary>
internal static class FloatPatterns
{
    /// <summary>
    /// n floats x spread evenly over all 2^32 bit patterns, one random pattern per step (every exponent, both signs,
    /// subnormals, ±∞ and NaNs), and n gradients dy in [-3, 3).
    /// </summary>
    public static (float[] X, float[] Dy) EveryExponent(int n, int seed)
    {
        var x = new float[n];
        var dy = new float[n];
        var rng = new Random(seed);
        int step = (int)((1L << 32) / n);
        for (int i = 0; i < n; i++)
        {
            x[i] = BitConverter.UInt32BitsToSingle((uint)i * (uint)step + (uint)rng.Next(step));
            dy[i] = (float)(rng.NextDouble() * 6 - 3);
        }
        return (x, dy);
    }
}
