using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// A pool's problem as the CPU loops (Cpu/Pooling/CpuPooling.cs) and the kernels (kernels/pool.ptx) both see it: ranks 1–3
/// as 3-d with unit leading dimensions (size 1, kernel 1, stride 1, padding 0, dilation 1), and N·C independent
/// planes. Every size here fits an int: <see cref="Of"/> refuses tensors of 2^31 elements or more.
/// <para>
/// The one definition both implement, bit for bit (PyTorch's CPU kernels, float32):
/// max: m = −∞; over the window's taps in (d, h, w) order, skipping those in the padding, m = v when v &gt; m or v is
/// NaN (so a NaN wins and stays, as PyTorch propagates it; of equal values the first is kept, so max(−0, +0) is −0);
/// a window with no tap inside the input gives −∞.
/// avg: start = o·s − p and end = min(start + k, in + p) per dimension; the window's padded size is the product of
/// (end − start); then start and end are clipped to [0, in]; sum = +0 plus the inputs of the clipped window in (d, h, w)
/// order, one fp32 add each; out = sum / divisor (one IEEE division), the divisor being the padded size
/// (count_include_pad) or the clipped one.
/// </para>
/// </summary>
internal readonly record struct PoolGeometry(
    int Planes, int InD, int InH, int InW, int OutD, int OutH, int OutW,
    int KD, int KH, int KW, int SD, int SH, int SW, int PD, int PH, int PW, int DlD, int DlH, int DlW,
    bool CountIncludePad)
{
    /// <summary>Output elements (every plane).</summary>
    public long OutputCount => (long)Planes * OutD * OutH * OutW;
    /// <summary>Input elements of one plane.</summary>
    public int PlaneSize => InD * InH * InW;

    /// <summary>
    /// The geometry of <paramref name="spec"/> on <paramref name="input"/> (shapes checked by the caller).
    /// <see cref="ArgumentException"/> (parameter <paramref name="inputName"/>) when either tensor has 2^31 elements or more.
    /// </summary>
    public static PoolGeometry Of(PoolSpec spec, TensorShape input, TensorShape output, string inputName = "x")
    {
        // Planes (N·C) and PlaneSize are ints and the kernels index in 32 bits: past 2^31 elements they would wrap
        // (a 2^32-element plane has PlaneSize 0) and read the wrong elements, so refuse before any allocation or launch.
        if (input.ElementCount > int.MaxValue || output.ElementCount > int.MaxValue)
            throw new ArgumentException(
                $"{inputName} has shape {input} ({input.ElementCount} elements) and the pool's output {output} ({output.ElementCount}); pooling takes tensors below 2^31 elements (32-bit indices).",
                inputName);
        int lead = PoolSpec.MaxRank - spec.Rank;
        // On the stack: the engine builds a geometry per call, and a warm call allocates nothing.
        Span<int> i3 = [1, 1, 1], o3 = [1, 1, 1], k = [1, 1, 1], s = [1, 1, 1], p = [0, 0, 0], dl = [1, 1, 1];
        for (int d = 0; d < spec.Rank; d++)
        {
            i3[lead + d] = input.Dims[2 + d];
            o3[lead + d] = output.Dims[2 + d];
            k[lead + d] = spec.Kernel[d];
            s[lead + d] = spec.StrideOf(d);
            p[lead + d] = spec.PaddingOf(d);
            dl[lead + d] = spec.DilationOf(d);
        }
        return new PoolGeometry(input.Dims[0] * input.Dims[1], i3[0], i3[1], i3[2], o3[0], o3[1], o3[2],
            k[0], k[1], k[2], s[0], s[1], s[2], p[0], p[1], p[2], dl[0], dl[1], dl[2], spec.CountIncludePad);
    }
}
