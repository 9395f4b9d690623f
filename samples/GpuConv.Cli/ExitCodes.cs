namespace GpuConv.Cli;

/// <summary>What the process exit status means (scripts and the GPU checker read it).</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>A result did not match the float64 reference within tolerance.</summary>
    public const int Mismatch = 1;
    /// <summary>Bad input: unknown option, malformed value, unreadable or inconsistent file.</summary>
    public const int BadInput = 2;
    /// <summary>Anything unexpected (a bug or a failing backend).</summary>
    public const int Failure = 3;
}
