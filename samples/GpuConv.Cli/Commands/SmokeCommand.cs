using System.CommandLine;

namespace GpuConv.Cli.Commands;

/// <summary><c>gpuconv smoke</c>: small convolutions on each named backend, every op and algorithm, against the reference.</summary>
public static class SmokeCommand
{
    public static Command Create(CliIO io)
    {
        var backends = new Option<string>("--backends")
        {
            Description = "comma-separated backends to try (an unavailable one is reported and fails the run)",
            DefaultValueFactory = _ => "cudnn,ptx",
        };
        var command = new Command("smoke", "First check on a new machine: small convolutions per backend, op and algorithm against the float64 reference (PASS/FAIL per run; GPUCONV_TRACE=1 logs native calls).")
        {
            backends,
        };
        command.SetAction(parse =>
        {
            var names = parse.GetValue(backends)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (names.Length == 0) throw new ArgumentException("--backends: expected at least one backend name.", "--backends");
            // A misspelt name is bad input (exit 2), not a backend this machine lacks (exit 1, "not available").
            foreach (var name in names)
                if (!Execution.CliBackends.KnownNames.Contains(name, StringComparer.OrdinalIgnoreCase))
                    throw new ArgumentException($"--backends: '{name}' is not a backend; known: {string.Join(", ", Execution.CliBackends.KnownNames)}.", "--backends");
            return SmokeJob.Execute(names, io);
        });
        return command;
    }
}
