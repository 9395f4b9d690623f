using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using GpuConv.Cpu.Phases;

namespace GpuConv.Cpu.Winograd;

/// <summary>
/// <see cref="F4x4"/>'s transforms in ymm registers (AVX2): the same code (<see cref="F4x4Transforms"/>) at 8 lanes,
/// so the same results as the AVX-512 variant, bit for bit. AVX2 has no compress: the lanes of real tiles are gathered
/// to the front by a permutation from a 256-entry table, then stored masked (<see cref="TransformWidth256"/>).
/// </summary>
internal readonly unsafe struct F4x4Avx2 : IWinogradTiles
{
    public static int Tile => 4;

    public static void TransformFilter(float* f, float* u, nint step) => F4x4.TransformFilter(f, u, step);

    public static void TransformFilterLanes(Vector256<float>* f, Vector256<float>* u) => F4x4.TransformFilterLanes(f, u);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransformInput(float* padded, in StridePhaseLayout l, int cg, int tr0, int tr1, int tileCols, float* v) =>
        F4x4Transforms.Input<Vector256<float>, TransformWidth256>(padded, l, cg, tr0, tr1, tileCols, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransformOutput(float* m, int tiles, int tileCols, int tr0, int outH, int outW, float* stage) =>
        F4x4Transforms.Output<Vector256<float>, TransformWidth256>(m, tiles, tileCols, tr0, outH, outW, stage);
}
