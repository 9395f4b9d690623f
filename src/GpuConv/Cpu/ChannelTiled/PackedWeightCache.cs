using System.Runtime.CompilerServices;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.ChannelTiled;

/// <summary>
/// Channel panels (<see cref="ChannelPanels"/>) of weight arrays the caller declared constant
/// (<see cref="Backends.ConvTensors.ConstantWeights"/>), packed on first use and kept while the array
/// lives: inference runs the same weights thousands of times, and packing costs a pass over W that the
/// small late layers of a network cannot hide. Keyed by the array object, not its contents — a caller
/// that changes a constant array must say so (<see cref="Forget"/>) or pass a new array. Not
/// thread-safe: the CPU backend uses it under its run lock.
/// </summary>
internal sealed unsafe class PackedWeightCache
{
    sealed class Entry(int groups, int kPerGroup, int depth, float[] data, int offset)
    {
        public readonly int Groups = groups, KPerGroup = kPerGroup, Depth = depth;
        public readonly float[] Data = data;      // pinned
        public readonly int Offset = offset;      // floats to the first 64-byte-aligned one
    }

    readonly ConditionalWeakTable<float[], Entry> _entries = new();

    /// <summary>Arrays packed so far (a repack of the same array counts again).</summary>
    public int Packs { get; private set; }

    /// <summary>
    /// The panels of <paramref name="weights"/> for this grouping, packed now if they are not cached (or
    /// were cached for another grouping). Valid while <paramref name="weights"/> is alive.
    /// </summary>
    public float* Get(float[] weights, float* pinnedWeights, int groups, int kPerGroup, int depth, CpuWorkers workers)
    {
        float* cached = Find(weights, groups, kPerGroup, depth);
        if (cached != null) return cached;
        float* panels = Add(weights, groups, kPerGroup, depth);
        ChannelPanels.PackAll(workers, pinnedWeights, groups, kPerGroup, depth, panels);
        return panels;
    }

    /// <summary>
    /// Room for the panels of <paramref name="weights"/> for this grouping, kept from now on (replacing any for another
    /// grouping), for a caller that writes them itself (Winograd's transform writes its panels straight). Counted as a pack.
    /// </summary>
    public float* Add(float[] weights, int groups, int kPerGroup, int depth)
    {
        long floats = ChannelPanels.Floats(groups, kPerGroup, depth);
        var data = GC.AllocateUninitializedArray<float>(checked((int)(floats + 16)), pinned: true);
        float* p = (float*)Unsafe.AsPointer(ref data[0]);
        int offset = (int)(((64 - (nint)p % 64) % 64) / sizeof(float));
        _entries.AddOrUpdate(weights, new Entry(groups, kPerGroup, depth, data, offset));
        Packs++;
        return p + offset;
    }

    /// <summary>The cached panels of <paramref name="weights"/> for this grouping, or null: lets a caller that must transform W before packing skip the transform.</summary>
    public float* Find(float[] weights, int groups, int kPerGroup, int depth) =>
        _entries.TryGetValue(weights, out var e) && e.Groups == groups && e.KPerGroup == kPerGroup && e.Depth == depth
            ? (float*)Unsafe.AsPointer(ref e.Data[e.Offset]) : null;

    /// <summary>Drops the panels of <paramref name="weights"/> (call after changing a constant array in place).</summary>
    public bool Forget(float[] weights) => _entries.Remove(weights);

    /// <summary>Drops every cached panel.</summary>
    public void Clear() => _entries.Clear();
}
