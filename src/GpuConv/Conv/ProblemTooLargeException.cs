namespace GpuConv.Conv;

/// <summary>
/// A problem whose tensors (see <see cref="ConvProblem.EstimatedBytes"/>) cannot fit the memory that
/// would run it: refused before anything is allocated. An <see cref="ArgumentException"/> because the
/// caller's sizes are the cause (the CLI exits 2 on it).
/// </summary>
public sealed class ProblemTooLargeException : ArgumentException
{
    /// <summary>The problem's tensors need about <paramref name="estimatedBytes"/> but <paramref name="where"/> (e.g. "the GPU") has <paramref name="availableBytes"/>.</summary>
    public ProblemTooLargeException(ConvProblem problem, long estimatedBytes, long availableBytes, string where)
        : base($"problem {problem} needs about {Gib(estimatedBytes)} GiB ({estimatedBytes} bytes) but {where} has {Gib(availableBytes)} GiB ({availableBytes} bytes) available.", "problem")
    {
        EstimatedBytes = estimatedBytes;
        AvailableBytes = availableBytes;
    }

    /// <summary>Bytes the problem's tensors need (estimate).</summary>
    public long EstimatedBytes { get; }
    /// <summary>Bytes available in the memory that would run it.</summary>
    public long AvailableBytes { get; }

    static string Gib(long bytes) => (bytes / (double)(1L << 30)).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
}
