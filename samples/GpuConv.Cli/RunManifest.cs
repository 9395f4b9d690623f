using System.Globalization;
using System.Text.Json;
using GpuConv.Planning;

namespace GpuConv.Cli;

/// <summary>One case of a manifest: its 0-based index, its line in the file, and the request or why it is bad.</summary>
public sealed record ManifestCase(int Index, int Line, RunRequest? Request, string? Error);

/// <summary>
/// The file of <c>gpuconv run --manifest</c>: one JSON object per line (JSON Lines; blank lines are
/// skipped), each one convolution with the keys x, w, b (path or null), stride, pads (ONNX order: all
/// begins, then all ends), dilation, groups, transposed, output_padding and out, meaning exactly what the
/// flags of <c>gpuconv run</c> mean (list keys take a number or an array; paths are relative to the
/// current folder, as on the command line). A line that is not such an object is a bad case, not a bad file.
/// </summary>
public static class RunManifest
{
    static readonly string[] Keys = ["x", "w", "b", "stride", "pads", "dilation", "groups", "transposed", "output_padding", "out"];

    /// <summary>Reads every case; only a missing, unreadable or empty file throws (ArgumentException naming --manifest).</summary>
    public static IReadOnlyList<ManifestCase> Read(string path, string? backend, string? planCache, PlanPolicy policy)
    {
        if (Directory.Exists(path))
            throw new ArgumentException($"--manifest: '{path}' is a folder, not a manifest file.", "--manifest");
        if (!File.Exists(path))
            throw new ArgumentException($"--manifest: file '{path}' does not exist.", "--manifest");
        var cases = new List<ManifestCase>();
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try
            {
                cases.Add(new ManifestCase(cases.Count, line, Parse(text) with { Backend = backend, PlanCache = planCache, Policy = policy }, null));
            }
            catch (Exception e) when (e is ArgumentException or JsonException)
            {
                cases.Add(new ManifestCase(cases.Count, line, null, CliErrors.MessageOf(e)));
            }
        }
        if (cases.Count == 0)
            throw new ArgumentException($"--manifest: '{path}' has no cases (one JSON object per line expected).", "--manifest");
        return cases;
    }

    /// <summary>One line to a request (the checks against the tensors' shapes come later, in <see cref="RunJob"/>).</summary>
    public static RunRequest Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new ArgumentException($"expected a JSON object with the keys {string.Join(", ", Keys)}, got a {root.ValueKind.ToString().ToLowerInvariant()}.");
        foreach (var property in root.EnumerateObject())
            if (!Keys.Contains(property.Name))
                throw new ArgumentException($"unknown key '{property.Name}' (the keys are {string.Join(", ", Keys)}).", property.Name);

        bool transposed = Bool(root, "transposed");
        string? outputPadding = List(root, "output_padding");
        // A plain convolution may state output_padding as zeros (what a generator writes for every case); only non-zero needs transposed.
        if (!transposed && outputPadding is not null && outputPadding.Split(',').All(v => v == "0"))
            outputPadding = null;
        return new RunRequest(
            XPath: Path(root, "x", required: true)!,
            WPath: Path(root, "w", required: true)!,
            OutPath: Path(root, "out", required: true)!,
            BiasPath: Path(root, "b", required: false),
            Stride: List(root, "stride"),
            Pads: List(root, "pads"),
            Dilation: List(root, "dilation"),
            Groups: Int(root, "groups") ?? 1,
            Transposed: transposed,
            OutputPadding: outputPadding);
    }

    /// <summary>A message from the single-run checks names a flag ("--stride: …"); in a manifest it names the key ("stride: …").</summary>
    public static string InKeyTerms(string message)
    {
        int colon = message.IndexOf(':', StringComparison.Ordinal);
        if (!message.StartsWith("--", StringComparison.Ordinal) || colon < 0) return message;
        string key = message[2..colon].Replace('-', '_');
        return Keys.Contains(key) ? key + message[colon..] : message;
    }

    static string? Path(JsonElement root, string key, bool required)
    {
        if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null)
            return required ? throw new ArgumentException($"{key}: missing (a path to a .npy file is required).", key) : null;
        if (v.ValueKind != JsonValueKind.String || v.GetString() is not { Length: > 0 } s)
            throw new ArgumentException($"{key}: expected a path string{(required ? "" : " or null")}, got {v.GetRawText()}.", key);
        return s;
    }

    static int? Int(JsonElement root, string key)
    {
        if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i))
            throw new ArgumentException($"{key}: expected an integer, got {v.GetRawText()}.", key);
        return i;
    }

    static bool Bool(JsonElement root, string key)
    {
        if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return false;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ArgumentException($"{key}: expected true or false, got {v.GetRawText()}.", key),
        };
    }

    /// <summary>A number or an array of integers, as the comma-separated text the flag takes (so the same rules apply).</summary>
    static string? List(JsonElement root, string key)
    {
        if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        var items = v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().ToArray() : [v];
        if (items.Length == 0)
            throw new ArgumentException($"{key}: expected an integer or a non-empty array of integers, got [].", key);
        return string.Join(",", items.Select(item => item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out int i)
            ? i.ToString(CultureInfo.InvariantCulture)
            : throw new ArgumentException($"{key}: expected an integer or an array of integers, got {v.GetRawText()}.", key)));
    }
}
