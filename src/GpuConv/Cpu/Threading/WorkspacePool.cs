using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace GpuConv.Cpu.Threading;

/// <summary>What a workspace buffer holds; each slot of a <see cref="WorkspaceSet"/> is a separate buffer.</summary>
internal enum WorkspaceSlot
{
    /// <summary>Packed panel of GEMM operand A.</summary>
    PackA,
    /// <summary>Packed panel of GEMM operand B.</summary>
    PackB,
    /// <summary>Column matrix (im2col output / col2im input).</summary>
    Columns,
    /// <summary>Padded phase planes of the depthwise kernel.</summary>
    Rows,
    /// <summary>Integer tables (reinterpreted floats) of the depthwise kernel.</summary>
    Tables,
}

/// <summary>
/// Workspace sets for parallel tasks: a worker rents one set for all the tasks it runs in a call and
/// gives it back at the end, so there are never more sets than concurrent workers, whichever pool
/// threads run them. Buffers grow to the largest request and are then reused: the steady state (the
/// same problems again) allocates no workspace.
/// </summary>
internal sealed class WorkspacePool : IDisposable
{
    /// <summary>The pool the public GEMM entry point uses.</summary>
    public static WorkspacePool Shared { get; } = new();

    readonly ConcurrentBag<WorkspaceSet> _free = [];
    readonly List<WorkspaceSet> _all = [];
    bool _disposed;

    public WorkspaceSet Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_free.TryTake(out var set)) return set;
        set = new WorkspaceSet();
        lock (_all) _all.Add(set);
        return set;
    }

    public void Return(WorkspaceSet set) => _free.Add(set);

    /// <summary>Bytes held by every set's buffers.</summary>
    public long BytesHeld
    {
        get { lock (_all) return _all.Sum(s => s.BytesHeld); }
    }

    public void Dispose()
    {
        _disposed = true;
        _free.Clear();
        lock (_all) _all.Clear();
    }
}

/// <summary>
/// One worker's scratch buffers, one per <see cref="WorkspaceSlot"/>: pinned (stable pointers for the
/// SIMD kernels) and 64-byte aligned (one cache line, one zmm register).
/// </summary>
internal sealed unsafe class WorkspaceSet
{
    const int Alignment = 64;
    readonly float[]?[] _arrays = new float[]?[Enum.GetValues<WorkspaceSlot>().Length];
    readonly nint[] _pointers = new nint[Enum.GetValues<WorkspaceSlot>().Length];
    readonly long[] _capacity = new long[Enum.GetValues<WorkspaceSlot>().Length];

    long[] _rowsLabels = [];

    static long s_runs;

    /// <summary>A stamp no earlier run of any kernel had (see <see cref="RowsPart"/>).</summary>
    public static long NextRunStamp() => Interlocked.Increment(ref s_runs);

    /// <summary>
    /// Part <paramref name="slot"/> of <paramref name="slots"/> equal parts (<paramref name="floats"/> each) of
    /// the <see cref="WorkspaceSlot.Rows"/> buffer, for data a kernel prepares once per worker and run (not
    /// once per task): <paramref name="holds"/> says whether the part already holds item
    /// <paramref name="index"/> (an image and group) of run <paramref name="stamp"/>; if not, the part is
    /// labelled so and the caller fills it before using it.
    /// </summary>
    public float* RowsPart(long stamp, int index, int slot, int slots, long floats, out bool holds)
    {
        nint before = _pointers[(int)WorkspaceSlot.Rows];
        float* rows = Get(WorkspaceSlot.Rows, floats * slots);
        // A grown buffer holds nothing; more parts than before start unlabelled.
        if ((nint)rows != before || _rowsLabels.Length < slots)
        {
            _rowsLabels = new long[Math.Max(slots, _rowsLabels.Length)];
            Array.Fill(_rowsLabels, -1L);
        }
        // The stamp in the high half: stamp · N · groups + index was not unique (runs with different batch
        // sizes could produce the same label). One stamp sequence serves every kernel: two kernels counting
        // runs apart once labelled different layouts alike, and a Winograd run read a channel-tiled run's planes.
        long label = (stamp << 32) | (uint)index;
        holds = _rowsLabels[slot] == label;
        _rowsLabels[slot] = label;
        return rows + floats * slot;
    }

    /// <summary>At least <paramref name="floats"/> floats for the slot (contents unspecified).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public float* Get(WorkspaceSlot slot, long floats)
    {
        int s = (int)slot;
        if (_arrays[s] is null || _capacity[s] < floats)
        {
            long capacity = Math.Max(floats, _capacity[s] + _capacity[s] / 2);
            long length = capacity + Alignment / sizeof(float);
            if (length > Array.MaxLength)
                throw new OutOfMemoryException($"workspace of {floats} floats exceeds the largest .NET array ({Array.MaxLength}).");
            var array = GC.AllocateUninitializedArray<float>((int)length, pinned: true);
            nint p = (nint)System.Runtime.CompilerServices.Unsafe.AsPointer(ref array[0]);
            p = (p + Alignment - 1) & ~(nint)(Alignment - 1);
            _arrays[s] = array; _pointers[s] = p; _capacity[s] = capacity;
        }
        return (float*)_pointers[s];
    }

    public long BytesHeld => _capacity.Sum() * sizeof(float);
}
