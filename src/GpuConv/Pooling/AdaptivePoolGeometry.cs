using System.Runtime.CompilerServices;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// An adaptive pool's problem as the CPU loops (Cpu/Pooling/CpuAdaptivePooling.cs) and kernels/adaptive_pool.ptx both see it:
/// ranks 1–3 as 3-d with unit leading dimensions, and N·C independent planes. PyTorch's windows: output o of a
/// dimension with input size <c>in</c> and output size <c>out</c> covers inputs [⌊o·in/out⌋, ⌈(o+1)·in/out⌉), never
/// empty, overlapping by one where out does not divide in; input i lies in the windows of outputs
/// [⌊i·out/in⌋, ⌈(i+1)·out/in⌉). Every size fits an int: <see cref="Of"/> refuses tensors of 2^31 elements or more.
/// <para>
/// The one definition both implement, bit for bit:
/// max: m = −∞ and the index the window's first element; over the window in (d, h, w) order m = v (and the index v's)
/// when v &gt; m or v is NaN — PyTorch's adaptive_max_pool (a NaN wins and stays; of equal values the first is kept;
/// a window of −∞ points at its first element).
/// avg: sum = +0 plus the window's inputs in (d, h, w) order, one fp32 add each; out = sum / kd / kh / kw, three IEEE
/// divisions by the window's extents in turn (PyTorch 1.13's CPU order: the same bits, where one division by the
/// product differs in about 2 % of outputs).
/// Backward: dx[i] = +0 plus, for every output o whose window holds i in ascending o, dy[o] (max: where o's index is i)
/// or dy[o] / kd / kh / kw (avg: PyTorch's grad_delta).
/// </para>
/// </summary>
internal readonly record struct AdaptivePoolGeometry(int Planes, int InD, int InH, int InW, int OutD, int OutH, int OutW)
{
    /// <summary>Output elements (every plane).</summary>
    public long OutputCount => (long)Planes * OutD * OutH * OutW;
    /// <summary>Input elements of one plane.</summary>
    public int PlaneSize => InD * InH * InW;
    /// <summary>Output elements of one plane.</summary>
    public int OutPlaneSize => OutD * OutH * OutW;

    /// <summary>The first input of output <paramref name="o"/>'s window: ⌊o·in/out⌋.</summary>
    public static int Start(int o, int input, int output) => (int)((long)o * input / output);

    /// <summary>One past the last input of output <paramref name="o"/>'s window: ⌈(o+1)·in/out⌉.</summary>
    public static int End(int o, int input, int output) => (int)(((long)(o + 1) * input + output - 1) / output);

    /// <summary>The first output whose window holds input <paramref name="i"/>: ⌊i·out/in⌋.</summary>
    public static int FirstOutput(int i, int input, int output) => (int)((long)i * output / input);

    /// <summary>One past the last output whose window holds input <paramref name="i"/>: ⌈(i+1)·out/in⌉.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int EndOutput(int i, int input, int output) => (int)(((long)(i + 1) * output + input - 1) / input);

    /// <summary>
    /// The geometry of pooling <paramref name="input"/> to <paramref name="output"/> (shapes checked by the caller).
    /// <see cref="ArgumentException"/> (parameter <paramref name="inputName"/>) when either tensor has 2^31 elements or more.
    /// </summary>
    public static AdaptivePoolGeometry Of(TensorShape input, TensorShape output, string inputName = "x")
    {
        if (input.ElementCount > int.MaxValue || output.ElementCount > int.MaxValue)
            throw new ArgumentException(
                $"{inputName} has shape {input} ({input.ElementCount} elements) and the pool's output {output} ({output.ElementCount}); pooling takes tensors below 2^31 elements (32-bit indices).",
                inputName);
        int rank = input.Rank - 2, lead = PoolSpec.MaxRank - rank;
        Span<int> i3 = [1, 1, 1], o3 = [1, 1, 1];
        for (int d = 0; d < rank; d++)
        {
            i3[lead + d] = input.Dims[2 + d];
            o3[lead + d] = output.Dims[2 + d];
        }
        return new AdaptivePoolGeometry(input.Dims[0] * input.Dims[1], i3[0], i3[1], i3[2], o3[0], o3[1], o3[2]);
    }

    /// <summary>
    /// [N, C, outputSize…] for <paramref name="input"/> [N, C, spatial…] (1–3 spatial dimensions); <paramref name="outputSize"/>
    /// holds one size (for every dimension) or one per spatial dimension, each at least 1 (PyTorch's output_size).
    /// Throws <see cref="ArgumentException"/> naming <paramref name="inputName"/> or outputSize.
    /// </summary>
    public static TensorShape OutputShape(TensorShape input, IReadOnlyList<int> outputSize, string inputName = "x")
    {
        ArgumentNullException.ThrowIfNull(input, inputName);
        ArgumentNullException.ThrowIfNull(outputSize);
        if (input.Rank is < 3 or > 2 + PoolSpec.MaxRank)
            throw new ArgumentException($"{inputName} has shape {input}; an adaptive pool needs [N, C] and 1 to {PoolSpec.MaxRank} spatial dimensions.", inputName);
        int rank = input.Rank - 2;
        if (outputSize.Count != 1 && outputSize.Count != rank)
            throw new ArgumentException($"outputSize has {outputSize.Count} values ([{string.Join(", ", outputSize)}]); {inputName} {input} has {rank} spatial dimension(s), so give 1 or {rank}.", nameof(outputSize));
        var dims = new int[input.Rank];
        dims[0] = input.Dims[0];
        dims[1] = input.Dims[1];
        for (int d = 0; d < rank; d++)
        {
            int size = outputSize.Count == 1 ? outputSize[0] : outputSize[d];
            if (size < 1)
                throw new ArgumentException($"outputSize[{(outputSize.Count == 1 ? 0 : d)}] must be at least 1, got {size} (outputSize = [{string.Join(", ", outputSize)}]).", nameof(outputSize));
            if (input.Dims[2 + d] < 1)
                throw new ArgumentException($"{inputName} has shape {input}: spatial dimension {d} is empty, and an adaptive pool's windows need at least one element.", inputName);
            dims[2 + d] = size;
        }
        return new TensorShape(dims);
    }
}
