namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// A row stride as a type (1 or 2), so one generic row loop serves both: the JIT compiles one copy per stride
/// with <see cref="Value"/> a constant and the other stride's branch dropped.
/// </summary>
internal interface IRowStride
{
    static abstract int Value { get; }
}

internal struct RowStride1 : IRowStride
{
    public static int Value => 1;
}

internal struct RowStride2 : IRowStride
{
    public static int Value => 2;
}
