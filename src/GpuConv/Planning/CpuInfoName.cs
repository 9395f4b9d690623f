namespace GpuConv.Planning;

/// <summary>
/// The processor's name from the lines of Linux's /proc/cpuinfo, for <see cref="DeviceIdentity.ForCpu"/>. x86 kernels
/// write a "model name" line; ARM64 kernels write none, only the core's "CPU implementer" and "CPU part" codes, which
/// then name it (without them every ARM64 machine would share one plan-cache identity).
/// </summary>
internal static class CpuInfoName
{
    /// <summary>The name, or null when the lines have neither a model name nor an implementer and part.</summary>
    public static string? From(IEnumerable<string> lines)
    {
        string? implementer = null, part = null;
        foreach (var line in lines)
        {
            if (Value(line, "model name") is { } model) return model;
            implementer ??= Value(line, "CPU implementer");
            part ??= Value(line, "CPU part");
        }
        return implementer is not null && part is not null ? $"arm64 implementer {implementer} part {part}" : null;
    }

    /// <summary>The text after the colon of a "key : value" line whose key is <paramref name="key"/>, else null.</summary>
    static string? Value(string line, string key)
    {
        if (!line.StartsWith(key, StringComparison.Ordinal) || line.IndexOf(':') is not (int i and >= 0)) return null;
        return line[key.Length..i].Trim().Length == 0 ? line[(i + 1)..].Trim() : null;
    }
}
