using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// Depthwise 7x7 stride 1 and 5x5 stride 1 or 2 (ConvNeXt's layers; EfficientNet's and MobileNetV3's 5x5 ones) 16 channels at a time
/// in a channel-last layout ([row][column][16 channels]): every vector is one pixel of 16 channels, so no lane is
/// wasted on a plane width that is not a multiple of 16 (56, 28, 14 and 7 columns left 1/8 of the lanes idle in
/// <see cref="DepthwiseStrips"/> and <see cref="DepthwiseNarrow"/>, which also paid a mask conversion per load). An
/// output row goes in chunks of seven pixels: for each kernel row, the row's K weight vectors and the chunk's 6 + K
/// input pixels are each loaded once and every input pixel feeds the up to K outputs that read it (7 × 7: 49 FMAs from
/// 20 loads; 5 × 5: 35 from 16; seven accumulators). Nothing is padded: kernel rows outside the plane are not visited
/// and edge chunks skip the input columns outside it, so only taps inside the plane cost an FMA (7 × 7 planes: 37² of
/// 49² per channel). The 16 planes go in by <see cref="ChannelLastScatter.Contiguous"/> and out by
/// <see cref="BlockTranspose"/>, which adds the bias and applies ReLU / ReLU6 on the way. One thread, ConvNeXt-T's
/// 7x7 layers at 56², 28², 14², 7²: 0.41, 0.21, 0.11, 0.083 ms by the strips / paired-rows kernels, 0.29, 0.14, 0.067,
/// 0.034 ms so (ONNX Runtime 0.335, 0.173, 0.096, 0.048); the multiply-adds run at about the FMA peak, the transposes
/// in and out are most of the rest. 5x5: see <see cref="Applies"/>. The chunk loops themselves are generated
/// (DepthwiseChannelLast.Chunks.cs, build/generate-channel-last-chunks.py).
/// </summary>
internal static unsafe partial class DepthwiseChannelLast
{
    public const int Lanes = 16;

    /// <summary>Output pixels per chunk: ConvNeXt's and EfficientNet's widths (56, 28, 14, 7) are multiples of seven.</summary>
    internal const int Chunk = 7;

    /// <summary>
    /// 2-D 7x7 stride 1 or 5x5 stride 1 or 2, no dilation, one filter per channel, at least one block of 16 channels, on
    /// hardware with Vector512; planes of at most 64 × 64 pixels, so one block's scratch stays in L2
    /// (ConvNeXt's largest is 56 × 56: 0.6 MB). 5x5, one thread, `gpuconv bench` against the kernels that ran them
    /// before (strips on 28² and 14², paired rows on 7²): EfficientNet-B0's 28² × 240 0.148 → 0.113 ms, 14² × 480
    /// 0.086 → 0.057, 14² × 672 0.12 → 0.081, 7² × 1152 0.062 → 0.039; MobileNetV3-Large's 28² × 120 0.074 → 0.056,
    /// 7² × 960 0.051 → 0.032 (ONNX Runtime's single-layer models 0.150, 0.087, 0.124, 0.050, 0.082, 0.042). 5x5 stride 2
    /// (strips and paired rows before; three alternated rounds): 56² × 144 0.160–0.170 → 0.117–0.120 ms, 56² × 72
    /// 0.081–0.085 → 0.064–0.066, 14² × 672 0.052–0.053 → 0.049–0.052.
    /// </summary>
    public static bool Applies(in Geometry g, int multiplier, int channels) =>
        Vector512.IsHardwareAccelerated && multiplier == 1 && channels >= Lanes &&
        g.InD == 1 && g.OutD == 1 && g.KD == 1 && g.KH == g.KW && g.KH is 5 or 7 &&
        g.SH == g.SW && (g.SH == 1 || (g.SH == 2 && g.KH == 5)) && g.DH == 1 && g.DW == 1 &&
        (long)g.InH * g.InW <= 64 * 64 && (long)g.OutH * g.OutW <= 64 * 64;

    /// <summary>Floats of per-worker scratch: the input block, the output block (plus one chunk of overhang) and the weights.</summary>
    public static long ScratchFloats(in Geometry g) =>
        ((long)g.InH * g.InW + (long)g.OutH * g.OutW + Chunk + (long)g.KH * g.KW) * Lanes;

    /// <summary>
    /// Channels c0 … c0+15 of one image: x, w, y point at channel c0's plane / filter / plane. y gets
    /// bias + Σ w·x, then <paramref name="activation"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Block(in Geometry g, float* x, float* w, float* y, float* bias, Activation activation, float* scratch)
    {
        nint inPlane = (nint)g.InH * g.InW, outPlane = (nint)g.OutH * g.OutW;
        float* xb = scratch;
        float* yb = xb + inPlane * Lanes;
        float* wb = yb + (outPlane + Chunk) * Lanes;
        ChannelLastScatter.Contiguous(x, inPlane, (int)inPlane, xb);
        int taps = g.KH * g.KW;
        BlockTranspose.ToPlanes(w, taps, Lanes, taps, wb, Lanes, null);
        Rows<Loops512>(g, xb, wb, yb, Lanes);
        BlockTranspose.ToPlanes(yb, Lanes, (int)outPlane, Lanes, y, outPlane, bias, activation);
    }

    /// <summary>
    /// yb[oh, ow] = Σ over the taps inside the plane of wb[dh, dw] · xb[oh − ph + dh, ow − pw + dw], vectors of
    /// <paramref name="lanes"/> channels: kernel rows outside the plane are not visited, and chunks that reach into the
    /// left or right padding skip the input columns there (so nothing outside the plane is read and there is nothing to
    /// zero). A chunk that overhangs its row writes the next row's first pixels, which that row then overwrites; the last
    /// row's overhang goes to the scratch's spare chunk. <typeparamref name="TLoops"/> runs the chunks at its width
    /// (this kernel's zmm loops, or <see cref="DepthwiseChannelLastAvx2"/>'s ymm ones).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Rows<TLoops>(in Geometry g, float* xb, float* wb, float* yb, int lanes) where TLoops : struct, IChunkLoops
    {
        int outH = g.OutH, outW = g.OutW, ph = g.PH, pw = g.PW, inH = g.InH, inW = g.InW, k = g.KH, s = g.SH;
        nint rowStride = (nint)inW * lanes;
        // Input pixels a chunk reads: (Chunk − 1)·stride + K.
        int reads = (Chunk - 1) * s + k;
        for (int oh = 0; oh < outH; oh++)
        {
            int top = oh * s - ph;   // input row of kernel row 0
            int dh0 = Math.Max(0, -top), dh1 = Math.Min(k, inH - top);
            if (dh1 <= dh0) dh0 = dh1 = 0;  // every tap in the padding: the chunks store zeros
            float* yRow = yb + (nint)oh * outW * lanes;
            for (int ow0 = 0; ow0 < outW; ow0 += Chunk)
            {
                // Input column of the chunk's first read, and the span of its reads inside the row.
                int c0 = ow0 * s - pw;
                int lo = Math.Max(0, -c0), hi = Math.Min(reads, inW - c0);
                float* r = xb + (top + dh0) * rowStride + (nint)c0 * lanes;
                float* o = yRow + (nint)ow0 * lanes;
                float* wr = wb + dh0 * k * lanes;
                TLoops.Run(k, s, lo == 0 && hi == reads, r, rowStride, wr, dh1 - dh0, o, lo, hi);
            }
        }
    }

    /// <summary>One chunk of seven outputs at a vector width: the generated loop for (K, stride), interior or edge.</summary>
    internal interface IChunkLoops
    {
        static abstract void Run(int k, int s, bool interior, float* r, nint rowStride, float* wr, int rows, float* o, int lo, int hi);
    }

    /// <summary>This kernel's zmm chunk loops.</summary>
    readonly struct Loops512 : IChunkLoops
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run(int k, int s, bool interior, float* r, nint rowStride, float* wr, int rows, float* o, int lo, int hi)
        {
            switch (k, s)
            {
                case (7, 1) when interior: ChunkOf7<Interior>(r, rowStride, wr, rows, o, 0, hi); break;
                case (7, 1): ChunkOf7<Edge>(r, rowStride, wr, rows, o, lo, hi); break;
                case (5, 1) when interior: ChunkOf5<Interior>(r, rowStride, wr, rows, o, 0, hi); break;
                case (5, 1): ChunkOf5<Edge>(r, rowStride, wr, rows, o, lo, hi); break;
                case (5, 2) when interior: ChunkOf5Stride2<Interior>(r, rowStride, wr, rows, o, 0, hi); break;
                case (5, 2): ChunkOf5Stride2<Edge>(r, rowStride, wr, rows, o, lo, hi); break;
                default: throw new InvalidOperationException($"channel-last depthwise: no chunk loop for {k}x{k} stride {s} (Applies admits none).");
            }
        }
    }

    /// <summary>Whether a chunk checks its input columns (<see cref="Edge"/>) or reads all (Chunk − 1) · stride + K of them (<see cref="Interior"/>).</summary>
    internal interface IColumns { static abstract bool Checked { get; } }
    internal struct Interior : IColumns { public static bool Checked => false; }
    internal struct Edge : IColumns { public static bool Checked => true; }

    /// <summary>acc + w·v, fused (one rounding).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Fma(Vector512<float> w, Vector512<float> v, Vector512<float> acc) => Vector512.FusedMultiplyAdd(w, v, acc);
}
