using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace GpuConv.Cuda;

/// <summary>What a kernel argument was packed from, which fixes its width: .u64/.s64 take 8 bytes, .u32/.s32/.f32 take 4.</summary>
internal enum KernelArgumentKind : byte
{
    U64,
    S64,
    U32,
    S32,
    F32,
}

/// <summary>
/// A kernel's argument list for cuLaunchKernel, held on the stack: a launch allocates nothing on the managed heap
/// (the boxed <c>object[]</c> and <see cref="KernelArguments"/>' arrays cost 350–600 B per launch). Add the values in the
/// order of the kernel's .param list, each with the C# type of its .param (.u64 → ulong, .u32 → uint, .f32 → float);
/// the driver reads as many bytes from each slot as the .param declares, whatever was written there, so the width and
/// kind of every argument are kept for tests to hold a launch against the .param list
/// (KernelLaunchSignatureTests). Build one with <c>var args = new KernelArgumentPack(); args.Add(x).Add(n);</c> and
/// pass it by <c>in</c>: the launch points the driver at the slots, which stay put because a ref struct lives on the stack.
/// </summary>
internal ref struct KernelArgumentPack
{
    /// <summary>The most arguments one launch packs (depthwise_fwd_f32 takes 36; the driver allows 4 KiB of parameters).</summary>
    public const int MaxArguments = KernelArguments.MaxArguments;

    [InlineArray(MaxArguments)]
    struct Slots { ulong _first; }

    [InlineArray(MaxArguments)]
    struct Kinds { KernelArgumentKind _first; }

    Slots _slots;
    Kinds _kinds;
    int _count;

    public readonly int Count => _count;

    [UnscopedRef] public ref KernelArgumentPack Add(ulong value) => ref Put(value, KernelArgumentKind.U64);
    [UnscopedRef] public ref KernelArgumentPack Add(long value) => ref Put(value, KernelArgumentKind.S64);
    [UnscopedRef] public ref KernelArgumentPack Add(uint value) => ref Put(value, KernelArgumentKind.U32);
    [UnscopedRef] public ref KernelArgumentPack Add(int value) => ref Put(value, KernelArgumentKind.S32);
    [UnscopedRef] public ref KernelArgumentPack Add(float value) => ref Put(value, KernelArgumentKind.F32);

    [UnscopedRef]
    ref KernelArgumentPack Put<T>(T value, KernelArgumentKind kind) where T : unmanaged
    {
        if (_count == MaxArguments) throw new InvalidOperationException($"at most {MaxArguments} kernel arguments.");
        ref ulong slot = ref _slots[_count];
        // Zeroed first: a value narrower than its .param then reads as zero-extended, never as stale bytes.
        slot = 0;
        Unsafe.As<ulong, T>(ref slot) = value;
        _kinds[_count++] = kind;
        return ref this;
    }

    /// <summary>Argument <paramref name="index"/>'s kind, as added.</summary>
    public readonly KernelArgumentKind KindOf(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _count);
        return _kinds[index];
    }

    /// <summary>Bytes argument <paramref name="index"/> holds (what its .param must declare).</summary>
    public readonly int SizeOf(int index) => KindOf(index) is KernelArgumentKind.U64 or KernelArgumentKind.S64 ? 8 : 4;

    /// <summary>Whether argument <paramref name="index"/> is floating-point (.f32).</summary>
    public readonly bool IsFloat(int index) => KindOf(index) == KernelArgumentKind.F32;

    /// <summary>Writes the address of every slot into <paramref name="pointers"/> (room for <see cref="Count"/>): cuLaunchKernel's kernelParams.</summary>
    internal readonly unsafe void PointTo(void** pointers)
    {
        for (int i = 0; i < _count; i++)
            pointers[i] = Unsafe.AsPointer(ref Unsafe.AsRef(in _slots[i]));
    }

    /// <summary>
    /// The arguments boxed, each as the type it was added with: for the old <c>object[]</c> seam (the PTX interpreter in
    /// tests, <see cref="KernelArguments.From"/>). Allocates; no launch on the device path calls it.
    /// </summary>
    public readonly object[] ToObjects()
    {
        var boxed = new object[_count];
        for (int i = 0; i < _count; i++)
        {
            // Each arm boxed as its own type (a switch of bare numbers would convert them all to float first).
            boxed[i] = _kinds[i] switch
            {
                KernelArgumentKind.U64 => (object)Read<ulong>(i),
                KernelArgumentKind.S64 => (object)Read<long>(i),
                KernelArgumentKind.U32 => (object)Read<uint>(i),
                KernelArgumentKind.S32 => (object)Read<int>(i),
                _ => (object)Read<float>(i),
            };
        }
        return boxed;
    }

    readonly T Read<T>(int index) where T : unmanaged => Unsafe.As<ulong, T>(ref Unsafe.AsRef(in _slots[index]));
}
