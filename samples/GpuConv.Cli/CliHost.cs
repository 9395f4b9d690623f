using System.CommandLine;

namespace GpuConv.Cli;

/// <summary>
/// Parses and invokes the command tree with the CLI's error contract: a parse error or bad input
/// prints one "error: …" line per problem and exits 2; an unexpected exception prints one line and
/// exits 3; never a stack trace.
/// </summary>
public static class CliHost
{
    /// <summary>
    /// The parser's multi-line messages (an enum option's "Must be one of:" list, "Did you mean…") on one
    /// line, as the error contract in docs/cli.md says: scripts read the first stderr line.
    /// </summary>
    static string OneLine(string message) =>
        System.Text.RegularExpressions.Regex.Replace(message.Trim(), @"[ \t]*\r?\n\s*", " ");

    public static int Invoke(Command root, string[] args, CliIO io)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
                io.Err.WriteLine($"error: {OneLine(error.Message)} (see 'gpuconv --help')");
            return ExitCodes.BadInput;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = io.Out, Error = io.Err, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (CliErrors.IsBadInput(e))
        {
            io.Err.WriteLine($"error: {CliErrors.MessageOf(e)}");
            return ExitCodes.BadInput;
        }
        catch (Exception e)
        {
            io.Err.WriteLine($"error: unexpected {e.GetType().Name}: {CliErrors.MessageOf(e)}");
            return ExitCodes.Failure;
        }
    }
}
