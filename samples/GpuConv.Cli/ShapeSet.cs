using System.Globalization;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Cli;

/// <summary>One named 2-d convolution from a shapes CSV, with the line it came from.</summary>
public sealed record ShapeRow(string Name, int Line, ConvProblem Problem)
{
    /// <summary>"c×h×w → k, r×s s… p… d… g…", short enough for a table column.</summary>
    public string Describe() => Describe(Problem);

    /// <summary>
    /// The row with its batch multiplied by <paramref name="factor"/> (bench's --batch), in checked
    /// arithmetic: a product beyond int is bad input naming <paramref name="option"/>, never a wrapped batch.
    /// </summary>
    public ConvProblem ScaledBatch(int factor, string option)
    {
        if (factor < 1)
            throw new ArgumentException($"{option}: must be >= 1, got {factor}.", option);
        long n = (long)Problem.N * factor;
        if (n > int.MaxValue)
            throw new ArgumentException($"{option}: row '{Name}' (line {Line}) has batch {Problem.N}, times {factor} is {n}, more than {int.MaxValue}.", option);
        return WithBatch((int)n, option);
    }

    /// <summary>The row with batch <paramref name="n"/>; sizes the new batch makes impossible are bad input naming <paramref name="option"/>.</summary>
    public ConvProblem WithBatch(int n, string option)
    {
        if (n < 1)
            throw new ArgumentException($"{option}: must be >= 1, got {n}.", option);
        try { return Problem.WithBatch(n); }
        catch (ArgumentException e) { throw new ArgumentException($"{option}: row '{Name}' (line {Line}) with batch {n}: {CliErrors.MessageOf(e)}", option, e); }
    }

    public static string Describe(ConvProblem p)
    {
        var s = p.Spec;
        string text = $"n{p.N} {p.C}x{string.Join("x", p.InSpatial)}->{p.K} k{string.Join("x", s.Kernel)}";
        if (!s.IsUnitStride) text += $" s{string.Join("x", s.Stride)}";
        if (!s.IsUnpadded) text += s.IsSymmetricPadding ? $" p{string.Join("x", s.PadBegin)}" : $" p{string.Join("x", s.PadBegin)}-{string.Join("x", s.PadEnd)}";
        if (s.Dilation.Any(d => d != 1)) text += $" d{string.Join("x", s.Dilation)}";
        if (s.Groups != 1) text += $" g{s.Groups}";
        return text;
    }
}

/// <summary>
/// THE reader of shape CSVs for every command (plan, bench, verify, demo), with one rule set: the header
/// <c>name,n,c,h,w,k,r,s,stride_h,stride_w,pad_h,pad_w,dil_h,dil_w,groups</c> (any letter case, no
/// extra or missing column), then at least one row of exactly those fields: a non-empty name used once,
/// integers >= 1 (padding >= 0), groups dividing c and k, a geometry ConvProblem accepts. Blank lines and
/// '#' comments are skipped. Either a built-in set embedded in the CLI (<see cref="BuiltInNames"/>; '_'
/// for '-' and a ".csv" suffix are accepted) or a file. Every error is an ArgumentException
/// "SOURCE line N (NAME): …" naming the field (the CLI prints "error: …" and exits 2).
/// </summary>
public sealed class ShapeSet
{
    public static readonly string[] Columns =
        ["name", "n", "c", "h", "w", "k", "r", "s", "stride_h", "stride_w", "pad_h", "pad_w", "dil_h", "dil_w", "groups"];

    /// <summary>Built-in set name → embedded resource file name.</summary>
    static readonly Dictionary<string, string> BuiltIn = new(StringComparer.OrdinalIgnoreCase)
    {
        ["resnet50"] = "resnet50.csv",
        ["resnet18"] = "resnet18.csv",
        ["mobilenet_v2"] = "mobilenet_v2.csv",
        ["efficientnet_b0"] = "efficientnet_b0.csv",
        ["deepbench-inference"] = "deepbench_inference.csv",
        ["deepbench-train"] = "deepbench_train.csv",
        ["deepbench-device"] = "deepbench_device.csv",
    };

    public static IReadOnlyList<string> BuiltInNames { get; } = [.. BuiltIn.Keys];

    ShapeSet(string source, IReadOnlyList<ShapeRow> rows)
    {
        Source = source;
        Rows = rows;
    }

    /// <summary>Where the rows came from (built-in name or file path).</summary>
    public string Source { get; }
    public IReadOnlyList<ShapeRow> Rows { get; }

    /// <summary>A built-in set by name, or else a CSV file by path.</summary>
    public static ShapeSet Load(string nameOrPath)
    {
        ArgumentNullException.ThrowIfNull(nameOrPath);
        string builtInName = nameOrPath.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) && !File.Exists(nameOrPath) ? nameOrPath[..^4] : nameOrPath;
        if (BuiltIn.TryGetValue(builtInName, out var file) || BuiltIn.TryGetValue(builtInName.Replace('_', '-'), out file))
        {
            string resource = $"GpuConv.Cli.Shapes.{file}";
            using var stream = typeof(ShapeSet).Assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"built-in shape set '{nameOrPath}' is missing its embedded resource {resource}.");
            using var reader = new StreamReader(stream);
            return Parse(reader, nameOrPath);
        }
        if (Directory.Exists(nameOrPath))
            throw new ArgumentException($"--shapes: '{nameOrPath}' is a folder, not a shape CSV file.", "--shapes");
        if (!File.Exists(nameOrPath))
            throw new ArgumentException($"--shapes: '{nameOrPath}' is neither a built-in shape set ({string.Join(", ", BuiltInNames)}) nor an existing file.", "--shapes");
        using var fileReader = new StreamReader(nameOrPath);
        return Parse(fileReader, nameOrPath);
    }

    /// <summary>Parses CSV text; blank lines and lines starting with '#' are skipped.</summary>
    public static ShapeSet Parse(TextReader reader, string source)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var rows = new List<ShapeRow>();
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        bool headerSeen = false;
        int lineNumber = 0;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            string trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#')) continue;
            var fields = trimmed.Split(',', StringSplitOptions.TrimEntries);
            if (!headerSeen)
            {
                if (!fields.SequenceEqual(Columns, StringComparer.OrdinalIgnoreCase))
                    throw new ArgumentException($"{source} line {lineNumber}: the header must be '{string.Join(",", Columns)}', found '{trimmed}'.", "shapes");
                headerSeen = true;
                continue;
            }
            var row = ParseRow(fields, source, lineNumber);
            if (names.TryGetValue(row.Name, out int earlier))
                throw new ArgumentException($"{source} line {lineNumber}: name '{row.Name}' is already used on line {earlier}.", "name");
            names[row.Name] = lineNumber;
            rows.Add(row);
        }
        if (!headerSeen)
            throw new ArgumentException($"{source}: empty shape file (expected the header '{string.Join(",", Columns)}' and at least one row).", "shapes");
        if (rows.Count == 0)
            throw new ArgumentException($"{source}: the file has a header but no shape rows.", "shapes");
        return new ShapeSet(source, rows);
    }

    static ShapeRow ParseRow(string[] fields, string source, int line)
    {
        string where = $"{source} line {line}";
        if (fields.Length != Columns.Length)
            throw new ArgumentException($"{where}: expected {Columns.Length} comma-separated fields ({string.Join(",", Columns)}), found {fields.Length}.", "shapes");
        string name = fields[0];
        if (name.Length == 0)
            throw new ArgumentException($"{where}: field 'name' is empty.", "name");
        where += $" ({name})";
        var v = new int[Columns.Length];
        for (int i = 1; i < Columns.Length; i++)
        {
            if (!int.TryParse(fields[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out v[i]))
                throw new ArgumentException($"{where}: field '{Columns[i]}' = '{fields[i]}' is not an integer.", Columns[i]);
            // Padding may be zero; every other count must be positive.
            int min = Columns[i].StartsWith("pad_", StringComparison.Ordinal) ? 0 : 1;
            if (v[i] < min)
                throw new ArgumentException($"{where}: field '{Columns[i]}' must be >= {min}, got {v[i]}.", Columns[i]);
        }
        int n = v[1], c = v[2], h = v[3], w = v[4], k = v[5], r = v[6], s = v[7], groups = v[14];
        if (c % groups != 0)
            throw new ArgumentException($"{where}: field 'c' = {c} must be divisible by field 'groups' = {groups}.", "c");
        if (k % groups != 0)
            throw new ArgumentException($"{where}: field 'k' = {k} must be divisible by field 'groups' = {groups}.", "k");
        try
        {
            var spec = new ConvSpec([r, s], stride: [v[8], v[9]], dilation: [v[12], v[13]], padBegin: [v[10], v[11]], groups: groups);
            var problem = ConvProblem.Create(spec, new TensorShape(n, c, h, w), new TensorShape(k, c / groups, r, s));
            return new ShapeRow(name, line, problem);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{where}: {CliErrors.MessageOf(e)}", e.ParamName, e);
        }
    }
}
