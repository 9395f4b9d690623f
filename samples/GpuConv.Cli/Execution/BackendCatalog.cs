using GpuConv.Backends;

namespace GpuConv.Cli.Execution;

/// <summary>
/// THE seam between the CLI and the library's backends: every command opens its backends here.
/// Today only the float64 <see cref="ReferenceBackend"/> exists; when the planner and ConvEngine land,
/// this is the one place to switch (the commands only see <see cref="BackendSet"/> and <see cref="ConvRunner"/>).
/// </summary>
public static class BackendCatalog
{
    /// <summary>Names of the backends this build can open, best first.</summary>
    public static IReadOnlyList<string> AvailableNames => [ReferenceBackend.BackendName];

    /// <summary>
    /// Opens every available backend (<paramref name="name"/> null) or just the one named; an unknown or
    /// unavailable name is bad input (ArgumentException naming --backend and what is available).
    /// </summary>
    public static BackendSet Open(string? name)
    {
        var all = CreateAll();
        if (name is null) return new BackendSet(all);
        var chosen = all.FirstOrDefault(b => string.Equals(b.Name, name, StringComparison.OrdinalIgnoreCase));
        foreach (var b in all)
            if (!ReferenceEquals(b, chosen)) b.Dispose();
        if (chosen is null)
            throw new ArgumentException($"--backend: '{name}' is not available in this build; available: {string.Join(", ", AvailableNames)}.", "--backend");
        return new BackendSet([chosen]);
    }

    static List<IConvBackend> CreateAll() => [new ReferenceBackend()];
}
