using System.Runtime.InteropServices;

namespace GpuConv.Cuda;

/// <summary>
/// Kernel parameters for cuLaunchKernel: each value is copied into an unmanaged slot and the launch
/// receives an array of pointers to the slots ("params as pointers to values"). Add them in the
/// order of the kernel's .param list, with the exact C# type of each (.u64 → ulong, .u32 → uint, .f32 → float):
/// the driver reads as many bytes from each slot as the .param declares, whatever was written there.
/// Allocates per launch (its arrays, and the boxes of <see cref="From"/>): the library's launches use
/// <see cref="KernelArgumentPack"/>, on the stack; this stays for callers of the boxed seam.
/// </summary>
internal sealed unsafe class KernelArguments : IDisposable
{
    // The kernels with index-decomposition magic numbers take up to 36 (depthwise_fwd_f32); the driver allows 4 KiB of parameters.
    public const int MaxArguments = 64;
    const int SlotBytes = 16;

    byte* _slots;
    void** _pointers;

    // Width and kind of each argument, so tests can hold a launch against the kernel's .param list.
    readonly int[] _sizes;
    readonly bool[] _floats;
    readonly int _capacity;

    /// <summary>Room for <paramref name="capacity"/> arguments (a launch packs exactly its own count: this runs per launch).</summary>
    public KernelArguments(int capacity = MaxArguments)
    {
        if (capacity is < 0 or > MaxArguments)
            throw new InvalidOperationException($"at most {MaxArguments} kernel arguments, got {capacity}.");
        _capacity = capacity;
        _sizes = new int[capacity];
        _floats = new bool[capacity];
        int slots = Math.Max(capacity, 1);
        _slots = (byte*)NativeMemory.AlignedAlloc((nuint)(slots * SlotBytes), SlotBytes);
        // Zeroed: a value narrower than its .param then reads as zero-extended, never as stale bytes.
        NativeMemory.Clear(_slots, (nuint)(slots * SlotBytes));
        _pointers = (void**)NativeMemory.Alloc((nuint)slots, (nuint)sizeof(void*));
    }

    public int Count { get; private set; }

    /// <summary>Bytes written for each argument so far, in order (what the launch's .param list must declare).</summary>
    public ReadOnlySpan<int> Sizes => _sizes.AsSpan(0, Count);

    /// <summary>
    /// Packs boxed arguments as launches by (module, entry) pass them: ulong and long as 8 bytes (.u64/.s64,
    /// device pointers), uint and int as 4 (.u32/.s32), float as 4 (.f32). Any other type is refused
    /// before the launch, naming <paramref name="kernel"/>.
    /// </summary>
    public static KernelArguments From(IReadOnlyList<object> args, string kernel)
    {
        ArgumentNullException.ThrowIfNull(args);
        var packed = new KernelArguments(args.Count);
        try
        {
            foreach (var a in args)
            {
                switch (a)
                {
                    case ulong u64: packed.Add(u64); break;
                    case long s64: packed.Add(s64); break;
                    case uint u32: packed.Add(u32); break;
                    case int s32: packed.Add(s32); break;
                    case float f32: packed.Add(f32); break;
                    default:
                        throw new ArgumentException($"kernel argument {packed.Count} of type {a?.GetType().Name ?? "null"} for {kernel}: only ulong, long, uint, int and float are passed.", nameof(args));
                }
            }
            return packed;
        }
        catch
        {
            packed.Dispose();
            throw;
        }
    }

    /// <summary>Whether argument <paramref name="index"/> was packed from a floating-point value (float for .f32, double for .f64).</summary>
    public bool IsFloat(int index) => _floats[index];

    public KernelArguments Add<T>(T value) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(_slots == null, this);
        if (sizeof(T) > SlotBytes) throw new ArgumentException($"a kernel argument of {sizeof(T)} bytes exceeds the {SlotBytes}-byte slot.", nameof(value));
        if (Count == _capacity) throw new InvalidOperationException($"at most {_capacity} kernel arguments.");
        byte* slot = _slots + Count * SlotBytes;
        *(T*)slot = value;
        _sizes[Count] = sizeof(T);
        _floats[Count] = typeof(T) == typeof(float) || typeof(T) == typeof(double);
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
