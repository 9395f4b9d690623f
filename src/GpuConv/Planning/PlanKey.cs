using System.Security.Cryptography;
using System.Text;
using GpuConv.Backends;
using GpuConv.Conv;
using PaddingMode = GpuConv.Conv.PaddingMode;

namespace GpuConv.Planning;

/// <summary>
/// Everything that can change which candidate is best (or allowed) for a problem: the op, every shape
/// and spec field (the padding mode too, though the planner keys the explicitly padded zero-padding problem that runs for it), whether W is constant across calls, the element type, the precision policy, determinism, the devices (GPU and host CPU
/// with their library versions), the set of backends taking part, and the GpuConv version.
/// Two keys are equal exactly when their <see cref="Canonical"/> strings are; <see cref="Hash"/> names
/// the entry in the plan-cache file. The workspace limit is deliberately not part of the key: free
/// memory changes from run to run, so a cached plan is re-checked against the current limit instead.
/// </summary>
public sealed record PlanKey(
    ConvOp Op,
    string XShape,
    string WShape,
    string YShape,
    string Kernel,
    string Stride,
    string Dilation,
    string PadBegin,
    string PadEnd,
    int Groups,
    bool Transposed,
    string OutputPadding,
    string DataType,
    ConvPrecision Precision,
    bool Deterministic,
    DeviceIdentity Device,
    DeviceIdentity Host,
    string Backends,
    string LibraryVersion,
    bool ConstantWeights,
    PaddingMode PaddingMode = PaddingMode.Zeros)
{
    /// <summary>Bumped when the canonical form changes, so old cache entries stop matching.</summary>
    public const int FormatVersion = 2;

    /// <summary>
    /// This build of GpuConv: the assembly version plus the module version id, which deterministic builds
    /// derive from the compiled code. Plans found by another build may rank candidates that changed or
    /// miss new ones (a cache written before the CPU backend's channel-tiled kernels kept choosing the
    /// old algorithms, as the version number alone had not changed).
    /// </summary>
    public static string CurrentLibraryVersion { get; } =
        $"{typeof(PlanKey).Assembly.GetName().Version?.ToString() ?? "0.0.0.0"}+{typeof(PlanKey).Module.ModuleVersionId:N}";

    /// <summary>The key of <paramref name="problem"/> under the planner's current settings.</summary>
    public static PlanKey For(ConvProblem problem, PlanContext context)
    {
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(context);
        var s = problem.Spec;
        return new PlanKey(
            problem.Op,
            Dims(problem.XShape.Dims), Dims(problem.WShape.Dims), Dims(problem.YShape.Dims),
            Dims(s.Kernel), Dims(s.Stride), Dims(s.Dilation), Dims(s.PadBegin), Dims(s.PadEnd),
            s.Groups, s.Transposed, Dims(s.OutputPadding),
            "float32", context.Precision, context.Deterministic,
            context.Device, context.Host,
            string.Join(",", context.BackendNames.Order(StringComparer.Ordinal)),
            context.LibraryVersion,
            problem.ConstantWeights,
            s.PaddingMode);
    }

    /// <summary>
    /// A stable, human-readable form: field order and spelling are part of the cache format. A padding mode other than
    /// zeros adds ";pm=reflect" (…) at the end, so zero-padding keys, and the cache files that hold them, stay as they were.
    /// </summary>
    public string Canonical =>
        $"v{FormatVersion};op={Op};x={XShape};w={WShape};y={YShape};k={Kernel};s={Stride};d={Dilation};" +
        $"pb={PadBegin};pe={PadEnd};g={Groups};t={Transposed};opad={OutputPadding};dtype={DataType};" +
        $"precision={Precision};det={Deterministic};device={Device.Canonical};host={Host.Canonical};" +
        $"backends={Backends};gpuconv={LibraryVersion};cw={ConstantWeights}" +
        (PaddingMode == PaddingMode.Zeros ? "" : $";pm={PaddingModes.TorchName(PaddingMode)}");

    /// <summary>SHA-256 of <see cref="Canonical"/> in hex: the entry's name in the JSON file.</summary>
    public string Hash => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Canonical)));

    /// <summary>The canonical key text.</summary>
    public override string ToString() => Canonical;

    static string Dims(IEnumerable<int> dims) => string.Join("x", dims);
}

/// <summary>The planner settings and environment that go into every <see cref="PlanKey"/>.</summary>
public sealed record PlanContext(
    ConvPrecision Precision,
    bool Deterministic,
    DeviceIdentity Device,
    DeviceIdentity Host,
    IReadOnlyList<string> BackendNames,
    string LibraryVersion);
