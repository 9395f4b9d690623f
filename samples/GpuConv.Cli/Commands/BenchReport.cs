using System.Globalization;
using Spectre.Console;

namespace GpuConv.Cli.Commands;

/// <summary>The bench's output: the per-shape table or CSV, and the geometric-mean summary.</summary>
public static class BenchReport
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void WriteCsv(TextWriter output, IReadOnlyList<BenchResult> results, bool withPeer)
    {
        output.WriteLine("name,class,backend,algorithm,median_ms,gflops,plan_ms,plan_source" + (withPeer ? ",peer,peer_ms,peer_gflops,ratio,rel_err" : ""));
        foreach (var r in results)
        {
            string line = string.Join(",", r.Shape.Name, r.Shape.Class, r.Backend, r.Algorithm, F(r.MedianMs, "F4"), F(r.Gflops, "F2"),
                F(r.PlanMs, "F3"), r.PlanSource.ToString().ToLowerInvariant());
            if (withPeer)
                line += "," + string.Join(",", "onnxruntime", F(r.PeerMs!.Value, "F4"), F(r.PeerGflops!.Value, "F2"), F(r.Ratio!.Value, "F3"), F(r.RelativeError!.Value, "E2"));
            output.WriteLine(line);
        }
    }

    public static void WriteTable(IAnsiConsole console, IReadOnlyList<BenchResult> results, bool withPeer)
    {
        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumn("shape");
        table.AddColumn("class");
        table.AddColumn("problem");
        table.AddColumn("algorithm");
        table.AddColumn(new TableColumn("median ms").RightAligned());
        table.AddColumn(new TableColumn("GFLOP/s").RightAligned());
        table.AddColumn(new TableColumn("plan ms").RightAligned());
        if (withPeer)
        {
            table.AddColumn(new TableColumn("ORT ms").RightAligned());
            table.AddColumn(new TableColumn("ORT GFLOP/s").RightAligned());
            table.AddColumn(new TableColumn("ratio").RightAligned());
            table.AddColumn(new TableColumn("rel err").RightAligned());
        }
        foreach (var r in results)
        {
            var p = r.Shape.Problem;
            var cells = new List<string>
            {
                Markup.Escape(r.Shape.Name), r.Shape.Class,
                Markup.Escape($"{p.XShape} k{p.K} {string.Join("x", p.Spec.Kernel)}/{string.Join("x", p.Spec.Stride)} g{p.Groups}"),
                r.Algorithm, F(r.MedianMs, "F3"), F(r.Gflops, "F1"), $"{F(r.PlanMs, "F2")} ({r.PlanSource.ToString().ToLowerInvariant()})",
            };
            if (withPeer)
            {
                string ratio = F(r.Ratio!.Value, "F2");
                cells.AddRange([F(r.PeerMs!.Value, "F3"), F(r.PeerGflops!.Value, "F1"), r.Ratio >= 1 ? $"[green]{ratio}[/]" : $"[yellow]{ratio}[/]", F(r.RelativeError!.Value, "E1")]);
            }
            table.AddRow(cells.ToArray());
        }
        console.Write(table);
    }

    /// <summary>Total time and, with a peer, the geometric-mean throughput ratio overall and per shape class.</summary>
    public static void WriteSummary(IAnsiConsole console, IReadOnlyList<BenchResult> results)
    {
        double total = results.Sum(r => r.MedianMs), flops = results.Sum(r => r.Shape.Problem.Flops);
        console.WriteLine($"total {F(total, "F2")} ms over {results.Count} shapes ({F(flops / total / 1e6, "F1")} GFLOP/s overall)");
        if (results.Any(r => r.Ratio is null)) return;
        var summary = new Table().Border(TableBorder.Rounded).AddColumn("class").AddColumn(new TableColumn("shapes").RightAligned())
            .AddColumn(new TableColumn("geomean ratio GpuConv/ORT").RightAligned());
        foreach (var group in results.GroupBy(r => r.Shape.Class).OrderBy(g => g.Key))
            summary.AddRow(group.Key, group.Count().ToString(Inv), F(GeoMean(group.Select(r => r.Ratio!.Value)), "F3"));
        summary.AddRow("[bold]all[/]", results.Count.ToString(Inv), $"[bold]{F(GeoMean(results.Select(r => r.Ratio!.Value)), "F3")}[/]");
        console.Write(summary);
    }

    public static double GeoMean(IEnumerable<double> values)
    {
        var list = values.ToList();
        return list.Count == 0 ? double.NaN : Math.Exp(list.Average(Math.Log));
    }

    static string F(double v, string format) => v.ToString(format, Inv);
}
