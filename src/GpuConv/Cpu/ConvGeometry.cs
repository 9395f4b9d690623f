using System.Collections.Immutable;
using GpuConv.Conv;

namespace GpuConv.Cpu;

/// <summary>
/// The problem's spatial geometry widened to 3-d (leading unit dimensions for ranks 1 and 2), as the
/// fast paths (CPU kernels, im2col, the PTX kernel arguments) read it. The float64 reference does not
/// use it: it keeps its own index arithmetic so that a bug here cannot move judge and judged together.
/// </summary>
internal readonly record struct ConvGeometry(
    int InD, int InH, int InW, int OutD, int OutH, int OutW,
    int KD, int KH, int KW, int SD, int SH, int SW, int DD, int DH, int DW, int PD, int PH, int PW)
{
    /// <summary>Read straight from the problem's dimension lists: it runs on every call, so it allocates nothing.</summary>
    public static ConvGeometry Of(ConvProblem p)
    {
        int lead = 3 - p.Rank;     // leading unit dimensions
        ImmutableArray<int> x = p.XShape.Dims, y = p.YShape.Dims;
        var spec = p.Spec;
        return new ConvGeometry(
            At(x, 0, 2, 1), At(x, 1, 2, 1), At(x, 2, 2, 1), At(y, 0, 2, 1), At(y, 1, 2, 1), At(y, 2, 2, 1),
            At(spec.Kernel, 0, 0, 1), At(spec.Kernel, 1, 0, 1), At(spec.Kernel, 2, 0, 1),
            At(spec.Stride, 0, 0, 1), At(spec.Stride, 1, 0, 1), At(spec.Stride, 2, 0, 1),
            At(spec.Dilation, 0, 0, 1), At(spec.Dilation, 1, 0, 1), At(spec.Dilation, 2, 0, 1),
            At(spec.PadBegin, 0, 0, 0), At(spec.PadBegin, 1, 0, 0), At(spec.PadBegin, 2, 0, 0));

        // Dimension i (0..2) of the widened list whose spatial entries start at index first.
        int At(ImmutableArray<int> v, int i, int first, int fill) => i < lead ? fill : v[first + i - lead];
    }
}
