using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static GpuConv.Cpu.Depthwise.LaneMasks;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// Backward-filter of a depthwise 3x3 convolution (2-D, stride 1 or 2, no dilation, any padding, any channel
/// multiplier) read straight from the NCHW planes of x and dy (AVX-512): dW[tap] = Σ dy[oh, ow] · x[oh·sh − ph + kh,
/// ow·sw − pw + kw]. No padded copy, no channel-last transpose, no tables and no per-task setup — those had cost
/// more than the sums on MobileNetV2's planes (the copying kernels ran 2–8× the forward at batch 1). Column strips
/// of 16 outputs, down the rows inside a strip: one masked dy load per output row and nine accumulators; the tap
/// columns are masked loads (stride-2 columns picked from two loads by two-source permutes, as in
/// <see cref="Depthwise3x3"/>), input rows outside the plane (the padding) are skipped. The load masks keep only
/// the input columns that the strip's valid output lanes read, so a non-finite x that no output of a tap reads
/// (a padding-side column, the part of a row past the last output) never meets a zero dy lane: the sums are
/// the direct sums. Each (image, output plane) gives nine float32 sums, added into float64 totals in image order.
/// </summary>
internal static unsafe class DepthwiseFilterGradient3x3
{
    const int Lanes = 16;

    /// <summary>The shapes both planar kernels take (this one on the Vector512 tier, <see cref="DepthwiseFilterGradient3x3Avx2"/> on Vector256).</summary>
    public static bool Fits(in Geometry g) =>
        g.InD == 1 && g.OutD == 1 && g.KD == 1 && g.KH == 3 && g.KW == 3 && g.DH == 1 && g.DW == 1 &&
        g.SH is 1 or 2 && g.SW is 1 or 2 &&
        // the column arithmetic stays in int
        (long)g.InW + 2L * g.OutW + 2L * g.PW + 64 < int.MaxValue;

    public static bool Applies(in Geometry g) => Avx512F.IsSupported && Fits(g);

    /// <summary>
    /// totals[p·9 + tap] += Σ over plane p of dy · x at the tap, for the planes x + p·xStride, dy + p·dyStride, p &lt; count
    /// (xStride 0: one input plane for several output planes, a channel multiplier above 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Planes(in Geometry g, float* x, nint xStride, float* dy, nint dyStride, int count, double* totals)
    {
        if (g.SW == 1) DepthwiseFilterGradientStrips.Strips<Vector512<float>, Width512, Stride1Columns, Stride1Columns>(g, x, xStride, dy, dyStride, count, totals);
        else DepthwiseFilterGradientStrips.Strips<Vector512<float>, Width512, Stride2Columns, Stride2Columns>(g, x, xStride, dy, dyStride, count, totals);
    }

    /// <summary>Lanes of columns first … first + 15 inside [0, limit) (a negative limit keeps none).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Columns(int first, int limit) => InRange(first, Math.Max(limit, 0));

    /// <summary>Stride-1 columns: three shifted masked loads; lane i of tap k reads column first + k + i, i &lt; valid.</summary>
    struct Stride1Columns : IStripColumns<Stride1Columns, Vector512<float>>
    {
        Vector512<float> _m0, _m1, _m2;

        public static Stride1Columns At(int first, int inW, int valid) => new()
        {
            _m0 = Columns(first, Math.Min(inW, first + valid)),
            _m1 = Columns(first + 1, Math.Min(inW, first + 1 + valid)),
            _m2 = Columns(first + 2, Math.Min(inW, first + 2 + valid)),
        };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Taps(float* r, out Vector512<float> t0, out Vector512<float> t1, out Vector512<float> t2)
        {
            t0 = Load(r, _m0);
            t1 = Load(r + 1, _m1);
            t2 = Load(r + 2, _m2);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Dy(float* p, Vector512<float> keep) => Load(p, keep);
    }

    /// <summary>
    /// Stride-2 columns r[2i], r[2i + 1], r[2i + 2] picked from 32-column loads with two-source permutes. Lane i
    /// &lt; valid reads columns up to first + 2·valid; the masks stop there, so lanes past valid read zeros.
    /// </summary>
    struct Stride2Columns : IStripColumns<Stride2Columns, Vector512<float>>
    {
        Vector512<float> _lo, _hi, _lo2, _hi2;

        // Inlined by force: the shared row loop is large enough to spend the JIT's inlining budget before these.
        static Vector512<int> Even { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512<int>.Indices * 2; }
        static Vector512<int> Odd { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512<int>.Indices * 2 + Vector512<int>.One; }

        public static Stride2Columns At(int first, int inW, int valid)
        {
            int limit = Math.Min(inW, first + 2 * valid), limit2 = Math.Min(inW, first + 2 * valid + 1);
            return new()
            {
                _lo = Columns(first, limit), _hi = Columns(first + Lanes, limit),
                _lo2 = Columns(first + 2, limit2), _hi2 = Columns(first + 2 + Lanes, limit2),
            };
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Taps(float* r, out Vector512<float> t0, out Vector512<float> t1, out Vector512<float> t2)
        {
            var lo = Load(r, _lo);
            var hi = Load(r + Lanes, _hi);
            t0 = Avx512F.PermuteVar16x32x2(lo, Even, hi);
            t1 = Avx512F.PermuteVar16x32x2(lo, Odd, hi);
            t2 = Avx512F.PermuteVar16x32x2(Load(r + 2, _lo2), Even, Load(r + 2 + Lanes, _hi2));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Dy(float* p, Vector512<float> keep) => Load(p, keep);
    }

    /// <summary>16 lanes, blocks of 4 output rows (AVX-512's 32 registers hold nine sums, four dy rows and the taps).</summary>
    struct Width512 : IStripWidth<Vector512<float>>
    {
        public static int Lanes => 16;
        public static int BlockRows => 4;
        public static bool PlainInterior => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> InRange(int first, int limit) => LaneMasks.InRange(first, limit);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> v, float* p) => Vector512.Store(v, p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Reduce(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3, Vector512<float> a4, Vector512<float> a5, Vector512<float> a6, Vector512<float> a7, Vector512<float> a8, double* totals) =>
            DepthwiseFilterGradientSums.Add(a0, a1, a2, a3, a4, a5, a6, a7, a8, totals);
    }
}
