namespace GpuConv.Tests.Ptx;

/// <summary>
/// The global memory the PTX interpreter reads and writes: the simulated byte array
/// (<see cref="PtxGlobalMemory"/>) or, under the native fakes, the fake driver's device allocations
/// (<see cref="NativeFakes.NativeFakeMemory"/>). Every access is bounds- and alignment-checked.
/// </summary>
public interface IPtxMemory
{
    ulong Load(ulong address, int bytes);
    void Store(ulong address, int bytes, ulong value);
    /// <summary>The allocation holding <paramref name="address"/>, or null (a null pointer or a plain number).</summary>
    (ulong Start, long Bytes)? AllocationContaining(ulong address);
}
