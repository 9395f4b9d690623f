using GpuConv.Conv;

namespace GpuConv.Cli.Commands;

/// <summary>One row of a shape set: a named forward convolution.</summary>
public sealed record BenchShape(string Name, ConvProblem Problem)
{
    /// <summary>The class a shape is summarized in: 7x7/2 stem, 3x3, 1x1, depthwise, or other.</summary>
    public string Class
    {
        get
        {
            var s = Problem.Spec;
            if (Problem.IsDepthwise) return "depthwise";
            if (s.Kernel.All(k => k == 1)) return "1x1";
            if (s.Kernel.All(k => k == 7) && s.Stride.All(v => v == 2)) return "7x7/2 stem";
            if (s.Kernel.All(k => k == 3)) return "3x3";
            return "other";
        }
    }
}

/// <summary>The bench command's shape list: the rows of <see cref="ShapeSet"/> (the one CSV reader), batches scaled.</summary>
public static class BenchShapes
{
    /// <summary>Names of the built-in sets, as accepted by --shapes.</summary>
    public static IReadOnlyList<string> EmbeddedSets => ShapeSet.BuiltInNames;

    /// <summary>Loads a set by built-in name or file path; each row's batch is multiplied by <paramref name="batch"/> (checked).</summary>
    public static IReadOnlyList<BenchShape> Load(string set, int batch)
    {
        if (batch < 1) throw new ArgumentException($"--batch: must be >= 1, got {batch}.", "--batch");
        return [.. ShapeSet.Load(set).Rows.Select(r => new BenchShape(r.Name, r.ScaledBatch(batch, "--batch")))];
    }
}
