using System.CommandLine;
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
                          string.Join(", ", ShapeSet.BuiltInNames),
            Required = true,
        };
        // Lower-case words, as run's and bench's --policy (an enum option would show and default to Heuristic).
        var policy = new Option<string>("--policy") { Description = "heuristic, exhaustive (times every candidate) or cached", DefaultValueFactory = _ => "heuristic" };
        policy.AcceptOnlyFromAmong("heuristic", "exhaustive", "cached");
        var cachePath = new Option<string?>("--plan-cache") { Description = $"plan cache file (default: ${PlanCache.PathEnvironmentVariable}, else the per-user cache)" };
        var backend = new Option<string?>("--backend") { Description = "consider only this backend (cpu, reference, cudnn, ptx)" };
        var op = new Option<ConvOp>("--op") { Description = "Forward, BackwardData or BackwardFilter: the pass of each row's layer (a transposed layer's Forward is its underlying convolution's BackwardData)", DefaultValueFactory = _ => ConvOp.Forward };
        var batch = new Option<int?>("--batch") { Description = "override the batch size of every row" };

        var command = new Command("plan", "Explain which backend and algorithm the planner picks for each shape, and why the others lost.")
        {
            shapes, policy, cachePath, backend, op, batch,
        };
        command.SetAction(parse => Run(
            parse.GetValue(shapes)!,
            parse.GetValue(policy) switch { "exhaustive" => PlanPolicy.Exhaustive, "cached" => PlanPolicy.Cached, _ => PlanPolicy.Heuristic },
            parse.GetValue(cachePath), parse.GetValue(backend),
            parse.GetValue(op), parse.GetValue(batch)));
        return command;
    }

    static int Run(string shapes, PlanPolicy policy, string? cachePath, string? backend, ConvOp op, int? batch)
    {
        // Bad input (the CSV, --batch) is thrown to CliHost: "error: …" and exit 2, as every command.
        if (batch is < 1) throw new ArgumentException($"--batch: must be >= 1, got {batch}.", "--batch");
        var set = ShapeSet.Load(shapes);
        var problems = set.Rows.Select(r => (r.Name, Problem: (batch is { } b ? r.WithBatch(b, "--batch") : r.Problem).WithOp(r.ForLayerOp(op).Op))).ToList();

        ConvEngine engine;
        try
        {
            engine = ConvEngine.Open(new ConvEngineOptions { Policy = policy, PlanCachePath = cachePath, Backend = backend });
        }
        catch (ArgumentException e) when (e.ParamName == nameof(ConvEngineOptions.Backend))
        {
            throw new ArgumentException($"--backend: {CliErrors.MessageOf(e)}", "--backend", e);
        }
        catch (InvalidOperationException e)
        {
            throw new ArgumentException($"--backend: {CliErrors.MessageOf(e)}", "--backend", e);
        }
        using (engine)
        {
            Console.WriteLine($"device: {engine.Device}");
            if (engine.GpuUnavailableReason is { } why) Console.WriteLine($"GPU path off: {why}");
            Console.WriteLine($"backends: {string.Join(", ", engine.Backends.Select(b => b.Name))}; policy {policy.ToString().ToLowerInvariant()}; plan cache {engine.Cache.Path ?? "(memory only)"}");
            Console.WriteLine();
            int failed = 0;
            foreach (var row in problems)
            {
                try
                {
                    var problem = row.Problem;
                    Console.WriteLine($"== {row.Name}");
                    Console.Write(engine.Explain(problem).Format());
                    Console.WriteLine();
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                    failed++;
                    Console.Error.WriteLine($"error: {row.Name}: {CliErrors.MessageOf(e)}");
                }
            }
            return failed == 0 ? 0 : 1;
        }
    }
}
