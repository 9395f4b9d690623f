using System.Globalization;
using GpuConv.Cli.Execution;
using GpuConv.Planning;

namespace GpuConv.Cli;

/// <summary>
/// <c>gpuconv run --manifest FILE</c>: every case of a manifest (see <see cref="RunManifest"/>) in one
/// process, so a GPU host pays for runtime start, context creation and library loading once. The
/// backends are opened once; each case is read, validated and run on its own, so a bad case prints its
/// error and the next one runs. One output line per case, written as it finishes, then a summary line.
/// </summary>
public static class ManifestJob
{
    /// <summary>Exit status: 2 if any case was bad input, else 3 if any failed unexpectedly, else 0.</summary>
    public static int Execute(string manifestPath, string? backend, string? planCache, PlanPolicy policy, CliIO io)
    {
        ArgumentNullException.ThrowIfNull(io);
        var cases = RunManifest.Read(manifestPath, backend, planCache, policy);
        using var backends = CliBackends.Open(backend, planCache, policy);
        int ran = 0, bad = 0, failed = 0;
        // Outputs written and not read since (full path -> case): a later case naming one as its out would silently
        // replace an earlier result nobody used. A case that reads it (a chain, in place or not) consumes it.
        var written = new Dictionary<string, (int Index, int Line)>(StringComparer.Ordinal);
        foreach (var c in cases)
        {
            string result;
            if (c.Request is null)
            {
                bad++;
                result = $"error: line {c.Line}: {c.Error}";
            }
            else if (written.TryGetValue(Path.GetFullPath(c.Request.OutPath), out var earlier) && !InputsOf(c.Request).Contains(Path.GetFullPath(c.Request.OutPath)))
            {
                bad++;
                result = $"error: line {c.Line}: out: '{c.Request.OutPath}' was already written by case {earlier.Index} (line {earlier.Line}); give each case its own out.";
            }
            else
            {
                try
                {
                    var report = RunJob.Execute(c.Request, backends);
                    var o = report.Outcome;
                    ran++;
                    foreach (var input in InputsOf(c.Request)) written.Remove(input);
                    written[Path.GetFullPath(c.Request.OutPath)] = (c.Index, c.Line);
                    result = string.Create(CultureInfo.InvariantCulture, $"{o.Algorithm.Key} {o.Output.Shape} {o.Milliseconds:F3} ms -> {c.Request.OutPath}");
                }
                catch (Exception e) when (CliErrors.IsBadInput(e))
                {
                    bad++;
                    result = $"error: line {c.Line}: {RunManifest.InKeyTerms(CliErrors.MessageOf(e))}";
                }
                catch (Exception e)
                {
                    failed++;
                    result = $"error: line {c.Line}: unexpected {e.GetType().Name}: {CliErrors.MessageOf(e)}";
                }
            }
            io.Out.WriteLine($"case {c.Index}: {result}");
            io.Out.Flush();
        }
        io.Out.WriteLine($"manifest: {cases.Count} cases, {ran} ran, {bad} bad input, {failed} failed unexpectedly");
        return bad > 0 ? ExitCodes.BadInput : failed > 0 ? ExitCodes.Failure : ExitCodes.Ok;
    }

    static string[] InputsOf(RunRequest r) =>
        [.. new[] { r.XPath, r.WPath, r.BiasPath }.OfType<string>().Select(Path.GetFullPath)];
}
