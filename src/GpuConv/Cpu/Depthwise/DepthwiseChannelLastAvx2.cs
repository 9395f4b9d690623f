using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GpuConv.Cpu.Gemm;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// <see cref="DepthwiseChannelLast"/> on the Vector256 tier (AVX2 + FMA): the same chunks of seven output pixels and the
/// same fused multiply-adds in the same order, 8 channels a vector ([row][column][8 channels]), so the same bits as the
/// AVX-512 kernel. A 7x7 chunk keeps its seven accumulators and seven weight vectors in 14 of the 16 ymm registers.
/// Before it, these layers ran <see cref="DepthwiseBlockedAvx2"/> (one load per multiply-add) or the padded copy: on this
/// project's Zen 4 with AVX-512 off, MobileNetV3-Large's and EfficientNet-B0's 5x5 layers took 2–3× their AVX-512 time
/// (docs/benchmarks.md, s29). The chunk loops are generated (DepthwiseChannelLastAvx2.Chunks.cs,
/// build/generate-channel-last-chunks.py).
/// </summary>
internal static unsafe partial class DepthwiseChannelLastAvx2
{
    public const int Lanes = 8;

    const int Chunk = DepthwiseChannelLast.Chunk;

    /// <summary><see cref="DepthwiseChannelLast.Applies"/>'s geometries on the Vector256 tier, with at least one block of 8 channels.</summary>
    public static bool Applies(in Geometry g, int multiplier, int channels, GemmTier tier) =>
        tier == GemmTier.Vector256 && Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported && multiplier == 1 && channels >= Lanes &&
        g.InD == 1 && g.OutD == 1 && g.KD == 1 && g.KH == g.KW && g.KH is 5 or 7 &&
        g.SH == g.SW && (g.SH == 1 || (g.SH == 2 && g.KH == 5)) && g.DH == 1 && g.DW == 1 &&
        (long)g.InH * g.InW <= 64 * 64 && (long)g.OutH * g.OutW <= 64 * 64;

    /// <summary>Floats of per-worker scratch: the input block, the output block (plus one chunk of overhang) and the weights.</summary>
    public static long ScratchFloats(in Geometry g) =>
        ((long)g.InH * g.InW + (long)g.OutH * g.OutW + Chunk + (long)g.KH * g.KW) * Lanes;

    /// <summary>
    /// Channels c0 … c0+7 of one image: x, w, y point at channel c0's plane / filter / plane. y gets bias + Σ w·x, then
    /// <paramref name="activation"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Block(in Geometry g, float* x, float* w, float* y, float* bias, Activation activation, float* scratch)
    {
        nint inPlane = (nint)g.InH * g.InW, outPlane = (nint)g.OutH * g.OutW;
        float* xb = scratch;
        float* yb = xb + inPlane * Lanes;
        float* wb = yb + (outPlane + Chunk) * Lanes;
        int taps = g.KH * g.KW;
        // Channel-last in and out by 8 × 8 register tiles (BlockTranspose's AVX tile).
        BlockTranspose.ToPlanes(x, inPlane, Lanes, (int)inPlane, xb, Lanes, null, Lanes);
        BlockTranspose.ToPlanes(w, taps, Lanes, taps, wb, Lanes, null, Lanes);
        DepthwiseChannelLast.Rows<Loops256>(g, xb, wb, yb, Lanes);
        BlockTranspose.ToPlanes(yb, Lanes, (int)outPlane, Lanes, y, outPlane, bias, activation);
    }

    /// <summary>This kernel's ymm chunk loops, for <see cref="DepthwiseChannelLast.Rows"/>.</summary>
    readonly struct Loops256 : DepthwiseChannelLast.IChunkLoops
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run(int k, int s, bool interior, float* r, nint rowStride, float* wr, int rows, float* o, int lo, int hi)
        {
            switch (k, s)
            {
                case (7, 1) when interior: ChunkOf7<DepthwiseChannelLast.Interior>(r, rowStride, wr, rows, o, 0, hi); break;
                case (7, 1): ChunkOf7<DepthwiseChannelLast.Edge>(r, rowStride, wr, rows, o, lo, hi); break;
                case (5, 1) when interior: ChunkOf5<DepthwiseChannelLast.Interior>(r, rowStride, wr, rows, o, 0, hi); break;
                case (5, 1): ChunkOf5<DepthwiseChannelLast.Edge>(r, rowStride, wr, rows, o, lo, hi); break;
                case (5, 2) when interior: ChunkOf5Stride2<DepthwiseChannelLast.Interior>(r, rowStride, wr, rows, o, 0, hi); break;
                case (5, 2): ChunkOf5Stride2<DepthwiseChannelLast.Edge>(r, rowStride, wr, rows, o, lo, hi); break;
                default: throw new InvalidOperationException($"channel-last depthwise (AVX2): no chunk loop for {k}x{k} stride {s} (Applies admits none).");
            }
        }
    }

    /// <summary>acc + w·v, fused (one rounding): the AVX-512 kernel's operation, so the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Fma(Vector256<float> w, Vector256<float> v, Vector256<float> acc) => Vector256.FusedMultiplyAdd(w, v, acc);
}
