using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace GpuConv.Backends.Cudnn;

/// <summary>
/// One engine config of cuDNN's backend API, as GpuConv names it: the engine's global index, the knob
/// choices (type, value) sorted by knob type, and a tag for the transform-based engines, e.g.
/// <c>GRAPH_E12_K2=3_K13=1</c> or <c>GRAPH_E3_WINOGRAD</c>. The name alone recreates the config
/// (engine by global index, knobs set back) in a later process, so a plan-cache entry never depends on
/// the order of cuDNN's heuristic list. The tag is informational (derived from the engine's numerical
/// notes): parsing ignores it for the config, <see cref="CudnnAlgorithmNames.IsTransformBased"/> reads it.
/// </summary>
internal sealed record CudnnGraphEngineChoice(long EngineIndex, IReadOnlyList<(int Type, long Value)> Knobs, string Tag)
{
    public const string Prefix = "GRAPH_E";

    /// <summary>Graph candidates' <see cref="ConvAlgorithm.Id"/> is this plus the engine index (legacy ids are 0–7).</summary>
    public const int IdBase = 1_000_000;

    static readonly Regex Pattern = new(@"^GRAPH_E(\d{1,9})((?:_K\d{1,4}=-?\d{1,19})*)(?:_(FFT|WINOGRAD))?$", RegexOptions.CultureInvariant);

    public string Name
    {
        get
        {
            var sb = new StringBuilder(Prefix).Append(EngineIndex.ToString(CultureInfo.InvariantCulture));
            foreach (var (type, value) in Knobs.OrderBy(k => k.Type))
                sb.Append("_K").Append(type.ToString(CultureInfo.InvariantCulture)).Append('=').Append(value.ToString(CultureInfo.InvariantCulture));
            if (Tag.Length > 0) sb.Append('_').Append(Tag);
            return sb.ToString();
        }
    }

    public int Id => IdBase + (int)Math.Min(EngineIndex, int.MaxValue - IdBase);

    /// <summary>The config a name encodes, or null when <paramref name="name"/> is not a graph candidate's name.</summary>
    public static CudnnGraphEngineChoice? TryParse(string name)
    {
        var m = Pattern.Match(name);
        if (!m.Success) return null;
        var knobs = new List<(int, long)>();
        foreach (var part in m.Groups[2].Value.Split("_K", StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = part.Split('=');
            knobs.Add((int.Parse(kv[0], CultureInfo.InvariantCulture), long.Parse(kv[1], CultureInfo.InvariantCulture)));
        }
        return new CudnnGraphEngineChoice(long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), knobs, m.Groups[3].Value);
    }

    public static bool IsGraphName(string name) => name.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>The tag the numerical notes give: FFT, WINOGRAD (any tile) or none.</summary>
    public static string TagOf(IReadOnlyCollection<Cuda.Native.CudnnBackendNumericalNote> notes) =>
        notes.Contains(Cuda.Native.CudnnBackendNumericalNote.Fft) ? "FFT"
        : notes.Any(n => n is Cuda.Native.CudnnBackendNumericalNote.Winograd or Cuda.Native.CudnnBackendNumericalNote.WinogradTile4x4
            or Cuda.Native.CudnnBackendNumericalNote.WinogradTile6x6 or Cuda.Native.CudnnBackendNumericalNote.WinogradTile13x13) ? "WINOGRAD"
        : "";

    public override string ToString() => Name;
}
