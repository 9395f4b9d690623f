using GpuConv.Cpu;

namespace GpuConv.Backends.Ptx;

/// <summary>
/// A problem's spatial geometry widened to 3-d, in the order every geometry-taking kernel in
/// kernels/*.ptx declares it: in_d,h,w, out_d,h,w, k_d,h,w, s_d,h,w, dl_d,h,w, p_d,h,w (begin pads).
/// One place builds these arguments for the backend and for the interpreter tests alike.
/// </summary>
internal static class PtxKernelGeometry
{
    public const int Count = 18;

    /// <summary>Writes the <see cref="Count"/> values into <paramref name="values"/> (a launch packs them without an array).</summary>
    public static void Write(ConvGeometry g, Span<uint> values)
    {
        ReadOnlySpan<uint> all =
        [
            (uint)g.InD, (uint)g.InH, (uint)g.InW, (uint)g.OutD, (uint)g.OutH, (uint)g.OutW,
            (uint)g.KD, (uint)g.KH, (uint)g.KW, (uint)g.SD, (uint)g.SH, (uint)g.SW,
            (uint)g.DD, (uint)g.DH, (uint)g.DW, (uint)g.PD, (uint)g.PH, (uint)g.PW,
        ];
        all.CopyTo(values);
    }
}
