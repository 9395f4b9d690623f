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

    /// <summary>Output pixels per chunk, as <see cref="DepthwiseChannelLast"/>'s.</summary>
    const int Chunk = 7;

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
        Rows(g, xb, wb, yb);
        BlockTranspose.ToPlanes(yb, Lanes, (int)outPlane, Lanes, y, outPlane, bias, activation);
    }

    /// <summary><see cref="DepthwiseChannelLast"/>'s row walk (kernel rows and chunk columns in the padding not visited).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows(in Geometry g, float* xb, float* wb, float* yb)
    {
        int outH = g.OutH, outW = g.OutW, ph = g.PH, pw = g.PW, inH = g.InH, inW = g.InW, k = g.KH, s = g.SH;
        nint rowStride = (nint)inW * Lanes;
        int reads = (Chunk - 1) * s + k;
        for (int oh = 0; oh < outH; oh++)
        {
            int top = oh * s - ph;
            int dh0 = Math.Max(0, -top), dh1 = Math.Min(k, inH - top);
            if (dh1 <= dh0) dh0 = dh1 = 0;
            float* yRow = yb + (nint)oh * outW * Lanes;
            for (int ow0 = 0; ow0 < outW; ow0 += Chunk)
            {
                int c0 = ow0 * s - pw;
                int lo = Math.Max(0, -c0), hi = Math.Min(reads, inW - c0);
                float* r = xb + (top + dh0) * rowStride + (nint)c0 * Lanes;
                float* o = yRow + (nint)ow0 * Lanes;
                float* wr = wb + dh0 * k * Lanes;
                int rows = dh1 - dh0;
                bool interior = lo == 0 && hi == reads;
                switch (k, s)
                {
                    case (7, 1) when interior: ChunkOf7<Interior>(r, rowStride, wr, rows, o, 0, hi); break;
                    case (7, 1): ChunkOf7<Edge>(r, rowStride, wr, rows, o, lo, hi); break;
                    case (5, 1) when interior: ChunkOf5<Interior>(r, rowStride, wr, rows, o, 0, hi); break;
                    case (5, 1): ChunkOf5<Edge>(r, rowStride, wr, rows, o, lo, hi); break;
                    case (5, 2) when interior: ChunkOf5Stride2<Interior>(r, rowStride, wr, rows, o, 0, hi); break;
                    case (5, 2): ChunkOf5Stride2<Edge>(r, rowStride, wr, rows, o, lo, hi); break;
                    default: throw new InvalidOperationException($"channel-last depthwise (AVX2): no chunk loop for {k}x{k} stride {s} (Applies admits none).");
                }
            }
        }
    }

    /// <summary>Whether a chunk checks its input columns (<see cref="Edge"/>) or reads all (Chunk − 1) · stride + K of them (<see cref="Interior"/>).</summary>
    interface IColumns { static abstract bool Checked { get; } }
    struct Interior : IColumns { public static bool Checked => false; }
    struct Edge : IColumns { public static bool Checked => true; }

    /// <summary>acc + w·v, fused (one rounding): the AVX-512 kernel's operation, so the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Fma(Vector256<float> w, Vector256<float> v, Vector256<float> acc) => Vector256.FusedMultiplyAdd(w, v, acc);
}
