namespace GpuConv.Tests.Support;

/// <summary>
/// Test-side comparisons that do not lean on the library's ErrorMetrics. LINQ's Max skips NaN
/// (max of [0, NaN, 2] is 2) and Math.Max spreads it, so a NaN difference is mapped to +infinity
/// here explicitly: any tolerance check on the result then fails.
/// </summary>
public static class Differences
{
    /// <summary>max |actual[i] - expected[i]|, +infinity when any difference is not a finite number.</summary>
    public static double MaxAbs(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        if (actual.Length != expected.Length) throw new ArgumentException($"lengths differ: {actual.Length} vs {expected.Length}.", nameof(actual));
        double max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = Math.Abs((double)actual[i] - expected[i]);
            if (!double.IsFinite(d)) return double.PositiveInfinity;
            if (d > max) max = d;
        }
        return max;
    }

    /// <summary>max |values[i]|; +infinity when any value is not a finite number.</summary>
    public static double MaxMagnitude(ReadOnlySpan<float> values)
    {
        double max = 0;
        foreach (var v in values)
        {
            if (!float.IsFinite(v)) return double.PositiveInfinity;
            max = Math.Max(max, Math.Abs((double)v));
        }
        return max;
    }

    /// <summary>max |a - e| / max |e| (normwise, as ErrorMetrics): +infinity on any non-finite value; absolute when e is all zeros.</summary>
    public static double MaxRelative(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        double scale = MaxMagnitude(expected);
        if (!double.IsFinite(scale)) return double.PositiveInfinity;
        return MaxAbs(actual, expected) / (scale > 0 ? scale : 1);
    }
}
