using System.CommandLine;

namespace GpuConv.Cli.Commands;

/// <summary>What <c>gpuconv probe</c> was asked for, checked (<see cref="ProbeCommand.Settings"/>).</summary>
/// <param name="Backend">cpu, cudnn or ptx (lower case).</param>
/// <param name="Shapes">The set whose first results the plan-start section times.</param>
/// <param name="Limit">Only the first <paramref name="Limit"/> rows of <paramref name="Shapes"/> (null: all).</param>
/// <param name="Calls">Back-to-back calls per timed round of the overhead section.</param>
/// <param name="PlanCachePath">The plan-start section's cache file (kept); null: a temporary file, deleted after.</param>
public sealed record ProbeSettings(string Backend, ShapeSet Shapes, int? Limit, int Calls, string? PlanCachePath)
{
    /// <summary>The rows the plan-start section uses.</summary>
    public IReadOnlyList<ShapeRow> Rows => Limit is { } n ? [.. Shapes.Rows.Take(n)] : Shapes.Rows;

    /// <summary>The set as the summary line names it: "resnet50", or "resnet50[:8]" when limited.</summary>
    public string SetLabel => Limit is { } n && n < Shapes.Rows.Count ? $"{Shapes.Source}[:{n}]" : Shapes.Source;
}

/// <summary>
/// <c>gpuconv probe --backend cpu|cudnn|ptx</c>: the three numbers of the GPU proof that nothing else
/// measures — the engine's per-call overhead over the bare call, the im2col kernel's bandwidth against
/// a device copy, and a warm plan-cache start against a cold exhaustive search — each section ending in
/// one grep-able summary line (<c>overhead:</c>, <c>bandwidth:</c>, <c>plan-start:</c>).
/// </summary>
public static class ProbeCommand
{
    /// <summary>The backends probe measures; the cpu backend stands in for the GPU ones on a machine without one.</summary>
    public static readonly string[] Backends = ["cpu", "cudnn", "ptx"];

    /// <summary>Default calls per timed round of the overhead section.</summary>
    public const int DefaultCalls = 5000;

    public static Command Create(CliIO io)
    {
        var backend = new Option<string>("--backend") { Description = "cpu (stand-in for the GPU backends), cudnn or ptx", Required = true };
        var shapes = new Option<string>("--shapes")
        {
            Description = "the set the plan-start section plans and runs: a built-in set (" + string.Join(", ", ShapeSet.BuiltInNames) + ") or a shape CSV",
            DefaultValueFactory = _ => "resnet50",
        };
        var limit = new Option<int?>("--limit") { Description = "plan-start uses only the first N rows of --shapes (default: all)" };
        var calls = new Option<int>("--calls") { Description = "back-to-back calls per timed round of the overhead section", DefaultValueFactory = _ => DefaultCalls };
        var cache = new Option<string?>("--plan-cache") { Description = "plan cache file for plan-start (kept afterwards); default: a temporary file, deleted after" };
        var command = new Command("probe", "GPU-proof numbers: per-call overhead of the engine over the bare call, the im2col kernel's bandwidth against a device copy, warm plan-cache start against a cold exhaustive search.")
        {
            backend, shapes, limit, calls, cache,
        };
        command.SetAction(parse => ProbeJob.Execute(
            Settings(parse.GetValue(backend)!, parse.GetValue(shapes)!, parse.GetValue(limit), parse.GetValue(calls), parse.GetValue(cache)), io));
        return command;
    }

    /// <summary>Checks every option before any device work; a bad one is an ArgumentException naming it (exit 2).</summary>
    public static ProbeSettings Settings(string backend, string shapes, int? limit, int calls, string? planCache)
    {
        string name = backend.Trim().ToLowerInvariant();
        if (!Backends.Contains(name))
            throw new ArgumentException($"--backend: expected one of {string.Join(", ", Backends)}, got '{backend}'.", "--backend");
        if (calls < 1)
            throw new ArgumentException($"--calls: must be >= 1, got {calls}.", "--calls");
        if (limit is < 1)
            throw new ArgumentException($"--limit: must be >= 1, got {limit}.", "--limit");
        if (planCache is not null)
        {
            if (string.IsNullOrWhiteSpace(planCache))
                throw new ArgumentException("--plan-cache: expected a file path, got an empty string.", "--plan-cache");
            if (Directory.Exists(planCache))
                throw new ArgumentException($"--plan-cache: '{planCache}' is a folder, not a file.", "--plan-cache");
        }
        return new ProbeSettings(name, ShapeSet.Load(shapes), limit, calls, planCache);
    }
}
