namespace GpuConv.Cpu;

/// <summary>
/// The activation of ForwardBiasActivation applied by the CPU convolutions themselves: each task runs it on the output
/// region it has just written (conv + bias), while that region is still in cache, instead of a separate pass over the
/// whole output afterwards. It is <see cref="CpuElementwise"/>'s loop on each row, so every element gets the same IEEE
/// operations, hence the same bits, as the element-wise op over the whole tensor (that loop's result does not depend on
/// where a row starts or ends).
/// </summary>
internal static unsafe class CpuActivation
{
    /// <summary>act(v) in place on <paramref name="n"/> floats at <paramref name="p"/>; Identity does nothing.</summary>
    public static void Apply(Activation act, float* p, nint n)
    {
        if (act == Activation.Identity || n <= 0) return;
        var op = ConvEngine.ActivationOp(act);
        // Spans hold at most int.MaxValue elements: a longer run goes in parts (the loop's bits do not depend on the cut).
        while (n > 0)
        {
            int part = (int)Math.Min(n, 1 << 30);
            var span = new Span<float>(p, part);
            CpuElementwise.Run(op, span, default, 0f, span);
            p += part;
            n -= part;
        }
    }

    /// <summary>act in place on <paramref name="rows"/> rows of <paramref name="length"/> floats, <paramref name="stride"/> apart.</summary>
    public static void Rows(Activation act, float* first, nint stride, int rows, nint length)
    {
        if (act == Activation.Identity) return;
        if (stride == length)
        {
            Apply(act, first, length * rows);
            return;
        }
        for (int r = 0; r < rows; r++) Apply(act, first + r * stride, length);
    }
}
