using System.Text.Json.Serialization;

namespace GpuConv.Planning;

/// <summary>
/// The plan-cache file's JSON contract, generated at compile time: no reflection, so the cache reads and
/// writes in trimmed and Native AOT applications too (where reflection-based System.Text.Json is
/// switched off and <see cref="ConvEngine.Open"/> would otherwise throw).
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(PlanCacheFile.FileDto))]
internal sealed partial class PlanCacheJsonContext : JsonSerializerContext;
