namespace GpuConv.Cuda.Discovery;

/// <summary>Expands folder patterns with '*' inside path segments (e.g. /usr/local/cuda-*/lib64); existing folders only.</summary>
internal static class PathGlob
{
    public static IReadOnlyList<string> Directories(string pattern)
    {
        if (!pattern.Contains('*'))
            return Directory.Exists(pattern) ? [pattern] : [];
        bool rooted = Path.IsPathRooted(pattern);
        var segments = pattern.Split('/', StringSplitOptions.RemoveEmptyEntries);
        IEnumerable<string> current = [rooted ? "/" : "."];
        foreach (var segment in segments)
        {
            var next = new List<string>();
            foreach (var dir in current)
            {
                if (!segment.Contains('*'))
                {
                    var p = Path.Join(dir, segment);
                    if (Directory.Exists(p)) next.Add(p);
                    continue;
                }
                try
                {
                    // Newest first: cuda-13.0 before cuda-12.6, python3.12 before python3.10.
                    next.AddRange(Directory.EnumerateDirectories(dir, segment).OrderByDescending(d => d, VersionAwareComparer.Instance));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
            current = next;
        }
        return current.ToList();
    }

    /// <summary>Orders "cuda-12.10" after "cuda-12.9" by comparing digit runs numerically.</summary>
    sealed class VersionAwareComparer : IComparer<string>
    {
        public static readonly VersionAwareComparer Instance = new();

        public int Compare(string? a, string? b)
        {
            a ??= ""; b ??= "";
            int i = 0, j = 0;
            while (i < a.Length && j < b.Length)
            {
                if (char.IsDigit(a[i]) && char.IsDigit(b[j]))
                {
                    int si = i, sj = j;
                    while (i < a.Length && char.IsDigit(a[i])) i++;
                    while (j < b.Length && char.IsDigit(b[j])) j++;
                    int c = long.Parse(a.AsSpan(si, Math.Min(i - si, 18))).CompareTo(long.Parse(b.AsSpan(sj, Math.Min(j - sj, 18))));
                    if (c != 0) return c;
                }
                else
                {
                    int c = a[i].CompareTo(b[j]);
                    if (c != 0) return c;
                    i++; j++;
                }
            }
            return (a.Length - i).CompareTo(b.Length - j);
        }
    }
}
