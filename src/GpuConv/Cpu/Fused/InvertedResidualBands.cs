using System.Runtime.CompilerServices;
using GpuConv.Cpu.Depthwise;
using GpuConv.Cpu.Elementwise;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;

namespace GpuConv.Cpu.Fused;

/// <summary>
/// One inverted residual block (MobileNetV2's expand 1×1 → depthwise → project 1×1) on host arrays, in bands of output
/// rows: for each band the expansion computes just the input rows the depthwise layer reads, into a worker's scratch,
/// the depthwise layer writes the band's rows into scratch too, and the projection writes the band's rows of y (with
/// x's added where the block has a residual). The expanded tensor and the depthwise output never exist whole: at 112 × 112 × 96 (4.8 MB) they leave the caches
/// between the three separate layers, and writing them back and reading them again cost MobileNetV2 about as much as
/// computing them. A task runs consecutive bands and keeps the input rows two bands share (3×3 stride 1: two rows)
/// instead of computing them again. Without a projection (a block whose squeeze-and-excitation needs the whole
/// depthwise output first: EfficientNet) the depthwise rows go straight into y.
/// </summary>
internal static unsafe class InvertedResidualBands
{
    /// <summary>
    /// Floats of a band's expanded rows and depthwise rows together, about (512 KiB: in L2 beside the GEMM's packed
    /// operands; MobileNetV2's 112 × 112 × 96 expansion runs in bands of 4 output rows, its 56 × 56 × 144 ones in 8).
    /// </summary>
    internal const long DefaultBandFloats = 128 * 1024;

    /// <summary><see cref="DefaultBandFloats"/>; the tests set a few Ki to put many bands, and every edge case, on small planes.</summary>
    internal static long BandFloats { get; set; } = DefaultBandFloats;

    /// <summary>
    /// The block's arrays and sizes: x [N, C, H, W] → y [N, COut, OutH, OutW] (y = x + … when Residual; y apart from x);
    /// without a projection y is the depthwise output [N, E, OutH, OutW] (COut = E).
    /// </summary>
    internal readonly struct Block
    {
        public float* X { get; init; }
        public float* Y { get; init; }
        /// <summary>[E, C] and [E]; null when the block has no expansion (then E = C and the depthwise layer reads x).</summary>
        public float* ExpandWeight { get; init; }
        public float* ExpandBias { get; init; }
        /// <summary>[E, KH·KW] and [E].</summary>
        public float* DepthwiseWeight { get; init; }
        public float* DepthwiseBias { get; init; }
        /// <summary>[COut, E] and [COut]; null when the block stops after the depthwise layer.</summary>
        public float* ProjectWeight { get; init; }
        public float* ProjectBias { get; init; }
        public int N { get; init; }
        public int C { get; init; }
        public int E { get; init; }
        public int COut { get; init; }
        /// <summary>The depthwise layer's geometry on a whole plane (H × W → OutH × OutW).</summary>
        public ConvGeometry Depthwise { get; init; }
        /// <summary>After the expansion and after the depthwise layer (the projection is linear).</summary>
        public Activation Activation { get; init; }
        /// <summary>x added to the projection (stride 1, COut = C).</summary>
        public bool Residual { get; init; }
    }

    /// <summary>
    /// Whether the depthwise layer is 3×3 with a plane kernel that reads unpadded rows (<see cref="Depthwise3x3"/> on
    /// AVX-512, <see cref="Depthwise3x3Avx2"/> on AVX2), which a band of rows with its own top padding can be handed to.
    /// Wider kernels are left to the layer calls: EfficientNet-B0's 28 × 28 × 240 5×5 block (strips kernel, bands of
    /// seven rows) ran 926 µs in bands against 629 as two calls at one thread, its 56 × 56 × 144 5×5 stride-2 one 1008
    /// against 706 with warm caches and only 8 % faster cold. A band must also give the expansion's GEMM at least
    /// <see cref="MinBandColumns"/> columns: MobileNetV3-Large's 14 × 14 × 672 block ran in bands of four rows
    /// (56 columns) at 692 µs inside the network.
    /// </summary>
    public static bool Applies(in ConvGeometry g, int e, GemmTier tier) =>
        g.InD == 1 && g.OutD == 1 && g.OutH >= 2 && KernelFor(g, tier) is not null
        && (long)BandRows(e, g) * g.SH * g.InW >= MinBandColumns;

    /// <summary>256 (eight of the GEMM's 32-column tiles); the tests set 0 to band small planes too.</summary>
    internal static int MinBandColumns { get; set; } = 256;

    static DepthwiseKernel? KernelFor(in ConvGeometry g, GemmTier tier) =>
        CpuForward.PlaneKernelFor(g, 1, tier) is var k && k is DepthwiseKernel.ThreeByThree or DepthwiseKernel.ThreeByThreeAvx2 ? k : null;

    /// <summary>
    /// Output rows per band: about as many as fit <see cref="BandFloats"/> with their expanded and depthwise rows, as a
    /// whole number of the depthwise kernel's four-row blocks (a band of 7 rows ran as blocks of 4 and 3).
    /// </summary>
    internal static int BandRows(int e, in ConvGeometry g)
    {
        long perRow = (long)e * ((long)g.SH * g.InW + g.OutW);
        long fixedRows = (long)e * (g.KH - g.SH) * g.InW;
        long rows = (BandFloats - fixedRows + 2 * perRow) / Math.Max(1, perRow) / 4 * 4;
        return (int)Math.Clamp(rows, 4, Math.Max(4, g.OutH));
    }

    /// <summary>Runs the block on <paramref name="workers"/> (bands of every image split over them).</summary>
    public static void Run(in Block b, GemmTier tier, CpuWorkers workers)
    {
        int rows = BandRows(b.E, b.Depthwise);
        int bands = (b.Depthwise.OutH + rows - 1) / rows;
        int units = b.N * bands;
        // Two tasks per thread (dynamic claiming evens them out), one on a single thread: each task computes its first
        // band's shared rows again.
        int tasks = workers.Threads <= 1 ? 1 : Math.Min(units, workers.Threads * 2);
        workers.For(tasks, new Bands(b, tier, rows, bands, units, tasks));
    }

    /// <summary>Task t: units (image, band) from t·units/tasks on, in order; band i is output rows [i·rows, (i + 1)·rows).</summary>
    readonly struct Bands(Block b, GemmTier tier, int rows, int bands, int units, int tasks) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            var g = b.Depthwise;
            int u0 = (int)((long)units * t / tasks), u1 = (int)((long)units * (t + 1) / tasks);
            int maxOut = Math.Min(rows, g.OutH);
            int maxIn = Math.Min(g.InH, (maxOut - 1) * g.SH + g.KH);
            // Scratch: the expanded rows ([E][maxIn][InW]; unused without an expansion), then the depthwise rows ([E][band rows · OutW]).
            long expandedFloats = b.ExpandWeight == null ? 0 : (long)b.E * maxIn * g.InW;
            bool project = b.ProjectWeight != null;
            float* scratch = ws.Get(WorkspaceSlot.Columns, expandedFloats + (project ? (long)b.E * maxOut * g.OutW : 0));
            float* expanded = scratch, depthwiseRows = scratch + expandedFloats;
            var kernel = KernelFor(g, tier)!.Value;
            float* dwScratch = kernel == DepthwiseKernel.ThreeByThreeAvx2
                ? ws.Get(WorkspaceSlot.Rows, Depthwise3x3Avx2.ScratchFloats(g)) : null;
            long xImage = (long)b.C * g.InH * g.InW, yImage = (long)b.COut * g.OutH * g.OutW;
            int heldImage = -1, held0 = 0, held1 = 0;     // input rows [held0, held1) of heldImage in `expanded`
            for (int u = u0; u < u1; u++)
            {
                int n = u / bands, band = u % bands;
                int r0 = band * rows, r1 = Math.Min(g.OutH, r0 + rows);
                int want0 = r0 * g.SH - g.PH, want1 = (r1 - 1) * g.SH - g.PH + g.KH;
                int in0 = Math.Max(0, want0), in1 = Math.Min(g.InH, want1);
                float* x = b.X + n * xImage;
                float* planes;      // the depthwise input: rows in0.. of each channel
                nint planeStride;
                if (b.ExpandWeight == null)
                {
                    planes = x + (nint)in0 * g.InW;
                    planeStride = (nint)g.InH * g.InW;
                }
                else
                {
                    planeStride = (nint)maxIn * g.InW;
                    int from = in0;
                    if (heldImage == n && held0 <= in0 && in0 < held1)
                    {
                        // The rows this band shares with the last one move to the front of each plane.
                        int keep = held1 - in0;
                        for (int e = 0; e < b.E; e++)
                            Buffer.MemoryCopy(expanded + e * planeStride + (nint)(in0 - held0) * g.InW, expanded + e * planeStride,
                                (long)keep * g.InW * sizeof(float), (long)keep * g.InW * sizeof(float));
                        from = held1;
                    }
                    Expand(b, tier, ws, x, from, in1, expanded + (nint)(from - in0) * g.InW, planeStride);
                    heldImage = n; held0 = in0; held1 = in1;
                    planes = expanded;
                }
                // The band's depthwise rows: its own geometry, with the image's top padding only on the first band; into
                // scratch for the projection, or else into y's rows.
                var bg = g with { InH = in1 - in0, OutH = r1 - r0, PH = in0 - want0 };
                nint outPlane = (nint)(r1 - r0) * g.OutW, yPlane = (nint)g.OutH * g.OutW;
                float* y = b.Y + n * yImage + (nint)r0 * g.OutW;
                float* dwRows = project ? depthwiseRows : y;
                nint dwPlane = project ? outPlane : yPlane;
                for (int e = 0; e < b.E; e++)
                {
                    float* src = planes + e * planeStride, w = b.DepthwiseWeight + (nint)e * g.KH * g.KW, dst = dwRows + e * dwPlane;
                    float bias = b.DepthwiseBias[e];
                    if (kernel == DepthwiseKernel.ThreeByThree) Depthwise3x3.Plane(bg, src, w, dst, bias);
                    else Depthwise3x3Avx2.Plane(bg, src, w, dst, bias, dwScratch);
                    CpuActivation.Apply(b.Activation, dst, outPlane);
                }
                if (!project) continue;
                // The projection: y[:, r0:r1, :] = P · D + bias (+ x's same rows), straight into y's rows.
                Sgemm.Multiply(b.COut, (int)outPlane, b.E, MatrixView.RowMajor(b.ProjectWeight, b.E),
                    MatrixView.RowMajor(depthwiseRows, outPlane), y, yPlane, accumulate: false, tier, ws);
                for (int co = 0; co < b.COut; co++)
                {
                    VectorOps.AddScalar(y + co * yPlane, b.ProjectBias[co], outPlane);
                    if (b.Residual) VectorOps.Add(y + co * yPlane, x + co * yPlane + (nint)r0 * g.OutW, outPlane);
                }
            }
        }
    }

    /// <summary>act(E·x + bias) for input rows [from, to) of image x, into rows of <paramref name="dst"/> (plane stride <paramref name="planeStride"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Expand(in Block b, GemmTier tier, WorkspaceSet ws, float* x, int from, int to, float* dst, nint planeStride)
    {
        if (to <= from) return;
        var g = b.Depthwise;
        int columns = (to - from) * g.InW;
        Sgemm.Multiply(b.E, columns, b.C, MatrixView.RowMajor(b.ExpandWeight, b.C),
            MatrixView.RowMajor(x + (nint)from * g.InW, (nint)g.InH * g.InW), dst, planeStride, accumulate: false, tier, ws);
        for (int e = 0; e < b.E; e++)
            CpuActivation.AddScalar(dst + e * planeStride, b.ExpandBias[e], columns, b.Activation);
    }
}
