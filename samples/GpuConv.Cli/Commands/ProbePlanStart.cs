using System.Diagnostics;
using GpuConv.Planning;
using GpuConv.Tensors;
using static System.FormattableString;

namespace GpuConv.Cli.Commands;

/// <summary>
/// probe's plan-start section: how much sooner a start with a warm plan cache gives its first results than
/// one that searches exhaustively. Cold: a fresh engine with the exhaustive policy (which times every
/// candidate and never reads the cache) plans and runs each layer of the set once; its plans are saved to the
/// cache file. Warm: a NEW engine, as a new process would open it, with the cached policy reads that file and
/// does the same. Each is timed from its first plan to its last layer's result (device synchronised);
/// opening the engine and making the inputs are not timed. Planning and running are summed separately so a
/// reader sees where the time went. The cache file is a temporary one (deleted after) unless --plan-cache names one.
/// </summary>
internal static class ProbePlanStart
{
    /// <summary>Times of one start: planning and first runs, summed over the layers (ms).</summary>
    sealed record Start(double OpenMs, double PlanningMs, double RunMs, int FromCache, int Layers)
    {
        public double TotalMs => PlanningMs + RunMs;
    }

    public static void Run(ProbeSettings settings, CliIO io)
    {
        var rows = settings.Rows;
        bool temporary = settings.PlanCachePath is null;
        string path = settings.PlanCachePath
            ?? Path.Combine(Path.GetTempPath(), $"gpuconv-probe-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        io.Out.WriteLine($"== plan-start: {settings.Backend}, {settings.SetLabel} ({rows.Count} layers), plan cache {path}{(temporary ? " (temporary)" : "")}");
        // Inputs are made once, before any clock: both starts run the same data.
        // A transposed row's input is its underlying convolution's Y (its pass is backward data).
        var inputs = rows.Select((r, i) => (X: HostTensor.Random(r.Transposed ? r.Problem.YShape : r.Problem.XShape, seed: 2 * i + 1),
            W: HostTensor.Random(r.Problem.WShape, seed: 2 * i + 2))).ToList();
        try
        {
            var cold = StartOnce(settings.Backend, PlanPolicy.Exhaustive, path, rows, inputs, io, out int saved);
            io.Out.WriteLine(Invariant(
                $"cold (exhaustive search; the cache is not read): planning {cold.PlanningMs:F1} ms + first runs {cold.RunMs:F1} ms = {cold.TotalMs:F1} ms; engine opened in {cold.OpenMs:F1} ms (not counted); plan cache saved with {saved} entries (one per distinct problem)"));
            var warm = StartOnce(settings.Backend, PlanPolicy.Cached, path, rows, inputs, io, out _);
            io.Out.WriteLine(Invariant(
                $"warm (new engine, cached policy): planning {warm.PlanningMs:F1} ms + first runs {warm.RunMs:F1} ms = {warm.TotalMs:F1} ms; engine opened in {warm.OpenMs:F1} ms (not counted; reads the cache file); {warm.FromCache} of {warm.Layers} plans from the cache"));
            if (warm.FromCache != warm.Layers)
                io.Out.WriteLine($"note: {warm.Layers - warm.FromCache} plan(s) were not found in the cache and were planned heuristically");
            io.Out.WriteLine(Invariant(
                $"plan-start: cold exhaustive {cold.TotalMs:F1} ms, warm plan cache {warm.TotalMs:F1} ms to the first result of {settings.SetLabel} ({rows.Count} layers), {cold.TotalMs / warm.TotalMs:F1}x (goal >= 50x)"));
        }
        finally
        {
            if (temporary)
                foreach (var file in new[] { path, path + ".lock" })
                    File.Delete(file); // no error when absent
        }
    }

    /// <summary>Opens an engine (not timed), uploads the inputs (not timed), then plans and runs every layer once.</summary>
    static Start StartOnce(string backend, PlanPolicy policy, string cachePath, IReadOnlyList<ShapeRow> rows,
        IReadOnlyList<(HostTensor X, HostTensor W)> inputs, CliIO io, out int savedEntries)
    {
        long opening = Stopwatch.GetTimestamp();
        using var engine = ProbeJob.OpenEngine(backend, policy, cachePath, io);
        double openMs = Stopwatch.GetElapsedTime(opening).TotalMilliseconds;
        var owned = new List<Tensor>();
        try
        {
            var resident = new List<(Tensor X, Tensor W, Tensor Y)>();
            for (int i = 0; i < rows.Count; i++)
            {
                var x = engine.Upload(inputs[i].X);
                owned.Add(x);
                var w = engine.Upload(inputs[i].W);
                owned.Add(w);
                var y = engine.Allocate(rows[i].Transposed ? rows[i].Problem.XShape : rows[i].Problem.YShape);
                owned.Add(y);
                resident.Add((x, w, y));
            }
            engine.Synchronize();

            double planningMs = 0, runMs = 0;
            int fromCache = 0;
            for (int i = 0; i < rows.Count; i++)
            {
                var problem = rows[i].Problem;
                long start = Stopwatch.GetTimestamp();
                var plan = engine.GetPlan(problem);
                planningMs += Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (plan.Source == PlanSource.Cache) fromCache++;
                start = Stopwatch.GetTimestamp();
                var (x, w, y) = resident[i];
                if (rows[i].Transposed) engine.BackwardData(problem.Spec, x, w, problem.XShape, output: y);
                else engine.Forward(problem.Spec, x, w, output: y);
                engine.Synchronize();
                runMs += Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            // What a process does when it ends (the engine's Dispose saves too): the warm start must find these plans.
            engine.Cache.Save();
            savedEntries = engine.Cache.Count;
            return new Start(openMs, planningMs, runMs, fromCache, rows.Count);
        }
        finally
        {
            foreach (IDisposable t in owned) t.Dispose();
        }
    }
}
