using System.Runtime.CompilerServices;

namespace GpuConv.Cpu;

/// <summary>Helpers for the offset tables a run builds on the calling thread and its workers read.</summary>
internal static unsafe class Tables
{
    /// <summary>
    /// Writes <paramref name="value"/> only if the slot holds something else. Runs of the same problem
    /// rebuild the same tables; skipping equal writes leaves the lines shared in the other cores' caches
    /// instead of invalidating them (each line moved between the two cores here costs ~0.4 µs).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Set(nint* slot, nint value)
    {
        if (*slot != value) *slot = value;
    }
}
