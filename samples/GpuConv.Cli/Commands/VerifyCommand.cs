using System.CommandLine;
using System.Globalization;
using GpuConv.Cli.Execution;
using Spectre.Console;

namespace GpuConv.Cli.Commands;

/// <summary><c>gpuconv verify</c>: every backend against the float64 reference.</summary>
public static class VerifyCommand
{
    public static Command Create(CliIO io)
    {
        var shapes = new Option<string?>("--shapes") { Description = $"also verify a shape set: a CSV file or one of {string.Join(", ", ShapeSet.BuiltInNames)}" };
        var backend = new Option<string?>("--backend") { Description = "verify only this backend (default: every available one)" };
        var maxBatch = new Option<int>("--max-batch") { Description = "cap on the batch size of --shapes rows", DefaultValueFactory = _ => 2 };
        var skipBuiltIn = new Option<bool>("--shapes-only") { Description = "skip the built-in small problems" };
        var command = new Command("verify",
            $"Run every available backend on built-in small problems (1-d/2-d/3-d, groups, depthwise, stride, dilation, asymmetric pads, transposed; all three ops) " +
            $"and on --shapes, and compare each with the float64 reference. Fails if any max relative error exceeds {OutputCheck.StrictTolerance:0e0} (strict fp32).")
        {
            shapes, backend, maxBatch, skipBuiltIn,
        };
        command.SetAction(parse =>
        {
            // Checked whether or not --shapes is given: a bad option is refused, never silently ignored.
            if (parse.GetValue(maxBatch) is var cap and < 1)
                throw new ArgumentException($"--max-batch: must be >= 1, got {cap}.", "--max-batch");
            var cases = new List<VerifyCase>();
            if (!parse.GetValue(skipBuiltIn)) cases.AddRange(VerifyCases.BuiltIn());
            if (parse.GetValue(shapes) is { } source) cases.AddRange(VerifyCases.FromShapes(ShapeSet.Load(source), parse.GetValue(maxBatch)));
            if (cases.Count == 0)
                throw new ArgumentException("--shapes-only: nothing to verify without --shapes.", "--shapes-only");
            using var backends = CliBackends.Open(parse.GetValue(backend));
            return Print(io, VerifyJob.Run(backends, cases));
        });
        return command;
    }

    /// <summary>Prints one row per result and the summary; the exit code says whether all passed.</summary>
    public static int Print(CliIO io, IEnumerable<VerifyResult> results)
    {
        var table = new Table().AddColumns("case", "op", "problem", "backend", "algorithm", "check", "max rel err", "verdict");
        int passed = 0, failed = 0, skipped = 0;
        double worst = 0;
        foreach (var r in results)
        {
            string verdict;
            if (r.Skipped is not null) { skipped++; verdict = $"skipped: {r.Skipped}"; }
            else if (r.Passed) { passed++; verdict = "ok"; }
            else { failed++; verdict = r.Failure is null ? "MISMATCH" : $"FAILED: {r.Failure}"; }
            if (r.Error is { } e) worst = Math.Max(worst, e.MaxRelative);
            table.AddPlainRow(r.Case.Name, r.Case.Problem.Op.ToString(), ShapeRow.Describe(r.Case.Problem), r.Backend, r.Algorithm ?? "-", r.Method,
                r.Error is { } err ? err.MaxRelative.ToString("E2", CultureInfo.InvariantCulture) : "-", verdict);
        }
        io.CreateConsole().Write(table);
        io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"verify: {passed} passed, {failed} failed, {skipped} skipped; worst max relative error {worst:E2} (tolerance {OutputCheck.StrictTolerance:E0}, strict fp32)"));
        return failed == 0 ? ExitCodes.Ok : ExitCodes.Mismatch;
    }
}
