using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace GpuConv.Tests.Ptx;

/// <summary>
/// Simulated device memory: one growable byte array; a "device pointer" is a byte offset into it.
/// Allocations are 256-byte aligned and start at 256, so a null (0) pointer never addresses valid data.
/// Every access is bounds- and alignment-checked and throws on a violation (an illegal-address fault).
/// </summary>
public sealed class PtxGlobalMemory : IPtxMemory
{
    const int Alignment = 256;
    byte[] _bytes = new byte[1 << 16];
    long _used = Alignment;
    readonly List<(ulong Start, long Bytes)> _allocations = [];

    public ulong Allocate(long bytes)
    {
        if (bytes <= 0) throw new ArgumentException($"bytes must be positive, got {bytes}.", nameof(bytes));
        ulong start = (ulong)_used;
        _used += (bytes + Alignment - 1) / Alignment * Alignment;
        if (_used > _bytes.Length)
        {
            if (_used > Array.MaxLength) throw new PtxException($"simulated device memory exhausted ({_used} bytes)");
            Array.Resize(ref _bytes, (int)Math.Min(Array.MaxLength, Math.Max(_used, 2L * _bytes.Length)));
        }
        _allocations.Add((start, bytes));
        return start;
    }

    public ulong Upload(ReadOnlySpan<float> data)
    {
        ulong p = Allocate(Math.Max(1, data.Length) * 4L);
        MemoryMarshal.AsBytes(data).CopyTo(_bytes.AsSpan((int)p));
        return p;
    }

    /// <summary>An allocation filled with a NaN pattern, so anything a kernel fails to write shows up.</summary>
    public ulong AllocatePoisoned(int floats)
    {
        ulong p = Allocate(Math.Max(1, floats) * 4L);
        MemoryMarshal.Cast<byte, float>(_bytes.AsSpan((int)p, floats * 4)).Fill(float.NaN);
        return p;
    }

    public float[] Download(ulong pointer, int floats)
    {
        Check(pointer, floats * 4L, 4);
        return MemoryMarshal.Cast<byte, float>(_bytes.AsSpan((int)pointer, floats * 4)).ToArray();
    }

    internal ulong Load(ulong address, int bytes)
    {
        Check(address, bytes, bytes);
        var s = _bytes.AsSpan((int)address, bytes);
        return bytes == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(s) : BinaryPrimitives.ReadUInt64LittleEndian(s);
    }

    internal void Store(ulong address, int bytes, ulong value)
    {
        Check(address, bytes, bytes);
        var s = _bytes.AsSpan((int)address, bytes);
        if (bytes == 4) BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)value);
        else BinaryPrimitives.WriteUInt64LittleEndian(s, value);
    }

    /// <summary>The allocation holding <paramref name="address"/>, or null (a null pointer or a plain number).</summary>
    internal (ulong Start, long Bytes)? AllocationContaining(ulong address)
    {
        foreach (var a in _allocations)
            if (address >= a.Start && address < a.Start + (ulong)a.Bytes) return a;
        return null;
    }

    ulong IPtxMemory.Load(ulong address, int bytes) => Load(address, bytes);
    void IPtxMemory.Store(ulong address, int bytes, ulong value) => Store(address, bytes, value);
    (ulong Start, long Bytes)? IPtxMemory.AllocationContaining(ulong address) => AllocationContaining(address);

    void Check(ulong address, long bytes, int alignment)
    {
        if (address % (ulong)alignment != 0) throw new PtxException($"misaligned global access of {bytes} bytes at 0x{address:X}");
        foreach (var (start, length) in _allocations)
            if (address >= start && address + (ulong)bytes <= start + (ulong)length) return;
        throw new PtxException($"illegal global address 0x{address:X} ({bytes} bytes) outside every allocation");
    }
}
