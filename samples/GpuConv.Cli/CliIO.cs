using Spectre.Console;

namespace GpuConv.Cli;

/// <summary>Where commands write: the process's console, or writers a test captures.</summary>
public sealed class CliIO(TextWriter output, TextWriter error)
{
    public TextWriter Out { get; } = output;
    public TextWriter Err { get; } = error;

    public static CliIO FromConsole() => new(Console.Out, Console.Error);

    /// <summary>True when <see cref="Err"/> is a terminal (progress lines go there only then).</summary>
    public bool ErrIsTerminal => ReferenceEquals(Err, Console.Error) && !Console.IsErrorRedirected;

    bool IsInteractiveConsole => ReferenceEquals(Out, Console.Out) && !Console.IsOutputRedirected;

    /// <summary>A Spectre console over <see cref="Out"/>: colours on a terminal, plain and wide otherwise.</summary>
    public IAnsiConsole CreateConsole()
    {
        bool terminal = IsInteractiveConsole;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Out),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal) console.Profile.Width = 200;
        return console;
    }
}
