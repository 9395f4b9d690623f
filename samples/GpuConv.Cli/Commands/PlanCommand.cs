using System.CommandLine;
using System.Globalization;
using System.Reflection;
using GpuConv.Conv;
using GpuConv.Planning;
using GpuConv.Tensors;

namespace GpuConv.Cli.Commands;

/// <summary>
/// <c>gpuconv plan --shapes FILE.csv|name</c>: prints the planner's candidate table (Explain) for every
/// row of a shape set, on the backends this machine has.
/// </summary>
internal static class PlanCommand
{
    public static Command Create()
    {
        var shapes = new Option<string>("--shapes")
        {
            Description = "a shape CSV file (name,n,c,h,w,k,r,s,stride_h,stride_w,pad_h,pad_w,dil_h,dil_w,groups) or a built-in set: " +
                          string.Join(", ", BuiltInShapeSets()),
            Required = true,
        };
        var policy = new Option<PlanPolicy>("--policy") { Description = "heuristic, exhaustive (times every candidate) or cached", DefaultValueFactory = _ => PlanPolicy.Heuristic };
        var cachePath = new Option<string?>("--plan-cache") { Description = $"plan cache file (default: ${PlanCache.PathEnvironmentVariable}, else the per-user cache)" };
        var backend = new Option<string?>("--backend") { Description = "consider only this backend (cpu, reference, cudnn, ptx)" };
        var op = new Option<ConvOp>("--op") { Description = "Forward, BackwardData or BackwardFilter", DefaultValueFactory = _ => ConvOp.Forward };
        var batch = new Option<int?>("--batch") { Description = "override the batch size of every row" };

        var command = new Command("plan", "Explain which backend and algorithm the planner picks for each shape, and why the others lost.")
        {
            shapes, policy, cachePath, backend, op, batch,
        };
        command.SetAction(parse => Run(
            parse.GetValue(shapes)!, parse.GetValue(policy), parse.GetValue(cachePath), parse.GetValue(backend),
            parse.GetValue(op), parse.GetValue(batch)));
        return command;
    }

    static int Run(string shapes, PlanPolicy policy, string? cachePath, string? backend, ConvOp op, int? batch)
    {
        List<ShapeRow> rows;
        try
        {
            rows = ShapeRow.Load(shapes);
            if (batch is < 1) throw new ArgumentException($"--batch must be >= 1, got {batch}.");
        }
        catch (Exception e) when (e is ArgumentException or IOException or FormatException)
        {
            Console.Error.WriteLine($"gpuconv plan: {e.Message}");
            return 2;
        }

        ConvEngine engine;
        try
        {
            engine = ConvEngine.Open(new ConvEngineOptions { Policy = policy, PlanCachePath = cachePath, Backend = backend });
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            Console.Error.WriteLine($"gpuconv plan: {e.Message}");
            return 2;
        }
        using (engine)
        {
            Console.WriteLine($"device: {engine.Device}");
            if (engine.GpuUnavailableReason is { } why) Console.WriteLine($"GPU path off: {why}");
            Console.WriteLine($"backends: {string.Join(", ", engine.Backends.Select(b => b.Name))}; policy {policy}; plan cache {engine.Cache.Path ?? "(memory only)"}");
            Console.WriteLine();
            int failed = 0;
            foreach (var row in rows)
            {
                try
                {
                    var problem = row.Problem(op, batch);
                    Console.WriteLine($"== {row.Name}");
                    Console.Write(engine.Explain(problem).Format());
                    Console.WriteLine();
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                    failed++;
                    Console.Error.WriteLine($"gpuconv plan: {row.Name}: {e.Message}");
                }
            }
            return failed == 0 ? 0 : 1;
        }
    }

    static IEnumerable<string> BuiltInShapeSets() =>
        typeof(PlanCommand).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ShapeRow.ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".csv", StringComparison.Ordinal))
            .Select(n => n[ShapeRow.ResourcePrefix.Length..^4]).Order();

    /// <summary>One row of a shape CSV (2-d convolution, PyTorch semantics). A private reader; the CLI's shared loader may replace it.</summary>
    sealed record ShapeRow(string Name, int N, int C, int H, int W, int K, int R, int S, int StrideH, int StrideW, int PadH, int PadW, int DilH, int DilW, int Groups)
    {
        public const string ResourcePrefix = "GpuConv.Cli.Shapes.";
        static readonly string[] Columns = ["name", "n", "c", "h", "w", "k", "r", "s", "stride_h", "stride_w", "pad_h", "pad_w", "dil_h", "dil_w", "groups"];

        public ConvProblem Problem(ConvOp op, int? batch)
        {
            var spec = new ConvSpec([R, S], [StrideH, StrideW], [DilH, DilW], [PadH, PadW], [PadH, PadW], Groups);
            return ConvProblem.Create(spec, new TensorShape(batch ?? N, C, H, W), new TensorShape(K, C / Groups, R, S), op);
        }

        /// <summary>Reads a CSV file, or a built-in set by name (with or without .csv).</summary>
        public static List<ShapeRow> Load(string fileOrName)
        {
            string text;
            if (File.Exists(fileOrName)) text = File.ReadAllText(fileOrName);
            else
            {
                var name = fileOrName.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? fileOrName[..^4] : fileOrName;
                using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourcePrefix + name + ".csv")
                    ?? throw new ArgumentException($"--shapes '{fileOrName}' is neither a file nor a built-in set ({string.Join(", ", BuiltInShapeSets())}).");
                text = new StreamReader(stream).ReadToEnd();
            }
            var lines = text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
            if (lines.Count == 0) throw new FormatException($"{fileOrName}: empty shape file.");
            var header = lines[0].Split(',').Select(h => h.Trim().ToLowerInvariant()).ToArray();
            var index = Columns.Select(c => Array.IndexOf(header, c)).ToArray();
            if (index.Any(i => i < 0))
                throw new FormatException($"{fileOrName}: header must have columns {string.Join(",", Columns)}; missing {string.Join(",", Columns.Where((c, i) => index[i] < 0))}.");
            var rows = new List<ShapeRow>();
            for (int l = 1; l < lines.Count; l++)
            {
                var cells = lines[l].Split(',').Select(c => c.Trim()).ToArray();
                if (cells.Length < header.Length) throw new FormatException($"{fileOrName} line {l + 1}: {cells.Length} cells, header has {header.Length}.");
                int Int(int column)
                {
                    var cell = cells[index[column]];
                    return int.TryParse(cell, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
                        : throw new FormatException($"{fileOrName} line {l + 1}: column {Columns[column]} = '{cell}' is not an integer.");
                }
                rows.Add(new ShapeRow(cells[index[0]], Int(1), Int(2), Int(3), Int(4), Int(5), Int(6), Int(7), Int(8), Int(9), Int(10), Int(11), Int(12), Int(13), Int(14)));
            }
            return rows;
        }
    }
}
