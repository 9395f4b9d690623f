using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using GpuConv.Cpu.Phases;

namespace GpuConv.Cpu.Winograd;

/// <summary>
/// <see cref="F2x2"/>'s transforms in ymm registers (AVX2): the same code (<see cref="F2x2Transforms"/>) at 8 lanes,
/// so the same results as the AVX-512 variant, bit for bit.
/// </summary>
internal readonly unsafe struct F2x2Avx2 : IWinogradTiles
{
    public static int Tile => 2;

    public static void TransformFilter(float* f, float* u, nint step) => F2x2.TransformFilter(f, u, step);

    public static void TransformFilterLanes(Vector256<float>* f, Vector256<float>* u) => F2x2.TransformFilterLanes(f, u);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransformInput(float* padded, in StridePhaseLayout l, int cg, int tr0, int tr1, int tileCols, float* v) =>
        F2x2Transforms.Input<Vector256<float>, TransformWidth256>(padded, l, cg, tr0, tr1, tileCols, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransformOutput(float* m, int tiles, int tileCols, int tr0, int outH, int outW, float* stage) =>
        F2x2Transforms.Output<Vector256<float>, TransformWidth256>(m, tiles, tileCols, tr0, outH, outW, stage);
}
