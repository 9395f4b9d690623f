using System.Runtime.CompilerServices;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cpu.BackwardData;
using GpuConv.Cpu.ChannelTiled;
using GpuConv.Cpu.Threading;
using GpuConv.Cpu.Winograd;
using GpuConv.Tensors;

namespace GpuConv.Backends;

// The cpu backend's prepared copies of constant weights (ConvTensors.ConstantWeights): channel panels,
// Winograd transforms, forward-phases' sub-kernels, gemm-shuffle's Wᵀ, weight-stream's packed W — made on
// first use, kept per weight array, dropped by ForgetPreparedWeights.
public sealed unsafe partial class CpuBackend
{
    /// <summary>W transposed per group for gemm-shuffle (the grouping it was made for beside it).</summary>
    sealed class TransposedWeights(ConvProblem problem, float[] data)
    {
        public readonly int Groups = problem.Groups, KPerGroup = problem.KPerGroup;
        public readonly float[] Data = data;     // pinned
    }

    /// <summary>
    /// gemm-shuffle's Wᵀ: of a constant W transposed on first use and cached (per array, as the other
    /// prepared weights), else transposed into the run's scratch.
    /// </summary>
    float* ShuffleWeightsOf(ConvProblem p, float* pw, float[]? w, bool constant)
    {
        if (constant && w is not null)
        {
            if (!_shuffleWeights.TryGetValue(w, out var e) || e.Groups != p.Groups || e.KPerGroup != p.KPerGroup)
            {
                e = new TransposedWeights(p, AlignedArray(GemmPixelShuffle.TransposedFloats(p)));
                GemmPixelShuffle.TransposeWeights(_workers, p, pw, Aligned(e.Data));
                _shuffleWeights.AddOrUpdate(w, e);
            }
            return Aligned(e.Data);
        }
        float* wt = _phaseScratch.Get(WorkspaceSlot.PackA, GemmPixelShuffle.TransposedFloats(p));
        GemmPixelShuffle.TransposeWeights(_workers, p, pw, wt);
        return wt;
    }

    /// <summary>W packed for weight-stream (the problem's grouping and block beside it).</summary>
    sealed class StreamWeights(ConvProblem problem, int block, float[] data)
    {
        public readonly int Groups = problem.Groups, KPerGroup = problem.KPerGroup, CPerGroup = problem.CPerGroup, Block = block;
        public readonly float[] Data = data;     // pinned
    }

    /// <summary>
    /// Weight-stream's packed W: of a constant W packed on first use (per array and blocking), then from the
    /// cache; per-call weights packed into scratch first, in one parallel pass (each image's tasks would pack
    /// them again; and at batch 1, DCGAN 256 → 128 ran 0.20 or 0.38 ms from one process to the next with
    /// each task packing its block inside its GEMM, 0.205–0.208 every time packed first).
    /// </summary>
    float* StreamWeightsOf(ConvProblem p, float* pw, float[]? w, bool constant)
    {
        if (!constant || w is null)
        {
            float* scratch = _phaseScratch.Get(WorkspaceSlot.PackA, WeightStreamBackwardData.PackedFloats(p, MaxDegreeOfParallelism, Tier));
            WeightStreamBackwardData.PackWeights(_workers, p, pw, scratch, Tier);
            return scratch;
        }
        int block = WeightStreamBackwardData.BlockChannels(p, MaxDegreeOfParallelism);
        if (!_streamWeights.TryGetValue(w, out var e) || e.Groups != p.Groups || e.KPerGroup != p.KPerGroup || e.CPerGroup != p.CPerGroup || e.Block != block)
        {
            e = new StreamWeights(p, block, AlignedArray(WeightStreamBackwardData.PackedFloats(p, MaxDegreeOfParallelism, Tier)));
            WeightStreamBackwardData.PackWeights(_workers, p, pw, Aligned(e.Data), Tier);
            _streamWeights.AddOrUpdate(w, e);
        }
        return Aligned(e.Data);
    }

    /// <summary>A pinned array with room for <paramref name="floats"/> floats from a 64-byte boundary (see <see cref="Aligned"/>).</summary>
    static float[] AlignedArray(long floats) => GC.AllocateUninitializedArray<float>(checked((int)(floats + 16)), pinned: true);

    /// <summary>
    /// The first 64-byte-aligned float of a pinned <see cref="AlignedArray"/>: the GEMM's vector loads of a
    /// packed B that starts off a cache line split every load across two lines (weight-stream on DCGAN's
    /// 256 → 128 ran 0.17 or 0.22 ms from one process to the next).
    /// </summary>
    static float* Aligned(float[] data)
    {
        float* p = (float*)Unsafe.AsPointer(ref data[0]);
        return p + ((64 - (nint)p % 64) % 64) / sizeof(float);
    }

    /// <summary>The sub-kernels of a constant W for a plan, one array per phase (null without taps).</summary>
    sealed class PhaseWeights(TransposedByPhases plan, float[]?[] arrays)
    {
        public readonly TransposedByPhases Plan = plan;
        public readonly float[]?[] Arrays = arrays;
    }

    /// <summary>
    /// The sub-kernels of a constant W: transformed on first use (per plan), then from the cache (one array
    /// per phase: the sub-runs key their own prepared panels by array, so phases must not share one). The
    /// sub-runs key their own prepared panels (channel-tiled, Winograd) by these arrays.
    /// </summary>
    float[]?[] PhaseWeightsOf(TransposedByPhases plan, float[] w, float* pw)
    {
        if (_phaseWeights.TryGetValue(w, out var e) && ReferenceEquals(e.Plan, plan)) return e.Arrays;
        var arrays = new float[]?[plan.Phases.Length];
        var destinations = new nint[arrays.Length];
        for (int i = 0; i < arrays.Length; i++)
        {
            if (plan.Phases[i].Sub is null) continue;
            // Pinned: their addresses are used after this loop.
            arrays[i] = GC.AllocateUninitializedArray<float>(checked((int)plan.Phases[i].WeightFloats), pinned: true);
            destinations[i] = (nint)Unsafe.AsPointer(ref arrays[i]![0]);
        }
        plan.TransformWeights(_workers, pw, destinations, panels: false);
        _phaseWeights.AddOrUpdate(w, new PhaseWeights(plan, arrays));
        return arrays;
    }

    /// <summary>
    /// The forward-phases plan of a backward-data problem (null where it does not apply), built once per
    /// problem: the sub-problems and their algorithms. The last one is kept apart so a steady-state run
    /// neither hashes nor compares.
    /// </summary>
    TransposedByPhases? PlanOf(ConvProblem p)
    {
        lock (_phasePlans)
        {
            if (_lastPlan is { } last && ReferenceEquals(last.Problem, p)) return last;
            if (!_phasePlans.TryGetValue(p, out var plan))
            {
                if (_phasePlans.Count >= 256) _phasePlans.Clear();
                plan = TransposedByPhases.TryCreate(p, q => GetAlgorithms(q, ConvPrecision.Strict)[0].Name, name => name is ChannelTiled);
                _phasePlans[p] = plan;
            }
            if (plan is not null) _lastPlan = plan;
            return plan;
        }
    }

    /// <summary>
    /// The weights as channel panels: from the cache when the caller declared them constant, else null: channel-tiled
    /// packs per-call weights itself (<see cref="ChannelTiledConv.Forward"/>).
    /// </summary>
    float* ChannelPanelsOf(CpuConvContext ctx, float[]? w, bool constant) =>
        constant ? _weightCache.Get(w!, ctx.W, ctx.Groups, ctx.Kg, ctx.Rows, _workers) : null;

    /// <summary>
    /// Winograd's transformed weights as channel panels ((m + 2)² × groups groups of them): a constant W's transformed on
    /// first use and then from <paramref name="cache"/> (one per variant), per-call weights' into the shared scratch.
    /// </summary>
    float* WinogradPanelsOf<T>(CpuConvContext ctx, float[]? w, PackedWeightCache cache, bool constant) where T : struct, IWinogradTiles
    {
        int sets = Winograd3x3.Xi<T>() * ctx.Groups;
        float* panels;
        if (constant)
        {
            panels = cache.Find(w!, sets, ctx.Kg, ctx.Cg);
            if (panels != null) return panels;
            panels = cache.Add(w!, sets, ctx.Kg, ctx.Cg);
        }
        else panels = _shared.Get(WorkspaceSlot.PackB, Winograd3x3.PanelFloats<T>(ctx.Groups, ctx.Kg, ctx.Cg));
        Winograd3x3.TransformWeightsToPanels<T>(_workers, ctx.W, ctx.Groups, ctx.Kg, ctx.Cg, panels);
        return panels;
    }

    /// <summary>Weight arrays packed for the channel-tiled and Winograd kernels since this backend was created (constant weights pack once).</summary>
    public int PreparedWeightPacks => _weightCache.Packs + _winogradWeights.Packs + _winograd4Weights.Packs;

    /// <summary>
    /// Forgets the prepared (packed) copy of a constant weight tensor: call it after changing the data of
    /// a W passed with <see cref="ConvTensors.ConstantWeights"/> other than through a <see cref="ConvEngine"/>
    /// (every engine op that writes a host tensor does it itself). Returns whether a copy was held.
    /// </summary>
    public bool ForgetPreparedWeights(HostTensor w)
    {
        ArgumentNullException.ThrowIfNull(w);
        lock (_runLock) return ForgetArray(w.Data);
    }

    /// <summary>
    /// The arrays run as constant weights, each marked (under the run lock) before any prepared copy of it is made, so a
    /// write can tell cheaply whether there is anything to forget. <see cref="_markedArrays"/> counts the marks: 0 means
    /// nothing was ever prepared (or all was forgotten) and a write pays one read; a collected array's mark is not
    /// subtracted, so it is an upper bound, which is all the check needs.
    /// </summary>
    readonly ConditionalWeakTable<float[], object> _preparedArrays = new();
    int _markedArrays;
    /// <summary>Arrays marked as prepared (an upper bound; see <see cref="_preparedArrays"/>), for tests.</summary>
    internal int MarkedArrays => Volatile.Read(ref _markedArrays);
    static readonly object PreparedMark = new();

    /// <summary>Marks <paramref name="w"/> as (about to be) prepared; under the run lock. A warm run finds the mark and allocates nothing.</summary>
    void MarkPrepared(float[] w)
    {
        if (_preparedArrays.TryGetValue(w, out _)) return;
        _preparedArrays.AddOrUpdate(w, PreparedMark);
        Interlocked.Increment(ref _markedArrays);
    }

    /// <summary>
    /// Drops every prepared copy of <paramref name="data"/> after something wrote it (the engine's ops, this backend's own
    /// runs), so the next constant-weights run prepares the new values, as a GPU (which prepares nothing) reads them.
    /// Cheap when <paramref name="data"/> was never prepared: no lock, no removal.
    /// </summary>
    internal void Written(float[] data)
    {
        // Read without the run lock. The mark is added under the lock before any prepared copy exists, and a write that
        // follows a constant-weights run in the caller's order (the only defined case: a write racing a run that reads the
        // same array is a data race, on a GPU too) sees it: the lock's release and the caller's own ordering publish it.
        // ConditionalWeakTable's reads are lock-free and safe beside concurrent adds and removes. Seeing the mark, the full
        // forget takes the lock, so it never runs beside a run that is using the prepared copy.
        if (Volatile.Read(ref _markedArrays) == 0 || !_preparedArrays.TryGetValue(data, out _)) return;
        lock (_runLock) ForgetArray(data);
    }

    /// <summary>Forgets every prepared copy of <paramref name="data"/> and its mark; under the run lock.</summary>
    bool ForgetArray(float[] data)
    {
        if (_preparedArrays.Remove(data)) Interlocked.Decrement(ref _markedArrays);
        _constantWeightMagnitudes.Remove(data); // its magnitude too, though that is no prepared copy
        return _weightCache.Forget(data) | _winogradWeights.Forget(data) | _winograd4Weights.Forget(data) | _phaseWeights.Remove(data) | _shuffleWeights.Remove(data) | _streamWeights.Remove(data);
    }
}
