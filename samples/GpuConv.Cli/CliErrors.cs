namespace GpuConv.Cli;

/// <summary>Turns exceptions into the one-line messages the CLI prints (never a stack trace).</summary>
public static class CliErrors
{
    /// <summary>The message without .NET's " (Parameter 'x')" suffix (our messages already name the field).</summary>
    public static string MessageOf(Exception e)
    {
        string message = e.Message;
        if (e is ArgumentException { ParamName: { } param })
            message = message.Replace($" (Parameter '{param}')", "", StringComparison.Ordinal);
        return message.ReplaceLineEndings(" ");
    }

    /// <summary>True for exceptions caused by what the user gave us (exit code 2).</summary>
    public static bool IsBadInput(Exception e) => e is ArgumentException or InvalidDataException
        or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException;
}
