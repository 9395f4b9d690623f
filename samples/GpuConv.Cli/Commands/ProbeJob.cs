using System.Diagnostics;
using GpuConv.Planning;

namespace GpuConv.Cli.Commands;

/// <summary>
/// <c>gpuconv probe</c>: runs the three sections (overhead, bandwidth, plan-start) on one backend, each
/// printing its details and then its summary line. A section that fails prints one "error:" line and
/// the others still run, so one GPU run yields every number it can; the exit status is then 3 (1 when
/// a probed result disagreed with the reference). An unavailable backend stops before any section
/// (ArgumentException naming --backend: one line, exit 2).
/// </summary>
public static class ProbeJob
{
    /// <summary>Strict fp32, max relative error against the float64 reference: the project's tolerance.</summary>
    public const double Tolerance = 1e-4;

    /// <summary>Runs the three sections with <paramref name="settings"/>, writing to <paramref name="io"/>; returns the exit status.</summary>
    public static int Execute(ProbeSettings settings, CliIO io)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(io);
        var clock = Stopwatch.StartNew();
        bool failed = false, mismatch = false;

        // The overhead and bandwidth sections share one engine; plan-start opens its own two.
        using (var engine = OpenEngine(settings.Backend, PlanPolicy.Exhaustive, planCachePath: null, io))
        {
            io.Out.WriteLine($"probe: backend {settings.Backend} on {engine.Device}" +
                (settings.Backend == "cpu" ? " (cpu stand-in for the GPU backends)" : ""));
            if (engine.GpuUnavailableReason is null) // the libraries the timings come from, and why those copies (GpuStatus.Describe)
                foreach (var line in GpuConv.Cuda.Discovery.CudaDiscovery.Probe().Describe().Split('\n').Where(l => l.StartsWith("cuBLAS", StringComparison.Ordinal) || l.StartsWith("cuDNN", StringComparison.Ordinal)))
                    io.Out.WriteLine($"probe: {line.TrimEnd()}");
            Section("overhead", () => mismatch |= !ProbeOverhead.Run(engine, settings, io));
            Section("bandwidth", () => mismatch |= !ProbeBandwidth.Run(engine, settings, io));
        }
        Section("plan-start", () => ProbePlanStart.Run(settings, io));
        io.Out.WriteLine(FormattableString.Invariant($"probe: done in {clock.Elapsed.TotalSeconds:F1} s"));
        return failed ? ExitCodes.Failure : mismatch ? ExitCodes.Mismatch : ExitCodes.Ok;

        void Section(string name, Action run)
        {
            io.Out.WriteLine();
            try
            {
                run();
            }
            catch (Exception e)
            {
                failed = true;
                io.Out.WriteLine($"error: {name} section failed: {e.GetType().Name}: {CliErrors.MessageOf(e)}");
            }
            io.Out.Flush();
        }
    }

    /// <summary>
    /// An engine on <paramref name="backend"/> alone: the CPU engine for cpu (no GPU discovery), the GPU one
    /// otherwise. Without <paramref name="planCachePath"/> nothing is read from or written to a plan-cache
    /// file (the user's cache is never touched). An unavailable backend is an ArgumentException naming --backend.
    /// </summary>
    internal static ConvEngine OpenEngine(string backend, PlanPolicy policy, string? planCachePath, CliIO io)
    {
        var options = new ConvEngineOptions
        {
            Device = backend == "cpu" ? DeviceKind.Cpu : DeviceKind.Auto,
            Backend = backend,
            Policy = policy,
            PlanCachePath = planCachePath,
            PersistPlans = planCachePath is not null,
            Warning = message => io.Err.WriteLine($"warning: {message}"),
        };
        try
        {
            return ConvEngine.Open(options);
        }
        catch (ArgumentException e) when (e.ParamName == nameof(ConvEngineOptions.Backend))
        {
            throw new ArgumentException($"--backend: {CliErrors.MessageOf(e)}", "--backend", e);
        }
    }
}
