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

    /// <summary>(src, dst, d0..d4 as uint, src strides, dst strides as ulong), as strided_copy_f32 takes them.</summary>
    public static object[] Arguments(ulong source, ulong destination, int[] dims, long[] sourceStrides, long[] destinationStrides)
    {
        if (dims.Length is 0 or > KernelRank || sourceStrides.Length != dims.Length || destinationStrides.Length != dims.Length)
            throw new ArgumentException($"a strided copy takes 1 to {KernelRank} dims with one stride each per side; got dims [{string.Join(", ", dims)}], " +
                $"strides [{string.Join(", ", sourceStrides)}] and [{string.Join(", ", destinationStrides)}].", nameof(dims));
        if (dims.Any(d => d < 1))
            throw new ArgumentException($"every dim must be >= 1; got [{string.Join(", ", dims)}].", nameof(dims));
        int lead = KernelRank - dims.Length;
        var args = new List<object> { source, destination };
        args.AddRange(Enumerable.Repeat(1u, lead).Concat(dims.Select(d => (uint)d)).Cast<object>());
        args.AddRange(Enumerable.Repeat(0UL, lead).Concat(sourceStrides.Select(s => (ulong)s)).Cast<object>());
        args.AddRange(Enumerable.Repeat(0UL, lead).Concat(destinationStrides.Select(s => (ulong)s)).Cast<object>());
        return [.. args];
    }

    public static long ElementCount(int[] dims) => dims.Aggregate(1L, (a, d) => a * d);
}
