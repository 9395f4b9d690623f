using GpuConv.Cuda;

namespace GpuConv.Backends.Cudnn;

/// <summary>
/// Plan B for the padded copies of asymmetric padding: kernels/strided_copy.ptx, used when cuDNN refuses
/// cudnnTransformTensor on a pointer into the middle of the padded buffer (a BAD_PARAM status). Builds
/// the kernel's arguments: views of up to 5 dims are widened with leading unit dims.
/// </summary>
internal static class StridedCopy
{
    public const string Module = "strided_copy.ptx";
    public const string Entry = "strided_copy_f32";
    const int KernelRank = 5;

    /// <summary>(src, dst, d0..d4 as uint, src strides, dst strides as ulong), as strided_copy_f32 takes them, packed on the stack.</summary>
    public static KernelArgumentPack Pack(ulong source, ulong destination, scoped ReadOnlySpan<int> dims, scoped ReadOnlySpan<long> sourceStrides, scoped ReadOnlySpan<long> destinationStrides)
    {
        if (dims.Length is 0 or > KernelRank || sourceStrides.Length != dims.Length || destinationStrides.Length != dims.Length)
            throw new ArgumentException($"a strided copy takes 1 to {KernelRank} dims with one stride each per side; got dims [{string.Join(", ", dims.ToArray())}], " +
                $"strides [{string.Join(", ", sourceStrides.ToArray())}] and [{string.Join(", ", destinationStrides.ToArray())}].", nameof(dims));
        foreach (int d in dims)
            if (d < 1) throw new ArgumentException($"every dim must be >= 1; got [{string.Join(", ", dims.ToArray())}].", nameof(dims));
        int lead = KernelRank - dims.Length;
        var args = new KernelArgumentPack();
        args.Add(source).Add(destination);
        for (int i = 0; i < lead; i++) args.Add(1u);
        foreach (int d in dims) args.Add((uint)d);
        AddStrides(ref args, lead, sourceStrides);
        AddStrides(ref args, lead, destinationStrides);
        return args;
    }

    // Leading unit dims get stride 0: they have a single index.
    static void AddStrides(ref KernelArgumentPack args, int lead, scoped ReadOnlySpan<long> strides)
    {
        for (int i = 0; i < lead; i++) args.Add(0UL);
        foreach (long s in strides) args.Add((ulong)s);
    }

    /// <summary><see cref="Pack"/> boxed (the object[] seam: the PTX interpreter in tests).</summary>
    public static object[] Arguments(ulong source, ulong destination, int[] dims, long[] sourceStrides, long[] destinationStrides) =>
        Pack(source, destination, dims, sourceStrides, destinationStrides).ToObjects();

    public static long ElementCount(ReadOnlySpan<int> dims)
    {
        long count = 1;
        foreach (int d in dims) count *= d;
        return count;
    }
}
