namespace GpuConv.Tests.Support;

/// <summary>
/// Finds the project's shared public data (conformance cases, shape sets): $GPUCONV_SHARED, else
/// ../shared next to the repository root (the folder holding GpuConv.sln, found by walking up from
/// the test assembly).
/// </summary>
public static class SharedData
{
    public const string EnvironmentVariable = "GPUCONV_SHARED";

    /// <summary>The folder <paramref name="relative"/> under the shared data, or null; <paramref name="lookedIn"/> lists the candidates.</summary>
    public static string? Find(string relative, out string lookedIn)
    {
        var candidates = new List<string>();
        var fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnv)) candidates.Add(Path.Combine(fromEnv, relative));
        var root = RepositoryRoot();
        if (root is not null) candidates.Add(Path.GetFullPath(Path.Combine(root, "..", "shared", relative)));
        lookedIn = candidates.Count == 0
            ? $"${EnvironmentVariable} unset and no GpuConv.sln above {AppContext.BaseDirectory}"
            : string.Join(", ", candidates);
        return candidates.FirstOrDefault(Directory.Exists);
    }

    public static string? RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GpuConv.sln")))
                return dir.FullName;
        return null;
    }
}
