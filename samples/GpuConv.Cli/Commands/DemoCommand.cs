using GpuConv.Conv;
using System.CommandLine;
using System.Globalization;
using GpuConv.Cli.Execution;
using Spectre.Console;

namespace GpuConv.Cli.Commands;

/// <summary><c>gpuconv demo</c>: ResNet-50's convolutions on the best backend, validated and timed.</summary>
public static class DemoCommand
{
    public static Command Create(CliIO io)
    {
        var batch = new Option<int>("--batch") { Description = "batch size", DefaultValueFactory = _ => 1 };
        var limit = new Option<int?>("--limit") { Description = "run only the first N layers" };
        var shapes = new Option<string>("--shapes") { Description = "shape set to run instead of ResNet-50 (built-in name or CSV file)", DefaultValueFactory = _ => DemoJob.ShapeSetName };
        var runs = new Option<int>("--runs") { Description = "warm timed runs per layer, median reported (at least 3; no more once their times add up to 0.4 s)", DefaultValueFactory = _ => DemoJob.DefaultRuns };
        var planCache = new Option<string?>("--plan-cache") { Description = "plan cache file (default: $GPUCONV_PLAN_CACHE or the per-user cache)" };
        var command = new Command("demo",
            "Run the ResNet-50 convolution layers forward on the best available backend with random data, validate every layer " +
            "against the float64 reference (sampled elements for big layers), and print the device, then a table of cold and warm times and errors.")
        {
            batch, limit, shapes, runs, planCache,
        };
        command.SetAction(parse =>
        {
            DemoJob.CheckOptions(parse.GetValue(batch), parse.GetValue(limit), parse.GetValue(runs));
            var set = ShapeSet.Load(parse.GetRequiredValue(shapes));
            // Every layer at this batch must be possible and fit, before the first one runs: in this process
            // before the GPU is opened, then in the memory of the engine that will run it.
            var sized = set.Rows.Take(parse.GetValue(limit) is int l and >= 1 ? l : int.MaxValue)
                .Select(row => (row.Name, Problem: row.WithBatch(parse.GetValue(batch), "--batch"))).ToList();
            void EnsureAllFit(Action<ConvProblem> check)
            {
                foreach (var (name, problem) in sized)
                {
                    try { check(problem); }
                    catch (ProblemTooLargeException e) { throw new ArgumentException($"--batch: layer '{name}': {CliErrors.MessageOf(e)}", "--batch", e); }
                }
            }
            EnsureAllFit(p => p.EnsureFitsInProcess());
            using var backends = CliBackends.Open(null, parse.GetValue(planCache));
            EnsureAllFit(backends.EnsureFits);
            var console = io.CreateConsole();
            io.Out.WriteLine(DeviceLine(backends));
            var layers = new List<DemoLayer>();
            foreach (var layer in DemoJob.Run(backends, set, parse.GetValue(batch), parse.GetValue(limit), parse.GetValue(runs)))
            {
                layers.Add(layer);
                if (io.ErrIsTerminal) io.Err.Write($"\r{layers.Count}/{set.Rows.Count} layers done ");
            }
            if (io.ErrIsTerminal) io.Err.Write("\r" + new string(' ', 40) + "\r");
            return Print(io, console, set.Source, layers);
        });
        return command;
    }

    /// <summary>The first line of the demo: the device the layers run on, or the CPU and why the GPU path is off.</summary>
    public static string DeviceLine(CliBackends backends)
    {
        var device = backends.Device;
        if (device is null) return $"device: backends {string.Join(", ", backends.All.Select(b => b.Name))}";
        if (device.Kind != "cpu") return $"device: {device}";
        var why = backends.GpuUnavailableReason;
        // The reason can list every probed path; its first clause says what is missing.
        var shortWhy = why is null ? "a CPU backend was asked for" : why.Split(": ", 2)[0];
        return $"device: {device} (GPU path off: {shortWhy}; `gpuconv devices` tells more)";
    }

    /// <summary>Prints the table and the summary line; the exit code says whether every layer matched.</summary>
    public static int Print(CliIO io, IAnsiConsole console, string source, IReadOnlyList<DemoLayer> layers)
    {
        var inv = CultureInfo.InvariantCulture;
        var table = new Table().AddColumns("layer", "shape", "backend", "cold ms", "warm ms", "GFLOP/s", "check", "max rel err", "verdict");
        foreach (var l in layers)
            table.AddPlainRow(l.Name, ShapeRow.Describe(l.Problem), l.Algorithm, l.ColdMilliseconds.ToString("F2", inv), l.Milliseconds.ToString("F2", inv),
                l.GflopsPerSecond.ToString("F2", inv), l.Method, l.Error.MaxRelative.ToString("E2", inv), l.Passed ? "ok" : "MISMATCH");
        console.Write(table);

        double ms = layers.Sum(l => l.Milliseconds), cold = layers.Sum(l => double.IsNaN(l.ColdMilliseconds) ? 0 : l.ColdMilliseconds);
        double flops = layers.Sum(l => l.Problem.Flops);
        int bad = layers.Count(l => !l.Passed);
        double worst = layers.Count == 0 ? 0 : layers.Max(l => l.Error.MaxRelative);
        string backends = string.Join(", ", layers.Select(l => l.Backend).Distinct());
        string verdict = bad == 0
            ? string.Create(inv, $"all layers match the float64 reference (tolerance {OutputCheck.StrictTolerance:E0})")
            : $"{bad} MISMATCH(ES)";
        io.Out.WriteLine(string.Create(inv,
            $"demo: {source}, {layers.Count} layers, batch {layers.FirstOrDefault()?.Problem.N ?? 0}, on {backends}: {flops / 1e9:F2} GFLOP in {ms:F1} ms warm ({flops / Math.Max(ms, 1e-9) / 1e6:F2} GFLOP/s; first calls {cold:F1} ms); worst max relative error {worst:E2}; {verdict}"));
        return bad == 0 ? ExitCodes.Ok : ExitCodes.Mismatch;
    }
}
