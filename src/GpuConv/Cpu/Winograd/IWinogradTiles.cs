using System.Runtime.Intrinsics;
using GpuConv.Cpu.Phases;

namespace GpuConv.Cpu.Winograd;

/// <summary>
/// The transforms of one Winograd F(m × m, 3 × 3) variant, for the shared driver <see cref="Winograd3x3"/>:
/// an m × m output tile is A^T [ (G w G^T) ⊙ (B^T d B) ] A over its (m + 2) × (m + 2) input patch d, so
/// the driver runs (m + 2)² GEMMs, one per element ξ of the transform. Implemented by structs so that the
/// driver's generic code is compiled once per variant with the transforms inlined.
/// </summary>
internal unsafe interface IWinogradTiles
{
    /// <summary>Outputs per tile side (m); the patches are m + 2 wide and m apart.</summary>
    static abstract int Tile { get; }

    /// <summary>U = G f G^T of one 3 × 3 filter <paramref name="f"/> (row-major): element ξ = (m + 2)·i + j to <paramref name="u"/>[ξ · <paramref name="step"/>].</summary>
    static abstract void TransformFilter(float* f, float* u, nint step);

    /// <summary>
    /// <see cref="TransformFilter"/> of 8 filters at once: lane l of <paramref name="f"/>[t] is tap t of filter l, lane l of
    /// <paramref name="u"/>[ξ] gets element ξ of its U — the same operations per lane, so the same bits.
    /// </summary>
    static abstract void TransformFilterLanes(Vector256<float>* f, Vector256<float>* u);

    /// <summary>
    /// V_ξ[c][tile] = (B^T d B)_ξ for tile rows [tr0, tr1) of every channel of <paramref name="padded"/> (phase
    /// planes at stride m, layout <paramref name="l"/>, <paramref name="cg"/> planes): V is ξ-major, then
    /// channel, then the run's tiles back to back.
    /// </summary>
    static abstract void TransformInput(float* padded, in StridePhaseLayout l, int cg, int tr0, int tr1, int tileCols, float* v);

    /// <summary>
    /// Y = A^T M A of every tile of the run (M: ξ-major, then tile, then 64 channels) into the stage: pixel-major
    /// rows of 64 channels for output rows m·tr0 …; outputs past the plane's edge are dropped.
    /// </summary>
    static abstract void TransformOutput(float* m, int tiles, int tileCols, int tr0, int outH, int outW, float* stage);
}
