using GpuConv.Backends;
using GpuConv.Planning;

namespace GpuConv;

/// <summary>Which device a <see cref="ConvEngine"/> runs on.</summary>
public enum DeviceKind
{
    /// <summary>The GPU if one is usable, else the CPU.</summary>
    Auto,
    /// <summary>The CPU backend, even when a GPU is present.</summary>
    Cpu,
    /// <summary>A GPU; opening the engine fails when none is usable.</summary>
    Gpu,
}

/// <summary>Everything <see cref="ConvEngine.Open"/> needs; the defaults suit most callers.</summary>
public sealed record ConvEngineOptions
{
    /// <summary>Which device to run on; default <see cref="DeviceKind.Auto"/>.</summary>
    public DeviceKind Device { get; init; } = DeviceKind.Auto;

    /// <summary>Which GPU (CUDA ordinal) when <see cref="Device"/> is Gpu or Auto.</summary>
    public int GpuIndex { get; init; }

    /// <summary>How plans are chosen; default <see cref="PlanPolicy.Cached"/>.</summary>
    public PlanPolicy Policy { get; init; } = PlanPolicy.Cached;

    /// <summary>Plan-cache file; null: <c>$GPUCONV_PLAN_CACHE</c>, else the per-user default (see <see cref="PlanCache.ResolvePath"/>).</summary>
    public string? PlanCachePath { get; init; }

    /// <summary>False keeps plans in memory only (nothing is read from or written to disk).</summary>
    public bool PersistPlans { get; init; } = true;

    /// <summary>Most plans the cache keeps (default <see cref="PlanCache.DefaultMaxEntries"/>); must be >= 1.</summary>
    public int MaxCachedPlans { get; init; } = PlanCache.DefaultMaxEntries;

    /// <summary>Largest workspace a candidate may use, in bytes; null for "what fits".</summary>
    public long? WorkspaceLimitBytes { get; init; }

    /// <summary>Only candidates that give bit-identical results run to run.</summary>
    public bool Deterministic { get; init; }

    /// <summary>Whether TF32 candidates are allowed; default strict fp32.</summary>
    public ConvPrecision Precision { get; init; } = ConvPrecision.Strict;

    /// <summary>Threads the CPU backend may use (1..<see cref="CpuBackend.MaxThreads"/>); null = every core.</summary>
    public int? CpuThreads { get; init; }

    /// <summary>Force one backend by name ("cpu", "reference", "cudnn", "ptx"); null lets the planner choose.</summary>
    public string? Backend { get; init; }

    /// <summary>Where warnings go (plan-cache trouble, discarded plans); default stderr.</summary>
    public Action<string>? Warning { get; init; }

    /// <summary>Checks every field; names the offender.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Device))
            throw new ArgumentException($"Device {(int)Device} is not a DeviceKind.", nameof(Device));
        if (GpuIndex < 0)
            throw new ArgumentException($"GpuIndex must be >= 0, got {GpuIndex}.", nameof(GpuIndex));
        if (!Enum.IsDefined(Policy))
            throw new ArgumentException($"Policy {(int)Policy} is not a PlanPolicy.", nameof(Policy));
        if (!Enum.IsDefined(Precision))
            throw new ArgumentException($"Precision {(int)Precision} is not a ConvPrecision.", nameof(Precision));
        if (WorkspaceLimitBytes is < 0)
            throw new ArgumentException($"WorkspaceLimitBytes must be >= 0 or null, got {WorkspaceLimitBytes}.", nameof(WorkspaceLimitBytes));
        if (CpuThreads is < 1 or > CpuBackend.MaxThreads)
            throw new ArgumentException($"CpuThreads must be in 1..{CpuBackend.MaxThreads} or null (all cores), got {CpuThreads}.", nameof(CpuThreads));
        if (MaxCachedPlans < 1)
            throw new ArgumentException($"MaxCachedPlans must be >= 1, got {MaxCachedPlans}.", nameof(MaxCachedPlans));
        if (PlanCachePath is not null && string.IsNullOrWhiteSpace(PlanCachePath))
            throw new ArgumentException("PlanCachePath must be null (default location) or a file path, got an empty string.", nameof(PlanCachePath));
        if (Backend is not null && string.IsNullOrWhiteSpace(Backend))
            throw new ArgumentException("Backend must be null (any) or a backend name, got an empty string.", nameof(Backend));
    }
}
