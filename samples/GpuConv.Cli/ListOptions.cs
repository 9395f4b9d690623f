using System.Globalization;

namespace GpuConv.Cli;

/// <summary>
/// Comma-separated integer options (<c>--stride 2,1</c>): parsed with errors that name the option,
/// and expanded to one value per spatial dimension.
/// </summary>
public static class ListOptions
{
    /// <summary>Parses "a,b,c" into integers of at least <paramref name="min"/>; names <paramref name="option"/> on error.</summary>
    public static int[] Parse(string text, string option, int min = int.MinValue)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length == 0 || parts.All(p => p.Length == 0))
            throw new ArgumentException($"{option}: expected a comma-separated list of integers, got an empty value.", option);
        var values = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out values[i]))
                throw new ArgumentException($"{option}: '{parts[i]}' (item {i + 1} of '{text}') is not an integer.", option);
            if (values[i] < min)
                throw new ArgumentException($"{option}: every value must be >= {min}, got {values[i]} (in '{text}').", option);
        }
        return values;
    }

    /// <summary>
    /// One value per spatial dimension: null gives <paramref name="defaultValue"/> everywhere, a single
    /// value is used for every dimension, otherwise exactly <paramref name="rank"/> values are required.
    /// </summary>
    public static int[] PerDimension(string? text, int rank, string option, int defaultValue, int min)
    {
        if (text is null) return Enumerable.Repeat(defaultValue, rank).ToArray();
        var values = Parse(text, option, min);
        if (values.Length == 1) return Enumerable.Repeat(values[0], rank).ToArray();
        if (values.Length != rank)
            throw new ArgumentException($"{option}: expected 1 or {rank} values (one per spatial dimension of a {rank}-d convolution), got {values.Length} ('{text}').", option);
        return values;
    }

    /// <summary>
    /// Padding from <c>--pads</c> (ONNX order: begin for each dimension, then end for each; or one value
    /// for all) or <c>--pad</c> (symmetric: one value, or one per dimension). At most one may be given.
    /// </summary>
    public static (int[] Begin, int[] End) Padding(string? pads, string? pad, int rank)
    {
        if (pads is not null && pad is not null)
            throw new ArgumentException("--pads and --pad are alternatives: give one of them, not both.", "--pads");
        if (pads is not null)
        {
            var values = Parse(pads, "--pads", min: 0);
            if (values.Length == 1)
                return (Enumerable.Repeat(values[0], rank).ToArray(), Enumerable.Repeat(values[0], rank).ToArray());
            if (values.Length != 2 * rank)
                throw new ArgumentException($"--pads: expected 1 or {2 * rank} values (begin for each of the {rank} spatial dimensions, then end for each), got {values.Length} ('{pads}').", "--pads");
            return (values[..rank], values[rank..]);
        }
        var symmetric = PerDimension(pad, rank, "--pad", 0, min: 0);
        return (symmetric, (int[])symmetric.Clone());
    }
}
