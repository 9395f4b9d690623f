using System.Diagnostics;

namespace GpuConv.Planning;

/// <summary>
/// Plans remembered per <see cref="PlanKey"/>, in memory and (when a path is given) in a JSON file
/// that survives restarts and is shared by every process using the same path.
/// Writes are atomic (temp file in the same folder, then rename over) and merge with what other
/// processes wrote meanwhile (re-read under an exclusive lock file). The file holds at most
/// <see cref="MaxEntries"/> plans; the oldest are evicted. A corrupt, truncated or tampered file (or
/// entry) is ignored with a warning and rebuilt; a well-formed file of another format or version is
/// ignored and never written over. Writes are batched: <see cref="SaveIfDue"/> (what the planner calls
/// after each new plan) writes at most once per <see cref="SaveInterval"/>, <see cref="Save"/> writes now
/// (the engine calls it on dispose). A file that cannot be written (read-only folder, no permission)
/// fails at once, is reported once, and the plans stay in memory. Thread-safe.
/// </summary>
public sealed class PlanCache
{
    /// <summary>Environment variable naming the cache file when no path is configured.</summary>
    public const string PathEnvironmentVariable = "GPUCONV_PLAN_CACHE";
    /// <summary>Default most entries kept; the least recently saved are dropped beyond it.</summary>
    public const int DefaultMaxEntries = 4096;

    readonly object gate = new();
    readonly Dictionary<string, (string Canonical, CachedPlan Plan)> entries = new(StringComparer.Ordinal);
    // Entries dropped here (stale or failed); a save removes them from the file too, unless another
    // process wrote a newer one for that key since.
    readonly Dictionary<string, DateTime> removed = new(StringComparer.Ordinal);
    readonly Action<string> sink;
    // A damaged file would otherwise be reported again by every save's re-read until it is rewritten.
    readonly HashSet<string> warned = new(StringComparer.Ordinal);
    bool dirty;
    // Stopwatch timestamp of the last write attempt (0: none yet), for SaveIfDue's batching.
    long lastAttempt;
    // Set when the file must not or cannot be written (foreign version, read-only folder): SaveIfDue stops trying.
    bool writeStopped;
    // The last read found a well-formed file of another format or version.
    bool foreignFile;
    // A fallback plan (a candidate failed at run time) is written at the next SaveIfDue regardless of the
    // interval: a restart must not try the failing candidate again.
    bool urgent;

    /// <summary>
    /// Opens the cache. <paramref name="path"/> null keeps it in memory only. The file, if present, is
    /// read now; problems with it are reported to <paramref name="warn"/> (default: stderr).
    /// </summary>
    public PlanCache(string? path, int maxEntries = DefaultMaxEntries, Action<string>? warn = null, TimeSpan? lockTimeout = null, TimeSpan? saveInterval = null)
    {
        if (saveInterval is { } si && si < TimeSpan.Zero)
            throw new ArgumentException($"saveInterval must be >= 0, got {si}.", nameof(saveInterval));
        if (maxEntries < 1)
            throw new ArgumentException($"maxEntries must be >= 1, got {maxEntries}.", nameof(maxEntries));
        if (path is not null && string.IsNullOrWhiteSpace(path))
            throw new ArgumentException("path must be null (memory only) or a file path, got an empty string.", nameof(path));
        Path = path is null ? null : System.IO.Path.GetFullPath(path);
        MaxEntries = maxEntries;
        sink = warn ?? DefaultWarning;
        LockTimeout = lockTimeout ?? TimeSpan.FromSeconds(10);
        SaveInterval = saveInterval ?? DefaultSaveInterval;
        if (Path is not null)
            foreach (var e in ReadFile() ?? [])
                entries[e.Hash] = (e.Canonical, e.Plan);
        Trim(entries);
    }

    /// <summary>The cache file (absolute), or null for a memory-only cache.</summary>
    public string? Path { get; }
    /// <summary>Most entries kept in memory and in the file.</summary>
    public int MaxEntries { get; }
    /// <summary>How long a save waits for the file's lock before keeping plans in memory only (default 10 s).</summary>
    public TimeSpan LockTimeout { get; }
    /// <summary>Least time between two writes by <see cref="SaveIfDue"/>.</summary>
    public TimeSpan SaveInterval { get; }
    /// <summary>Default <see cref="SaveInterval"/>: 3 s.</summary>
    public static readonly TimeSpan DefaultSaveInterval = TimeSpan.FromSeconds(3);

    /// <summary>Entries held now.</summary>
    public int Count { get { lock (gate) return entries.Count; } }

    /// <summary>
    /// The configured path if given, else <c>$GPUCONV_PLAN_CACHE</c>, else
    /// <c>&lt;LocalApplicationData&gt;/gpuconv/plans.json</c> (null if the system has no such folder).
    /// </summary>
    public static string? ResolvePath(string? configured)
    {
        if (!string.IsNullOrWhiteSpace(configured)) return configured;
        if (Environment.GetEnvironmentVariable(PathEnvironmentVariable) is { Length: > 0 } fromEnv) return fromEnv;
        var root = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        return string.IsNullOrEmpty(root) ? null : System.IO.Path.Combine(root, "gpuconv", "plans.json");
    }

    void Warn(string message)
    {
        lock (warned)
            if (!warned.Add(message)) return;
        sink(message);
    }

    /// <summary>The default warning sink: writes "gpuconv: warning: …" to stderr.</summary>
    public static void DefaultWarning(string message) => Console.Error.WriteLine($"gpuconv: warning: {message}");

    /// <summary>The entry for <paramref name="key"/>, if one is held whose canonical key text matches exactly (not the hash alone).</summary>
    public bool TryGet(PlanKey key, out CachedPlan plan)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (gate)
        {
            // The canonical text is compared too: a hash match alone is not trusted.
            if (entries.TryGetValue(key.Hash, out var e) && e.Canonical == key.Canonical)
            {
                plan = e.Plan;
                return true;
            }
        }
        plan = null!;
        return false;
    }

    /// <summary>Remembers <paramref name="plan"/> for <paramref name="key"/> (in memory; <see cref="Save"/> persists).</summary>
    public void Put(PlanKey key, Plan plan) => Put(key, plan, candidates: null);

    /// <summary>
    /// Remembers <paramref name="plan"/> for <paramref name="key"/>, chosen among <paramref name="candidates"/>
    /// (the offered algorithms, as the planner lists them; see <see cref="CachedPlan.Candidates"/>).
    /// </summary>
    public void Put(PlanKey key, Plan plan, string? candidates)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(plan);
        lock (gate)
        {
            entries[key.Hash] = (key.Canonical, CachedPlan.From(plan, DateTime.UtcNow, candidates));
            removed.Remove(key.Hash);
            Trim(entries);
            dirty = true;
            urgent |= plan.Source == PlanSource.Fallback;
        }
    }

    /// <summary>Forgets the plan for <paramref name="key"/> here and, at the next save, in the file.</summary>
    public void Remove(PlanKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (gate)
        {
            if (entries.Remove(key.Hash))
            {
                removed[key.Hash] = DateTime.UtcNow;
                dirty = true;
            }
        }
    }

    /// <summary>
    /// Writes the cache file if anything changed: takes the lock file, re-reads the file, merges (newest
    /// entry per key wins; keys removed here stay removed unless rewritten since), caps, writes a temp
    /// file and renames it over the old one. Never throws for I/O trouble: it warns and keeps the plans
    /// in memory. Returns true if the file was written.
    /// </summary>
    public bool Save()
    {
        if (Path is null) return false;
        lock (gate)
        {
            if (!dirty) return false;
            lastAttempt = Stopwatch.GetTimestamp();
            try
            {
                var dir = System.IO.Path.GetDirectoryName(Path)!;
                Directory.CreateDirectory(dir);
                using var fileLock = AcquireLock();
                if (fileLock is null)
                {
                    Warn($"plan cache {Path}: could not take the lock file within {LockTimeout.TotalSeconds:0.#} s (another process holds it); plans kept in memory only.");
                    return false;
                }
                var onDisk = ReadFile();
                if (foreignFile)
                {
                    // Warned by ReadFile; a newer build's plans are worth more than ours.
                    writeStopped = true;
                    return false;
                }
                var merged = new Dictionary<string, (string Canonical, CachedPlan Plan)>(StringComparer.Ordinal);
                foreach (var e in onDisk ?? [])
                    if (!(removed.TryGetValue(e.Hash, out var at) && e.Plan.SavedUtc <= at))
                        merged[e.Hash] = (e.Canonical, e.Plan);
                foreach (var (hash, mine) in entries)
                    if (!merged.TryGetValue(hash, out var theirs) || mine.Plan.SavedUtc >= theirs.Plan.SavedUtc)
                        merged[hash] = mine;
                Trim(merged);

                var temp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(Path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
                try
                {
                    File.WriteAllBytes(temp, PlanCacheFile.Serialize(merged.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => new PlanCacheFile.Entry(kv.Key, kv.Value.Canonical, kv.Value.Plan))));
                    File.Move(temp, Path, overwrite: true);
                }
                finally
                {
                    if (File.Exists(temp)) File.Delete(temp);
                }

                entries.Clear();
                foreach (var kv in merged) entries[kv.Key] = kv.Value;
                removed.Clear();
                dirty = false;
                urgent = false;
                writeStopped = false;
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                writeStopped = true;
                Warn($"plan cache {Path}: could not be written ({e.Message}); plans kept in memory only.");
                return false;
            }
        }
    }

    /// <summary>
    /// <see cref="Save"/> if something changed and the last write attempt is at least <see cref="SaveInterval"/>
    /// old (the first one, and a fallback plan, write at once); nothing once the file proved unwritable or foreign (an explicit
    /// <see cref="Save"/> still tries). Keeps many new plans from rewriting the whole file each.
    /// </summary>
    public bool SaveIfDue()
    {
        if (Path is null) return false;
        lock (gate)
        {
            if (!dirty || writeStopped) return false;
            if (lastAttempt != 0 && !urgent && Stopwatch.GetElapsedTime(lastAttempt) < SaveInterval) return false;
            return Save();
        }
    }

    /// <summary>Reads and validates the file; null if absent or unusable (a warning says why).</summary>
    List<PlanCacheFile.Entry>? ReadFile()
    {
        byte[] bytes;
        foreignFile = false;
        try
        {
            if (!File.Exists(Path)) return null;
            bytes = File.ReadAllBytes(Path!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Warn($"plan cache {Path} could not be read ({e.Message}); starting empty.");
            return null;
        }
        var result = PlanCacheFile.Parse(bytes, Path!, Warn, out bool foreign);
        foreignFile = foreign;
        return result;
    }

    /// <summary>
    /// An exclusive lock shared by every process using this cache file. FileShare.None is enforced
    /// between processes (on Unix .NET takes an flock), and the lock dies with its holder.
    /// </summary>
    FileStream? AcquireLock()
    {
        var lockPath = Path + ".lock";
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (IsContention(e) && clock.Elapsed < LockTimeout)
            {
                Thread.Sleep(Random.Shared.Next(2, 20));
            }
            catch (IOException e) when (IsContention(e))
            {
                return null;
            }
            // Anything else (read-only file system, missing folder, disk full) is no reason to wait: Save reports it.
        }
    }

    /// <summary>
    /// True when the lock file is held by another process: EWOULDBLOCK from flock (11 on Linux, 35 on
    /// macOS/BSD, which .NET reports as the HResult) or Windows' sharing/lock violation.
    /// </summary>
    static bool IsContention(IOException e) =>
        e.GetType() == typeof(IOException) && (e.HResult == WouldBlock || e.HResult is unchecked((int)0x80070020) or unchecked((int)0x80070021));

    static readonly int WouldBlock = OperatingSystem.IsLinux() ? 11 : 35;

    /// <summary>Evicts the oldest entries beyond <see cref="MaxEntries"/>.</summary>
    void Trim(Dictionary<string, (string Canonical, CachedPlan Plan)> map)
    {
        if (map.Count <= MaxEntries) return;
        foreach (var hash in map.OrderBy(kv => kv.Value.Plan.SavedUtc).ThenBy(kv => kv.Key, StringComparer.Ordinal)
                     .Take(map.Count - MaxEntries).Select(kv => kv.Key).ToList())
            map.Remove(hash);
    }
}
