using System.Runtime.InteropServices;

namespace GpuConv.Cuda;

/// <summary>
/// Kernel parameters for cuLaunchKernel: each value is copied into an unmanaged slot and the launch
/// receives an array of pointers to the slots ("params as pointers to values"). Add them in the
/// order of the kernel's .param list, with the exact C# type of each (.u64 → ulong, .u32 → uint, .f32 → float).
/// </summary>
internal sealed unsafe class KernelArguments : IDisposable
{
    public const int MaxArguments = 32;
    const int SlotBytes = 16;

    byte* _slots;
    void** _pointers;

    public KernelArguments()
    {
        _slots = (byte*)NativeMemory.AlignedAlloc(MaxArguments * SlotBytes, SlotBytes);
        _pointers = (void**)NativeMemory.Alloc(MaxArguments, (nuint)sizeof(void*));
    }

    public int Count { get; private set; }

    public KernelArguments Add<T>(T value) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(_slots == null, this);
        if (sizeof(T) > SlotBytes) throw new ArgumentException($"a kernel argument of {sizeof(T)} bytes exceeds the {SlotBytes}-byte slot.", nameof(value));
        if (Count == MaxArguments) throw new InvalidOperationException($"at most {MaxArguments} kernel arguments.");
        byte* slot = _slots + Count * SlotBytes;
        *(T*)slot = value;
        _pointers[Count++] = slot;
        return this;
    }

    internal void** Pointers => _slots == null ? throw new ObjectDisposedException(nameof(KernelArguments)) : _pointers;

    public void Dispose()
    {
        if (_slots == null) return;
        NativeMemory.AlignedFree(_slots);
        NativeMemory.Free(_pointers);
        _slots = null;
        _pointers = null;
    }
}
