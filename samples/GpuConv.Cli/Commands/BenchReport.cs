using System.Globalization;
using Spectre.Console;

namespace GpuConv.Cli.Commands;

/// <summary>The bench's output: the per-shape table or CSV, and the geometric-mean summary.</summary>
public static class BenchReport
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>
    /// One row per shape. Columns are only ever appended (scripts read them by header name): the first
    /// eight, then with a peer its five, then kind, then with a peer the peer's algorithm ("-" for ONNX Runtime).
    /// </summary>
    public static void WriteCsv(TextWriter output, IReadOnlyList<BenchResult> results, bool withPeer)
    {
        output.WriteLine("name,class,backend,algorithm,median_ms,gflops,plan_ms,plan_source" + (withPeer ? ",peer,peer_ms,peer_gflops,ratio,rel_err" : "") +
            ",kind" + (withPeer ? ",peer_algorithm" : ""));
        foreach (var r in results)
        {
            string line = string.Join(",", r.Shape.Name, r.Shape.Class, r.Backend, r.Algorithm, F(r.MedianMs, "F4"), F(r.Gflops, "F2"),
                F(r.PlanMs, "F3"), r.PlanSource.ToString().ToLowerInvariant());
            if (withPeer)
                line += "," + string.Join(",", r.Peer, F(r.PeerMs!.Value, "F4"), F(r.PeerGflops!.Value, "F2"), F(r.Ratio!.Value, "F3"), F(r.RelativeError!.Value, "E2"));
            line += "," + r.Shape.Kind;
            if (withPeer) line += "," + (r.PeerAlgorithm ?? "-");
            output.WriteLine(line);
        }
    }

    public static void WriteTable(IAnsiConsole console, IReadOnlyList<BenchResult> results, bool withPeer)
    {
        var table = new Table().Border(TableBorder.Rounded);
        // ONNX Runtime does not say which algorithm it ran: the column is for backend peers.
        bool withPeerAlgorithm = withPeer && results.Any(r => r.PeerAlgorithm is not null);
        table.AddColumn("shape");
        table.AddColumn("class");
        table.AddColumn("kind");
        table.AddColumn("problem");
        table.AddColumn("algorithm");
        table.AddColumn(new TableColumn("median ms").RightAligned());
        table.AddColumn(new TableColumn("GFLOP/s").RightAligned());
        table.AddColumn(new TableColumn("plan ms").RightAligned());
        if (withPeer)
        {
            string peer = PeerLabel(results) is var name && name == BenchPeer.OnnxRuntimeName ? "ORT" : Markup.Escape(name);
            table.AddColumn(new TableColumn($"{peer} ms").RightAligned());
            table.AddColumn(new TableColumn($"{peer} GFLOP/s").RightAligned());
            if (withPeerAlgorithm) table.AddColumn(new TableColumn($"{peer} algorithm"));
            table.AddColumn(new TableColumn("ratio").RightAligned());
            table.AddColumn(new TableColumn("rel err").RightAligned());
        }
        foreach (var r in results)
        {
            var p = r.Shape.Problem;
            var cells = new List<string>
            {
                Markup.Escape(r.Shape.Name), r.Shape.Class, r.Shape.Kind,
                Markup.Escape($"{p.XShape} k{p.K} {string.Join("x", p.Spec.Kernel)}/{string.Join("x", p.Spec.Stride)} g{p.Groups}"),
                r.Algorithm, F(r.MedianMs, "F3"), F(r.Gflops, "F1"), $"{F(r.PlanMs, "F2")} ({r.PlanSource.ToString().ToLowerInvariant()})",
            };
            if (withPeer)
            {
                string ratio = F(r.Ratio!.Value, "F2");
                cells.AddRange([F(r.PeerMs!.Value, "F3"), F(r.PeerGflops!.Value, "F1")]);
                if (withPeerAlgorithm) cells.Add(Markup.Escape(r.PeerAlgorithm ?? "-"));
                cells.AddRange([r.Ratio >= 1 ? $"[green]{ratio}[/]" : $"[yellow]{ratio}[/]", F(r.RelativeError!.Value, "E1")]);
            }
            table.AddRow(cells.ToArray());
        }
        console.Write(table);
    }

    /// <summary>
    /// Total time and, with a peer, the geometric-mean throughput ratio per shape class and overall (a
    /// table), then per kind on one line (<see cref="ByKindLine"/>).
    /// </summary>
    public static void WriteSummary(IAnsiConsole console, IReadOnlyList<BenchResult> results)
    {
        double total = results.Sum(r => r.MedianMs), flops = results.Sum(r => r.Shape.Problem.Flops);
        console.WriteLine($"total {F(total, "F2")} ms over {results.Count} shapes ({F(flops / total / 1e6, "F1")} GFLOP/s overall)");
        if (results.Count == 0 || results.Any(r => r.Ratio is null)) return;
        var summary = new Table().Border(TableBorder.Rounded).AddColumn("class").AddColumn(new TableColumn("shapes").RightAligned())
            .AddColumn(new TableColumn(Markup.Escape($"geomean ratio {results[0].Backend}/{PeerLabel(results)}")).RightAligned());
        foreach (var group in results.GroupBy(r => r.Shape.Class).OrderBy(g => g.Key))
            summary.AddRow(group.Key, group.Count().ToString(Inv), F(GeoMean(group.Select(r => r.Ratio!.Value)), "F3"));
        summary.AddRow("[bold]all[/]", results.Count.ToString(Inv), $"[bold]{F(GeoMean(results.Select(r => r.Ratio!.Value)), "F3")}[/]");
        console.Write(summary);
        // Straight to the writer: Spectre would wrap a long line at the console width, and scripts grep it whole.
        console.Profile.Out.Writer.WriteLine(ByKindLine(results));
    }

    /// <summary>
    /// "geomean B/P by kind: 3x3 0.71x (12 shapes); 1x1 …; all 0.85x (52 shapes)": the geometric-mean
    /// throughput ratio per kind present (in <see cref="BenchKinds.Ordered"/> order) and overall.
    /// Needs every result to have a peer time.
    /// </summary>
    public static string ByKindLine(IReadOnlyList<BenchResult> results)
    {
        if (results.Count == 0 || results.Any(r => r.Ratio is null))
            throw new ArgumentException("the by-kind summary needs at least one result, each with a peer time.", nameof(results));
        var parts = BenchKinds.Ordered
            .Select(kind => (Kind: kind, Ratios: results.Where(r => r.Shape.Kind == kind).Select(r => r.Ratio!.Value).ToList()))
            .Where(k => k.Ratios.Count > 0)
            .Select(k => Part(k.Kind, k.Ratios))
            .Append(Part("all", [.. results.Select(r => r.Ratio!.Value)]));
        return $"geomean {results[0].Backend}/{PeerLabel(results)} by kind: {string.Join("; ", parts)}";

        static string Part(string name, List<double> ratios) => $"{name} {F(GeoMean(ratios), "F2")}x ({ratios.Count.ToString(Inv)} shape{(ratios.Count == 1 ? "" : "s")})";
    }

    static string PeerLabel(IReadOnlyList<BenchResult> results) => results.FirstOrDefault()?.Peer ?? "peer";

    public static double GeoMean(IEnumerable<double> values)
    {
        var list = values.ToList();
        return list.Count == 0 ? double.NaN : Math.Exp(list.Average(Math.Log));
    }

    static string F(double v, string format) => v.ToString(format, Inv);
}
