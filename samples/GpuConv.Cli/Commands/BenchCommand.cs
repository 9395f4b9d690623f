using System.CommandLine;
using System.Globalization;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cli.Execution;
using GpuConv.Planning;
using GpuConv.Cli.Peers;
using Spectre.Console;

namespace GpuConv.Cli.Commands;

/// <summary>
/// <c>gpuconv bench</c>: times every shape of a set (or sets joined by '+') on a backend — the layer's
/// forward pass, which for a transposed row (ConvTranspose) is its underlying convolution's backward data —
/// optionally against a peer (--vs): ONNX Runtime in the same process with the same thread count, or
/// another GpuConv backend (cudnn, ptx, cpu, reference) planned under the same policy and plan cache.
/// Prints median ms, GFLOP/s and the throughput ratio per shape with geometric means per shape class
/// and per kind (3x3, 1x1, depthwise, other for 2-d forward rows: how the GPU goals are stated; then 1-d,
/// 3-d and transposed). The progress bar goes to
/// stderr so that <c>--format csv</c> leaves stdout clean.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var backendOpt = new Option<string>("--backend") { Description = $"Backend to time: {string.Join(", ", CliBackends.KnownNames)} (the GPU ones on a usable GPU).", DefaultValueFactory = _ => "cpu" };
        var shapesOpt = new Option<string>("--shapes") { Description = $"Shape set: {string.Join(", ", BenchShapes.EmbeddedSets)}, or a CSV file (format in shapes/README.md); several joined by '+' (resnet50+mobilenet_v2).", Required = true };
        var batchOpt = new Option<int>("--batch") { Description = "Multiplies every row's batch size.", DefaultValueFactory = _ => 1 };
        var threadsOpt = new Option<int>("--threads") { Description = "Threads for GpuConv's CPU backend and for the peer (default: all cores).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var vsOpt = new Option<string?>("--vs") { Description = $"Also run a peer on the same inputs and compare: {string.Join(", ", PeerNames)} (a backend is planned under the same --policy and --plan-cache; --algorithm is the main side's only)." };
        var formatOpt = new Option<string>("--format") { Description = "Output: table or csv.", DefaultValueFactory = _ => "table" };
        formatOpt.AcceptOnlyFromAmong("table", "csv");
        var limitOpt = new Option<int?>("--limit") { Description = "Only the first N shapes." };
        var policyOpt = new Option<string>("--policy") { Description = "The planner's policy: heuristic (the backend's first candidate), exhaustive (every candidate timed) or cached (the plan cache, else heuristic).", DefaultValueFactory = _ => "heuristic" };
        policyOpt.AcceptOnlyFromAmong("heuristic", "exhaustive", "cached");
        var planCacheOpt = new Option<string?>("--plan-cache") { Description = "Plan cache file (default: $GPUCONV_PLAN_CACHE or the per-user cache)." };
        var warmupOpt = new Option<int>("--warmup") { Description = "Untimed runs per shape and side.", DefaultValueFactory = _ => 3 };
        var repeatOpt = new Option<int>("--repeat") { Description = "Timed runs per shape and side (the median is reported).", DefaultValueFactory = _ => 10 };

        var algorithmOpt = new Option<string?>("--algorithm") { Description = "Time this algorithm of the backend wherever it applies (the plan's choice elsewhere), instead of the planner's choice." };
        var weightsOpt = new Option<string>("--weights") { Description = "constant: W declared constant (ConvTensors.ConstantWeights; prepared once, as ONNX Runtime's initializers are); per-call: W prepared on every run.", DefaultValueFactory = _ => "constant" };
        weightsOpt.AcceptOnlyFromAmong("constant", "per-call");
        var command = new Command("bench", "Time a shape set (each layer's forward pass: Conv of rank 1-3, or ConvTranspose) on a backend, optionally against ONNX Runtime or another backend.")
        {
            backendOpt, shapesOpt, batchOpt, threadsOpt, vsOpt, formatOpt, limitOpt, policyOpt, planCacheOpt, warmupOpt, repeatOpt, algorithmOpt, weightsOpt,
        };
        command.SetAction(parse => Run(
            parse.GetValue(backendOpt)!, parse.GetValue(shapesOpt)!, parse.GetValue(batchOpt), parse.GetValue(threadsOpt),
            parse.GetValue(vsOpt), parse.GetValue(formatOpt)!, parse.GetValue(limitOpt),
            parse.GetValue(policyOpt) switch { "exhaustive" => PlanPolicy.Exhaustive, "cached" => PlanPolicy.Cached, _ => PlanPolicy.Heuristic },
            parse.GetValue(planCacheOpt), parse.GetValue(warmupOpt), parse.GetValue(repeatOpt),
            parse.GetValue(algorithmOpt), parse.GetValue(weightsOpt) == "constant"));
        return command;
    }

    /// <summary>What --vs accepts: ONNX Runtime or any backend the CLI knows (the --backend one too: a rehearsal, ratios near 1).</summary>
    public static IReadOnlyList<string> PeerNames { get; } = [BenchPeer.OnnxRuntimeName, .. CliBackends.KnownNames];

    static int Run(string backendName, string set, int batch, int threads, string? vs, string format, int? limit,
        PlanPolicy policy, string? planCache, int warmup, int repeat, string? algorithm = null, bool constantWeights = true)
    {
        var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        // Bad input is thrown to CliHost ("error: …", exit 2) before anything is timed.
        if (batch < 1) throw new ArgumentException($"--batch: must be >= 1, got {batch}.", "--batch");
        if (threads is < 1 or > GpuConv.Backends.CpuBackend.MaxThreads)
            throw new ArgumentException($"--threads: must be in 1..{GpuConv.Backends.CpuBackend.MaxThreads}, got {threads}.", "--threads");
        if (limit is < 1) throw new ArgumentException($"--limit: must be >= 1, got {limit}.", "--limit");
        if (warmup < 0) throw new ArgumentException($"--warmup: must be >= 0, got {warmup}.", "--warmup");
        if (repeat < 1) throw new ArgumentException($"--repeat: must be >= 1, got {repeat}.", "--repeat");
        if (vs is not null)
            vs = PeerNames.FirstOrDefault(n => string.Equals(n, vs, StringComparison.OrdinalIgnoreCase))
                ?? throw new ArgumentException($"--vs: '{vs}' is not a peer; known: {string.Join(", ", PeerNames)}.", "--vs");
        IReadOnlyList<BenchShape> shapes = BenchShapes.Load(set, batch);
        if (limit is { } l) shapes = shapes.Take(l).ToArray();
        // Tensors (and the peer's copies) must fit before the first one is allocated.
        foreach (var shape in shapes)
        {
            try { shape.Problem.EnsureFitsInProcess(copies: vs is null ? 1 : 2); }
            catch (ProblemTooLargeException e) { throw new ArgumentException($"--shapes: row '{shape.Name}': {CliErrors.MessageOf(e)}", "--shapes", e); }
        }
        var backends = CliBackends.Open(backendName, planCache, policy, threads);
        BenchPeer? peer = null;
        try
        {
            if (algorithm is not null) BenchRunner.CheckAlgorithmName(backends, shapes, algorithm);
            if (vs == BenchPeer.OnnxRuntimeName) peer = BenchPeer.OnnxRuntime;
            else if (vs is not null)
            {
                var (peerBackend, plan) = backends.OpenPeer(vs, "--vs");
                peer = new BenchPeer(peerBackend.Name, peerBackend, plan);
            }
        }
        catch { backends.Dispose(); throw; }
        using (backends)
        {
            var runner = new BenchRunner(backends, threads, peer, warmup, repeat, constantWeights, algorithm);
            var results = new List<BenchResult>();
            // A shape that fails (a backend refusing at run time) is reported and the rest still run: on a
            // rarely lent GPU host one bad row must not cost the table. The exit status still says so.
            var failures = new List<string>();
            err.Progress()
                .AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask($"bench {backendName} on {set}", maxValue: shapes.Count);
                    for (int i = 0; i < shapes.Count; i++)
                    {
                        task.Description = $"{shapes[i].Name} ({i + 1}/{shapes.Count})";
                        try { results.Add(runner.Run(shapes[i], seed: 17 + i)); }
                        catch (Exception e) when (!CliErrors.IsBadInput(e) && e is not OutOfMemoryException)
                        {
                            failures.Add($"{shapes[i].Name}: {e.GetType().Name}: {CliErrors.MessageOf(e)}");
                        }
                        task.Increment(1);
                    }
                });
            string conditions = $"{set} batch x{batch}, {threads} thread(s), backend {backendName}, policy {policy.ToString().ToLowerInvariant()}, " +
                $"median of {repeat} after {warmup} warm-up, {(constantWeights ? "constant" : "per-call")} weights" +
                (algorithm is null ? "" : $", algorithm {algorithm} where it applies") +
                (peer is null ? "" : peer.Backend is null ? $", peer ONNX Runtime {OnnxRuntimeConv.Version}" : $", peer backend {peer.Name} (same policy and plan cache)");
            string device = backends.GpuUnavailableReason is { } off ? $"GPU off: {off}" : "GPU on";
            conditions += $"; {device}";
            if (format == "csv")
            {
                BenchReport.WriteCsv(Console.Out, results, peer is not null);
                err.WriteLine(conditions);
                BenchReport.WriteSummary(err, results);
            }
            else
            {
                // Over the Console.Out of now, like err above: the static AnsiConsole.Console keeps the writer
                // it first saw, so a second bench in one process (tests capture each call) wrote into the first's.
                var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
                // Redirected output has no terminal width; give the table room instead of wrapping every cell
                // (a backend peer adds its algorithm column).
                if (Console.IsOutputRedirected) console.Profile.Width = 240;
                console.WriteLine(conditions);
                BenchReport.WriteTable(console, results, peer is not null);
                BenchReport.WriteSummary(console, results);
            }
            // Both kinds of trouble are printed (a wrong result must not hide behind a failed row); a failed
            // row decides the exit status, as the run is incomplete.
            var disagree = results.Where(r => r.RelativeError is > 1e-4).ToArray();
            if (disagree.Length > 0)
                err.MarkupLineInterpolated($"[red]error:[/] {disagree.Length} shape(s) disagree with the peer by more than 1e-4: {string.Join(", ", disagree.Select(r => r.Shape.Name))}");
            foreach (var failure in failures) err.WriteLine($"error: shape {failure}");
            if (failures.Count > 0)
            {
                err.WriteLine($"error: {failures.Count} of {shapes.Count} shape(s) failed (left out of the tables above)");
                return ExitCodes.Failure;
            }
            if (disagree.Length > 0) return ExitCodes.Mismatch;
        }
        return ExitCodes.Ok;
    }
}
