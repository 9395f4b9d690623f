namespace GpuConv.Reference;

/// <summary>How far a result is from the float64 reference.</summary>
public readonly record struct ErrorReport(double MaxRelative, double L2Relative, double MaxAbs, long WorstIndex)
{
    /// <summary>Max and L2 relative errors, e.g. "max rel 1.20E-007, L2 rel 3.40E-008".</summary>
    public override string ToString() => $"max rel {MaxRelative:E2}, L2 rel {L2Relative:E2}";
}

/// <summary>Error measures of a result against the float64 reference.</summary>
public static class ErrorMetrics
{
    /// <summary>
    /// Max relative error = max|a - ref| / max|ref| (normwise, so cancellation in one element does not
    /// blow it up) and L2 relative error = ||a - ref|| / ||ref||. Non-finite values are compared by value:
    /// NaN against NaN and +Inf against +Inf are no error (the direct sum gives them too), any other
    /// pairing with a NaN or an infinity counts as infinite, and so does every metric it enters — a
    /// comparison such as <c>error &lt; tolerance</c> then fails instead of passing on a NaN. Non-finite
    /// reference values stay out of the scale.
    /// </summary>
    public static ErrorReport Compare(ReadOnlySpan<float> actual, ReadOnlySpan<double> reference)
    {
        if (actual.Length != reference.Length)
            throw new ArgumentException($"actual has {actual.Length} elements, reference {reference.Length}.", nameof(actual));
        double maxAbs = 0, maxRef = 0, diff2 = 0, ref2 = 0;
        long worst = actual.Length > 0 ? 0 : -1;
        for (int i = 0; i < actual.Length; i++)
        {
            if (!double.IsFinite(reference[i]) || !float.IsFinite(actual[i]))
            {
                bool same = ((double)actual[i]).Equals(reference[i]);
                if (!same && !double.IsPositiveInfinity(maxAbs)) { maxAbs = double.PositiveInfinity; worst = i; }
                continue;
            }
            double d = Math.Abs(actual[i] - reference[i]);
            if (d > maxAbs) { maxAbs = d; worst = i; }
            maxRef = Math.Max(maxRef, Math.Abs(reference[i]));
            diff2 += d * d;
            ref2 += reference[i] * reference[i];
        }
        if (double.IsPositiveInfinity(maxAbs))
            return new ErrorReport(double.PositiveInfinity, double.PositiveInfinity, double.PositiveInfinity, worst);
        double scale = maxRef > 0 ? maxRef : 1;
        return new ErrorReport(maxAbs / scale, ref2 > 0 ? Math.Sqrt(diff2 / ref2) : Math.Sqrt(diff2), maxAbs, worst);
    }
}
