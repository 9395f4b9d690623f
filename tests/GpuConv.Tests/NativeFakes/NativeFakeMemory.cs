using GpuConv.Tests.Ptx;

namespace GpuConv.Tests.NativeFakes;

/// <summary>
/// The fake driver's device memory as the PTX interpreter's global memory: a device pointer is a host
/// address, and every load and store must fall inside one of the live allocations (a snapshot taken at the
/// launch; launches run synchronously, so nothing is allocated or freed meanwhile) and be aligned —
/// what the device's memory protection would fault on.
/// </summary>
sealed unsafe class NativeFakeMemory : IPtxMemory
{
    readonly (ulong Start, long Bytes)[] _allocations;
    int _last;

    NativeFakeMemory((ulong, long)[] allocations) => _allocations = allocations;

    public static NativeFakeMemory Snapshot()
    {
        var list = NativeFakeLibraries.Export<nint>("gpuconv_fake_allocations");
        var fn = (delegate* unmanaged<ulong*, ulong*, int, int>)list;
        int count = fn(null, null, 0);
        var bases = new ulong[count + 64];
        var sizes = new ulong[count + 64];
        fixed (ulong* b = bases) fixed (ulong* s = sizes)
            count = Math.Min(fn(b, s, bases.Length), bases.Length);
        var result = new (ulong, long)[count];
        for (int i = 0; i < count; i++) result[i] = (bases[i], (long)sizes[i]);
        return new NativeFakeMemory(result);
    }

    public (ulong Start, long Bytes)? AllocationContaining(ulong address)
    {
        if (_last < _allocations.Length && Inside(_allocations[_last], address, 1)) return _allocations[_last];
        for (int i = 0; i < _allocations.Length; i++)
            if (Inside(_allocations[i], address, 1)) { _last = i; return _allocations[i]; }
        return null;
    }

    static bool Inside((ulong Start, long Bytes) a, ulong address, int bytes) =>
        address >= a.Start && address + (ulong)bytes <= a.Start + (ulong)a.Bytes;

    void Check(ulong address, int bytes)
    {
        if (address % (ulong)bytes != 0) throw new PtxException($"misaligned global access of {bytes} bytes at 0x{address:X}");
        if (AllocationContaining(address) is not { } a || !Inside(a, address, bytes))
            throw new PtxException($"illegal global address 0x{address:X} ({bytes} bytes) outside every live device allocation of the fake driver");
    }

    public ulong Load(ulong address, int bytes)
    {
        Check(address, bytes);
        return bytes == 4 ? *(uint*)address : *(ulong*)address;
    }

    public void Store(ulong address, int bytes, ulong value)
    {
        Check(address, bytes);
        if (bytes == 4) *(uint*)address = (uint)value;
        else *(ulong*)address = value;
    }
}
