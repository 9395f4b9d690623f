using GpuConv.Conv;

namespace GpuConv.Cli.Commands;

/// <summary>
/// One row of a shape set: a named layer's forward pass (for a transposed convolution, the underlying
/// convolution's backward data; see <see cref="ShapeRow"/>).
/// </summary>
public sealed record BenchShape(string Name, ConvProblem Problem)
{
    /// <summary>
    /// The class a shape is summarized in against ONNX Runtime: its <see cref="Kind"/>, with the 2-d 7x7/2 stem
    /// apart (the CPU benchmarks follow it as a class of its own).
    /// </summary>
    public string Class =>
        Kind == BenchKinds.Other && Problem.Spec.Kernel.All(k => k == 7) && Problem.Spec.Stride.All(v => v == 2) ? "7x7/2 stem" : Kind;

    /// <summary>The kind the backend-vs-backend goals are stated per (see <see cref="BenchKinds"/>).</summary>
    public string Kind => BenchKinds.Of(Problem);

    /// <summary>True when the layer is a transposed convolution (its pass is backward data).</summary>
    public bool Transposed => Problem.Op == ConvOp.BackwardData;
}

/// <summary>
/// The kinds a bench summarizes speed ratios by. The 2-d forward kinds match how the GPU goals are
/// stated (3x3 ≥ 0.6x, 1x1 ≥ 0.9x, depthwise ≥ 1.0x of cuDNN; gpu-run-report.py reads them from the
/// by-kind line): unlike <see cref="BenchShape.Class"/> there is no stem class, so every 2-d 3x3 kernel
/// counts as 3x3 whatever its stride. Transposed layers and 1-d and 3-d convolutions are kinds of their
/// own, so they neither move the 2-d goals' means nor hide among "other".
/// </summary>
public static class BenchKinds
{
    /// <summary>The kind names as the table, the CSV's kind column and the by-kind line print them.</summary>
    public const string Depthwise = "depthwise", OneByOne = "1x1", ThreeByThree = "3x3", Other = "other",
        OneD = "1-d", ThreeD = "3-d", Transposed = "transposed";

    /// <summary>The kinds in the order the summary line lists them.</summary>
    public static IReadOnlyList<string> Ordered { get; } = [ThreeByThree, OneByOne, Depthwise, Other, OneD, ThreeD, Transposed];

    /// <summary>
    /// transposed: a transposed convolution (backward data), any rank; 1-d and 3-d: forward convolutions
    /// of that rank, any kernel. 2-d forward: depthwise: <see cref="ConvProblem.IsDepthwise"/> (groups &gt; 1
    /// and groups == C, any kernel); 1x1: every kernel dim 1; 3x3: a 3x3 kernel; everything else: other.
    /// </summary>
    public static string Of(ConvProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        if (problem.Op == ConvOp.BackwardData) return Transposed;
        if (problem.Rank == 1) return OneD;
        if (problem.Rank == 3) return ThreeD;
        var kernel = problem.Spec.Kernel;
        if (problem.IsDepthwise) return Depthwise;
        if (kernel.All(k => k == 1)) return OneByOne;
        if (kernel[0] == 3 && kernel[1] == 3) return ThreeByThree;
        return Other;
    }
}

/// <summary>
/// The bench command's shape list: the rows of <see cref="ShapeSet"/> (the one CSV reader), batches
/// scaled; several sets joined by '+' make one list (so one run covers two networks).
/// </summary>
public static class BenchShapes
{
    /// <summary>Names of the built-in sets, as accepted by --shapes.</summary>
    public static IReadOnlyList<string> EmbeddedSets => ShapeSet.BuiltInNames;

    /// <summary>
    /// Loads a set by built-in name or file path, or several joined by '+' (an existing file whose name
    /// has a '+' is one set); each row's batch is multiplied by <paramref name="batch"/> (checked).
    /// A row name found in more than one set is prefixed with its set's name ("set/row") in every set
    /// that has it, so names stay unique; a set given twice, an empty part or names still equal after
    /// prefixing are refused naming --shapes.
    /// </summary>
    public static IReadOnlyList<BenchShape> Load(string set, int batch)
    {
        ArgumentNullException.ThrowIfNull(set);
        if (batch < 1) throw new ArgumentException($"--batch: must be >= 1, got {batch}.", "--batch");
        string[] parts = File.Exists(set) ? [set] : set.Split('+', StringSplitOptions.TrimEntries);
        if (parts.Any(p => p.Length == 0))
            throw new ArgumentException($"--shapes: '{set}' has an empty set name (sets are joined by '+', e.g. resnet50+mobilenet_v2).", "--shapes");
        var labels = parts.Select(Label).ToArray();
        var twice = labels.GroupBy(l => l, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null)
            throw new ArgumentException($"--shapes: set '{twice.Key}' is given more than once in '{set}'.", "--shapes");
        var sets = parts.Select(ShapeSet.Load).ToArray();
        if (sets.Length == 1)
            return [.. sets[0].Rows.Select(r => new BenchShape(r.Name, r.ScaledBatch(batch, "--batch")))];

        // Names used by more than one set get their set's name in front, in every set that uses them.
        var shared = sets.SelectMany(s => s.Rows.Select(r => r.Name).Distinct())
            .GroupBy(n => n, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        var shapes = new List<BenchShape>();
        for (int i = 0; i < sets.Length; i++)
            foreach (var row in sets[i].Rows)
                shapes.Add(new BenchShape(shared.Contains(row.Name) ? $"{labels[i]}/{row.Name}" : row.Name, row.ScaledBatch(batch, "--batch")));
        var clash = shapes.GroupBy(s => s.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (clash is not null)
            throw new ArgumentException($"--shapes: row name '{clash.Key}' is used twice in '{set}' even with set names in front; rename a row.", "--shapes");
        return shapes;
    }

    /// <summary>What a set is called in prefixed names: the built-in name as given, or the file's name without ".csv".</summary>
    static string Label(string part) =>
        File.Exists(part) ? Path.GetFileNameWithoutExtension(part) : part.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? part[..^4] : part;
}
