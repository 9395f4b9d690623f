using System.Globalization;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Cli;

/// <summary>
/// One named convolution layer from a shapes CSV, with the line it came from. <see cref="Problem"/> is the
/// layer's forward pass: for a convolution the underlying forward problem, for a transposed convolution
/// (ConvTranspose) the underlying convolution's backward data (see <see cref="ConvProblem.Create"/>).
/// </summary>
public sealed record ShapeRow(string Name, int Line, ConvProblem Problem)
{
    /// <summary>True for a transposed-convolution row: its forward pass is the underlying convolution's backward data.</summary>
    public bool Transposed => Problem.Op == ConvOp.BackwardData;

    /// <summary>
    /// The problem of the layer's pass <paramref name="layerOp"/> (plan's --op): for a convolution that op
    /// itself; for a transposed convolution forward is backward data of the underlying convolution and back.
    /// </summary>
    public ConvProblem ForLayerOp(ConvOp layerOp) => Problem.WithOp(!Transposed ? layerOp : layerOp switch
    {
        ConvOp.Forward => ConvOp.BackwardData,
        ConvOp.BackwardData => ConvOp.Forward,
        _ => ConvOp.BackwardFilter,
    });

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
/// THE reader of shape CSVs for every command (plan, bench, verify, demo), with one rule set. The header
/// is one of two forms (any letter case, no extra or missing column):
/// <list type="bullet">
/// <item>2-d: <c>name,n,c,h,w,k,r,s,stride_h,stride_w,pad_h,pad_w,dil_h,dil_w,groups</c> (<see cref="Columns"/>);</item>
/// <item>N-d: <c>name,n,c,spatial,k,kernel,stride,pad_begin,pad_end,dilation,groups,transposed,output_padding</c>
/// (<see cref="NdColumns"/>), where <c>spatial</c> lists 1 to 3 input sizes joined by 'x' (its count is
/// the rank), the other list fields give one value per dimension or one value for all, <c>transposed</c>
/// is 0 or 1, and a transposed row is a ConvTranspose from c to k channels (weights [c, k/groups, kernel…]);</item>
/// </list>
/// then at least one row of exactly those fields: a non-empty name used once, integers >= 1 (padding
/// >= 0), groups dividing c and k, a geometry ConvProblem accepts. Blank lines and '#' comments are
/// skipped. Either a built-in set embedded in the CLI (<see cref="BuiltInNames"/>; '_' for '-' and a
/// ".csv" suffix are accepted) or a file. Every error is an ArgumentException "SOURCE line N (NAME): …"
/// naming the field (the CLI prints "error: …" and exits 2).
/// </summary>
public sealed class ShapeSet
{
    public static readonly string[] Columns =
        ["name", "n", "c", "h", "w", "k", "r", "s", "stride_h", "stride_w", "pad_h", "pad_w", "dil_h", "dil_w", "groups"];

    /// <summary>The N-d header: rank 1–3 and transposed convolutions, list fields joined by 'x'.</summary>
    public static readonly string[] NdColumns =
        ["name", "n", "c", "spatial", "k", "kernel", "stride", "pad_begin", "pad_end", "dilation", "groups", "transposed", "output_padding"];

    /// <summary>Built-in set name → embedded resource file name.</summary>
    static readonly Dictionary<string, string> BuiltIn = new(StringComparer.OrdinalIgnoreCase)
    {
        ["resnet50"] = "resnet50.csv",
        ["resnet18"] = "resnet18.csv",
        ["mobilenet_v2"] = "mobilenet_v2.csv",
        ["efficientnet_b0"] = "efficientnet_b0.csv",
        ["convnext_tiny"] = "convnext_tiny.csv",
        ["deepbench-inference"] = "deepbench_inference.csv",
        ["deepbench-train"] = "deepbench_train.csv",
        ["deepbench-device"] = "deepbench_device.csv",
        ["wav2vec2_encoder"] = "wav2vec2_encoder.csv",
        ["convtasnet_tcn"] = "convtasnet_tcn.csv",
        ["r3d_18"] = "r3d_18.csv",
        ["dcgan_generator"] = "dcgan_generator.csv",
        ["unet_upconv"] = "unet_upconv.csv",
        ["erfnet_decoder"] = "erfnet_decoder.csv",
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
        string[]? header = null;
        string headers = $"'{string.Join(",", Columns)}' or '{string.Join(",", NdColumns)}'";
        int lineNumber = 0;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            string trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#')) continue;
            var fields = trimmed.Split(',', StringSplitOptions.TrimEntries);
            if (header is null)
            {
                header = fields.SequenceEqual(Columns, StringComparer.OrdinalIgnoreCase) ? Columns
                    : fields.SequenceEqual(NdColumns, StringComparer.OrdinalIgnoreCase) ? NdColumns
                    : throw new ArgumentException($"{source} line {lineNumber}: the header must be {headers}, found '{trimmed}'.", "shapes");
                continue;
            }
            var row = header == Columns ? ParseRow(fields, source, lineNumber) : ParseNdRow(fields, source, lineNumber);
            if (names.TryGetValue(row.Name, out int earlier))
                throw new ArgumentException($"{source} line {lineNumber}: name '{row.Name}' is already used on line {earlier}.", "name");
            names[row.Name] = lineNumber;
            rows.Add(row);
        }
        if (header is null)
            throw new ArgumentException($"{source}: empty shape file (expected the header {headers} and at least one row).", "shapes");
        if (rows.Count == 0)
            throw new ArgumentException($"{source}: the file has a header but no shape rows.", "shapes");
        return new ShapeSet(source, rows);
    }

    /// <summary>"SOURCE line N (NAME)" after the field count and the name are checked.</summary>
    static string Where(string[] fields, string[] columns, string source, int line)
    {
        string where = $"{source} line {line}";
        if (fields.Length != columns.Length)
            throw new ArgumentException($"{where}: expected {columns.Length} comma-separated fields ({string.Join(",", columns)}), found {fields.Length}.", "shapes");
        if (fields[0].Length == 0)
            throw new ArgumentException($"{where}: field 'name' is empty.", "name");
        return $"{where} ({fields[0]})";
    }

    static int Integer(string where, string field, string text, int min)
    {
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
            throw new ArgumentException($"{where}: field '{field}' = '{text}' is not an integer.", field);
        if (value < min)
            throw new ArgumentException($"{where}: field '{field}' must be >= {min}, got {value}.", field);
        return value;
    }

    static void CheckGroups(string where, int c, int k, int groups)
    {
        if (c % groups != 0)
            throw new ArgumentException($"{where}: field 'c' = {c} must be divisible by field 'groups' = {groups}.", "c");
        if (k % groups != 0)
            throw new ArgumentException($"{where}: field 'k' = {k} must be divisible by field 'groups' = {groups}.", "k");
    }

    /// <summary>The library's own refusal of a geometry, prefixed with the row (its parameter name kept).</summary>
    static ShapeRow Build(string where, string name, int line, Func<ConvProblem> create)
    {
        try { return new ShapeRow(name, line, create()); }
        catch (ArgumentException e) { throw new ArgumentException($"{where}: {CliErrors.MessageOf(e)}", e.ParamName, e); }
    }

    static ShapeRow ParseRow(string[] fields, string source, int line)
    {
        string where = Where(fields, Columns, source, line);
        var v = new int[Columns.Length];
        // Padding may be zero; every other count must be positive.
        for (int i = 1; i < Columns.Length; i++)
            v[i] = Integer(where, Columns[i], fields[i], Columns[i].StartsWith("pad_", StringComparison.Ordinal) ? 0 : 1);
        int n = v[1], c = v[2], h = v[3], w = v[4], k = v[5], r = v[6], s = v[7], groups = v[14];
        CheckGroups(where, c, k, groups);
        return Build(where, fields[0], line, () =>
        {
            var spec = new ConvSpec([r, s], stride: [v[8], v[9]], dilation: [v[12], v[13]], padBegin: [v[10], v[11]], groups: groups);
            return ConvProblem.Create(spec, new TensorShape(n, c, h, w), new TensorShape(k, c / groups, r, s));
        });
    }

    static ShapeRow ParseNdRow(string[] fields, string source, int line)
    {
        string where = Where(fields, NdColumns, source, line);
        int n = Integer(where, "n", fields[1], 1), c = Integer(where, "c", fields[2], 1);
        int[] spatial = List(where, "spatial", fields[3], 1, rank: null);
        int rank = spatial.Length;
        int k = Integer(where, "k", fields[4], 1);
        int[] kernel = List(where, "kernel", fields[5], 1, rank), stride = List(where, "stride", fields[6], 1, rank);
        int[] padBegin = List(where, "pad_begin", fields[7], 0, rank), padEnd = List(where, "pad_end", fields[8], 0, rank);
        int[] dilation = List(where, "dilation", fields[9], 1, rank);
        int groups = Integer(where, "groups", fields[10], 1);
        bool transposed = fields[11] switch
        {
            "0" => false,
            "1" => true,
            _ => throw new ArgumentException($"{where}: field 'transposed' = '{fields[11]}' must be 0 or 1.", "transposed"),
        };
        int[] outputPadding = List(where, "output_padding", fields[12], 0, rank);
        if (!transposed && outputPadding.Any(p => p != 0))
            throw new ArgumentException($"{where}: field 'output_padding' = '{fields[12]}' must be 0 when field 'transposed' is 0.", "output_padding");
        CheckGroups(where, c, k, groups);
        return Build(where, fields[0], line, () =>
        {
            var spec = new ConvSpec(kernel, stride, dilation, padBegin, padEnd, groups, transposed, outputPadding);
            // A ConvTranspose from c to k channels has weights [c, k/groups, kernel…] (PyTorch and ONNX).
            var filter = transposed ? new TensorShape([c, k / groups, .. kernel]) : new TensorShape([k, c / groups, .. kernel]);
            return ConvProblem.Create(spec, new TensorShape([n, c, .. spatial]), filter);
        });
    }

    /// <summary>
    /// An 'x'-separated list field: <paramref name="rank"/> values, or one value for every dimension
    /// (null rank: 1 to <see cref="ConvSpec.MaxRank"/> values, the row's rank).
    /// </summary>
    static int[] List(string where, string field, string text, int min, int? rank)
    {
        var parts = text.Split('x');
        if (rank is null ? parts.Length > ConvSpec.MaxRank : parts.Length != 1 && parts.Length != rank)
            throw new ArgumentException(rank is null
                ? $"{where}: field '{field}' = '{text}' must list 1 to {ConvSpec.MaxRank} sizes joined by 'x', found {parts.Length}."
                : rank == 1
                    ? $"{where}: field '{field}' = '{text}' must be one value (field 'spatial' has 1), found {parts.Length} joined by 'x'."
                    : $"{where}: field '{field}' = '{text}' must have 1 or {rank} values joined by 'x' (field 'spatial' has {rank}), found {parts.Length}.", field);
        var values = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]))
                throw new ArgumentException($"{where}: field '{field}' = '{text}' is not a list of integers joined by 'x'.", field);
            if (values[i] < min)
                throw new ArgumentException($"{where}: field '{field}' must be >= {min} in every dimension, got '{text}'.", field);
        }
        return rank is { } r && values.Length == 1 ? Enumerable.Repeat(values[0], r).ToArray() : values;
    }
}
