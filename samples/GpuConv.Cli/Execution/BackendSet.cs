using GpuConv.Backends;
using GpuConv.Conv;

namespace GpuConv.Cli.Execution;

/// <summary>The backends a command may use; owns and disposes them.</summary>
public sealed class BackendSet(IReadOnlyList<IConvBackend> backends) : IDisposable
{
    /// <summary>In preference order (lowest <see cref="IConvBackend.Priority"/> first).</summary>
    public IReadOnlyList<IConvBackend> All { get; } = [.. backends.OrderBy(b => b.Priority)];

    /// <summary>The preferred backend that supports the problem; if none does, every reason.</summary>
    public IConvBackend Choose(ConvProblem problem)
    {
        foreach (var b in All)
            if (b.WhyUnsupported(problem) is null) return b;
        string reasons = string.Join("; ", All.Select(b => $"{b.Name}: {b.WhyUnsupported(problem)}"));
        throw new ArgumentException($"no available backend supports {problem} ({reasons}).", "--backend");
    }

    public void Dispose()
    {
        foreach (var b in All) b.Dispose();
    }
}
