using GpuConv.Backends;

namespace GpuConv.Planning;

/// <summary>The knobs of a <see cref="Planner"/>. Everything that changes the answer also goes into the plan key.</summary>
public sealed record PlannerOptions
{
    /// <summary>How plans are chosen; default <see cref="PlanPolicy.Cached"/>.</summary>
    public PlanPolicy Policy { get; init; } = PlanPolicy.Cached;

    /// <summary>Largest workspace a candidate may ask for, in bytes; null means "whatever fits" (see <see cref="AvailableWorkspace"/>).</summary>
    public long? WorkspaceLimitBytes { get; init; }

    /// <summary>
    /// Bytes a backend can still hand out for workspace right now (the GPU layer supplies free device
    /// memory here); null means unlimited. The effective limit is the smaller of this and <see cref="WorkspaceLimitBytes"/>.
    /// </summary>
    public Func<IConvBackend, long?>? AvailableWorkspace { get; init; }

    /// <summary>Only candidates that give bit-identical results run to run.</summary>
    public bool Deterministic { get; init; }

    /// <summary>Whether TF32 candidates are allowed; default strict fp32.</summary>
    public ConvPrecision Precision { get; init; } = ConvPrecision.Strict;

    /// <summary>Only this backend (by name, case-insensitive) may be chosen; null for all.</summary>
    public string? BackendFilter { get; init; }

    /// <summary>The device the engine runs on (a GPU, or the CPU).</summary>
    public DeviceIdentity Device { get; init; } = DeviceIdentity.ForCpu();

    /// <summary>The host CPU (CPU backends take part even on a GPU engine).</summary>
    public DeviceIdentity Host { get; init; } = DeviceIdentity.ForCpu();

    /// <summary>Untimed runs before timing each candidate in exhaustive search.</summary>
    public int WarmupRuns { get; init; } = 1;

    /// <summary>Timed runs per candidate; the median is kept.</summary>
    public int TimedRuns { get; init; } = 3;

    /// <summary>Seed of the random scratch data used for timing.</summary>
    public int ScratchSeed { get; init; } = 12345;

    /// <summary>Checks the options; names the offending field.</summary>
    public void Validate()
    {
        if (WorkspaceLimitBytes is < 0)
            throw new ArgumentException($"WorkspaceLimitBytes must be >= 0 or null, got {WorkspaceLimitBytes}.", nameof(WorkspaceLimitBytes));
        if (WarmupRuns < 0)
            throw new ArgumentException($"WarmupRuns must be >= 0, got {WarmupRuns}.", nameof(WarmupRuns));
        if (TimedRuns < 1)
            throw new ArgumentException($"TimedRuns must be >= 1, got {TimedRuns}.", nameof(TimedRuns));
        if (!Enum.IsDefined(Policy))
            throw new ArgumentException($"Policy {(int)Policy} is not a PlanPolicy.", nameof(Policy));
        if (!Enum.IsDefined(Precision))
            throw new ArgumentException($"Precision {(int)Precision} is not a ConvPrecision.", nameof(Precision));
        ArgumentNullException.ThrowIfNull(Device);
        ArgumentNullException.ThrowIfNull(Host);
    }
}
