using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using GpuConv.Backends;

namespace GpuConv.Planning;

/// <summary>
/// The on-disk form of the plan cache and its validation. Every entry carries a SHA-256 checksum of
/// its own fields and its key hash must match its canonical key, so a hand-edited, truncated or
/// foreign file is detected; what does not validate is dropped with a warning, never used.
/// (The checksum catches corruption and casual edits, not a determined attacker: the planner still
/// only ever picks among the candidates the current backends offer.)
/// </summary>
internal static class PlanCacheFile
{
    public const string FormatName = "gpuconv-plan-cache";
    public const int FormatVersion = 1;

    internal sealed class FileDto
    {
        [JsonPropertyName("format")] public string? Format { get; set; }
        [JsonPropertyName("version")] public int Version { get; set; }
        [JsonPropertyName("entries")] public List<EntryDto>? Entries { get; set; }
    }

    internal sealed class EntryDto
    {
        [JsonPropertyName("hash")] public string? Hash { get; set; }
        [JsonPropertyName("key")] public string? Key { get; set; }
        [JsonPropertyName("backend")] public string? Backend { get; set; }
        [JsonPropertyName("algorithm")] public string? Algorithm { get; set; }
        [JsonPropertyName("algorithmId")] public int AlgorithmId { get; set; }
        [JsonPropertyName("math")] public string? Math { get; set; }
        [JsonPropertyName("workspaceBytes")] public long WorkspaceBytes { get; set; }
        [JsonPropertyName("timeMs")] public double? TimeMs { get; set; }
        [JsonPropertyName("source")] public string? Source { get; set; }
        [JsonPropertyName("why")] public string? Why { get; set; }
        [JsonPropertyName("savedUtc")] public DateTime SavedUtc { get; set; }
        [JsonPropertyName("candidates")] public string? Candidates { get; set; }
        [JsonPropertyName("checksum")] public string? Checksum { get; set; }
    }

    /// <summary>An entry read back: its canonical key and the plan it names.</summary>
    internal readonly record struct Entry(string Hash, string Canonical, CachedPlan Plan);

    public static EntryDto ToDto(string hash, string canonical, CachedPlan p)
    {
        var dto = new EntryDto
        {
            Hash = hash, Key = canonical, Backend = p.Backend, Algorithm = p.Algorithm, AlgorithmId = p.AlgorithmId,
            Math = p.Math.ToString(), WorkspaceBytes = p.WorkspaceBytes, TimeMs = p.TimeMs, Source = p.Source.ToString(),
            Why = p.Why, SavedUtc = p.SavedUtc, Candidates = p.Candidates,
        };
        dto.Checksum = Checksum(dto);
        return dto;
    }

    public static byte[] Serialize(IEnumerable<Entry> entries)
    {
        var file = new FileDto
        {
            Format = FormatName,
            Version = FormatVersion,
            Entries = entries.Select(e => ToDto(e.Hash, e.Canonical, e.Plan)).ToList(),
        };
        return JsonSerializer.SerializeToUtf8Bytes(file, PlanCacheJsonContext.Default.FileDto);
    }

    /// <summary>
    /// Parses file bytes. Returns null (with a warning) when the whole file is unusable; otherwise the
    /// entries that validate, warning once about those that do not. The overload with <c>foreign</c> sets it for
    /// a well-formed file of another format or version: someone else's data, never to be written over.
    /// </summary>
    public static List<Entry>? Parse(ReadOnlySpan<byte> bytes, string path, Action<string> warn) => Parse(bytes, path, warn, out _);

    /// <inheritdoc cref="Parse(ReadOnlySpan{byte}, string, Action{string})"/>
    public static List<Entry>? Parse(ReadOnlySpan<byte> bytes, string path, Action<string> warn, out bool foreign)
    {
        foreign = false;
        FileDto? file;
        try
        {
            file = JsonSerializer.Deserialize(bytes, PlanCacheJsonContext.Default.FileDto);
        }
        catch (JsonException e)
        {
            // Only a file that is recognisably ours (the format marker is written first) or empty is rebuilt:
            // anything else may be the user's own file given as the cache path (a .npy, notes) and is never written over.
            if (!LooksLikeOurs(bytes))
            {
                foreign = true;
                warn($"plan cache {path} is not a GpuConv plan cache (not JSON of format '{FormatName}': {e.Message}); ignoring it and leaving it as it is: plans kept in memory only.");
                return null;
            }
            warn($"plan cache {path} is corrupt or truncated ({e.Message}); ignoring it, it will be rebuilt.");
            return null;
        }
        if (file is null)
        {
            warn($"plan cache {path} is corrupt (JSON null); ignoring it, it will be rebuilt.");
            return null;
        }
        if (file.Format != FormatName)
        {
            foreign = true;
            warn($"plan cache {path} is not a GpuConv plan cache (format '{file.Format}'); ignoring it and leaving it as it is: plans kept in memory only.");
            return null;
        }
        if (file.Version != FormatVersion)
        {
            foreign = true;
            warn($"plan cache {path} has format version {file.Version}, this build reads and writes {FormatVersion}; ignoring it and leaving it as it is (a newer build owns it): plans kept in memory only.");
            return null;
        }
        var result = new List<Entry>();
        int dropped = 0;
        string? firstProblem = null;
        foreach (var dto in file.Entries ?? [])
        {
            if (TryValidate(dto, out var entry, out var problem)) result.Add(entry);
            else { dropped++; firstProblem ??= problem; }
        }
        if (dropped > 0)
            warn($"plan cache {path}: discarded {dropped} invalid or tampered entr{(dropped == 1 ? "y" : "ies")} (first: {firstProblem}).");
        return result;
    }

    /// <summary>An empty (or blank) file, or one that names this format: a damaged cache of ours, safe to rebuild.</summary>
    static bool LooksLikeOurs(ReadOnlySpan<byte> bytes) =>
        bytes.Trim(" \t\r\n"u8).IsEmpty || bytes.IndexOf(FormatMarker) >= 0;

    static readonly byte[] FormatMarker = Encoding.UTF8.GetBytes("\"" + FormatName + "\"");

    static bool TryValidate(EntryDto? dto, out Entry entry, out string problem)
    {
        entry = default;
        if (dto is null || dto.Hash is null || dto.Key is null || dto.Backend is null || dto.Algorithm is null ||
            dto.Math is null || dto.Source is null || dto.Why is null || dto.Checksum is null)
        { problem = "missing field"; return false; }
        if (!string.Equals(dto.Checksum, Checksum(dto), StringComparison.Ordinal))
        { problem = $"checksum mismatch for {dto.Backend}/{dto.Algorithm}"; return false; }
        if (!string.Equals(dto.Hash, HashOf(dto.Key), StringComparison.Ordinal))
        { problem = "key hash does not match key"; return false; }
        if (!Enum.TryParse<MathMode>(dto.Math, out var math) || !Enum.IsDefined(math) ||
            !Enum.TryParse<PlanSource>(dto.Source, out var source) || !Enum.IsDefined(source))
        { problem = $"unknown math '{dto.Math}' or source '{dto.Source}'"; return false; }
        if (dto.WorkspaceBytes < 0 || dto.TimeMs is < 0 or double.NaN)
        { problem = "negative workspace or time"; return false; }
        entry = new Entry(dto.Hash, dto.Key, new CachedPlan(dto.Backend, dto.Algorithm, dto.AlgorithmId, math,
            dto.WorkspaceBytes, dto.TimeMs, source, dto.Why, DateTime.SpecifyKind(dto.SavedUtc, DateTimeKind.Utc), dto.Candidates));
        problem = "";
        return true;
    }

    public static string HashOf(string canonical) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));

    /// <summary>SHA-256 over every field but the checksum, in a fixed order and invariant formatting.</summary>
    static string Checksum(EntryDto d)
    {
        var text = string.Join('\n',
            d.Hash, d.Key, d.Backend, d.Algorithm, d.AlgorithmId.ToString(CultureInfo.InvariantCulture), d.Math,
            d.WorkspaceBytes.ToString(CultureInfo.InvariantCulture),
            d.TimeMs?.ToString("R", CultureInfo.InvariantCulture) ?? "null", d.Source, d.Why,
            d.SavedUtc.ToUniversalTime().Ticks.ToString(CultureInfo.InvariantCulture));
        // Entries written before the candidate list was recorded have none: their checksums stay valid.
        if (d.Candidates is not null) text += "\n" + d.Candidates;
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}
