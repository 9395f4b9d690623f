using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu.Depthwise;

/// <summary>
/// <see cref="DepthwiseFilterGradient3x3"/> for AVX2 machines (the Vector256 tier): the same column strips with 8
/// lanes, read straight from the NCHW planes of x and dy by AVX masked loads (vmaskmovps does not fault on the
/// lanes it drops). Stride-2 columns come from two loads by in-lane shuffles (their lane order, not the
/// outputs', with dy permuted to match once per row). The same masks as the AVX-512 kernel: x lanes that no valid output of the
/// strip reads are zero, so a non-finite x meets no zero dy lane.
/// </summary>
internal static unsafe class DepthwiseFilterGradient3x3Avx2
{
    const int Lanes = 8;

    public static bool Applies(in Geometry g) => Avx2.IsSupported && Fma.IsSupported && DepthwiseFilterGradient3x3.Fits(g);

    /// <summary>
    /// totals[p·9 + tap] += Σ over plane p of dy · x at the tap, for the planes x + p·xStride, dy + p·dyStride, p &lt; count
    /// (xStride 0: one input plane for several output planes, a channel multiplier above 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Planes(in Geometry g, float* x, nint xStride, float* dy, nint dyStride, int count, double* totals)
    {
        if (g.SW == 1) DepthwiseFilterGradientStrips.Strips<Vector256<float>, Width256, Stride1Columns, Stride1Interior>(g, x, xStride, dy, dyStride, count, totals);
        else DepthwiseFilterGradientStrips.Strips<Vector256<float>, Width256, Stride2Columns, Stride2Interior>(g, x, xStride, dy, dyStride, count, totals);
    }

    /// <summary>
    /// Interior strips (every lane a valid output, every column loaded inside the row): plain loads, no masks, which
    /// the JIT can fold into the FMAs. vmaskmovps loads cost more than plain ones, and the three masks and dy's took
    /// registers AVX2 does not have to spare.
    /// </summary>
    struct Stride1Interior : IStripColumns<Stride1Interior, Vector256<float>>
    {
        public static Stride1Interior At(int first, int inW, int valid) => default;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Taps(float* r, out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2)
        {
            t0 = Vector256.Load(r);
            t1 = Vector256.Load(r + 1);
            t2 = Vector256.Load(r + 2);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Dy(float* p, Vector256<float> keep) => Vector256.Load(p);
    }

    /// <summary>Interior stride-2 strips: <see cref="Stride2Columns"/> with plain loads (the shuffles drop the lanes past the last column read).</summary>
    struct Stride2Interior : IStripColumns<Stride2Interior, Vector256<float>>
    {
        public static Stride2Interior At(int first, int inW, int valid) => default;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Taps(float* r, out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2)
        {
            var lo = Vector256.Load(r);
            var hi = Vector256.Load(r + Lanes);
            t0 = Avx.Shuffle(lo, hi, 0b10_00_10_00);
            t1 = Avx.Shuffle(lo, hi, 0b11_01_11_01);
            t2 = Avx.Shuffle(Vector256.Load(r + 2), Vector256.Load(r + 2 + Lanes), 0b10_00_10_00);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Dy(float* p, Vector256<float> keep) => Stride2Columns.Order(Vector256.Load(p));
    }

    /// <summary>Lanes of columns first … first + 7 inside [0, limit) (a negative limit keeps none).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Columns(int first, int limit) => LaneMasks.InRange8(first, Math.Max(limit, 0));

    /// <summary>Stride-1 columns: three shifted masked loads; lane i of tap k reads column first + k + i, i &lt; valid.</summary>
    struct Stride1Columns : IStripColumns<Stride1Columns, Vector256<float>>
    {
        Vector256<float> _m0, _m1, _m2;

        public static Stride1Columns At(int first, int inW, int valid) => new()
        {
            _m0 = Columns(first, Math.Min(inW, first + valid)),
            _m1 = Columns(first + 1, Math.Min(inW, first + 1 + valid)),
            _m2 = Columns(first + 2, Math.Min(inW, first + 2 + valid)),
        };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Taps(float* r, out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2)
        {
            t0 = Avx.MaskLoad(r, _m0);
            t1 = Avx.MaskLoad(r + 1, _m1);
            t2 = Avx.MaskLoad(r + 2, _m2);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Dy(float* p, Vector256<float> keep) => Avx.MaskLoad(p, keep);
    }

    /// <summary>
    /// Stride-2 columns r[2i], r[2i + 1], r[2i + 2], in the lane order of outputs 0, 1, 4, 5, 2, 3, 6, 7: an in-lane
    /// shuffle of the 16 columns at r (lo, hi) gives the even or odd ones in that order with no cross-lane step
    /// (sums do not care about lane order; dy is put in the same order once per row). The masks stop at the last
    /// column a valid lane reads.
    /// </summary>
    struct Stride2Columns : IStripColumns<Stride2Columns, Vector256<float>>
    {
        Vector256<float> _lo, _hi, _lo2, _hi2;

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
        public readonly void Taps(float* r, out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2)
        {
            var lo = Avx.MaskLoad(r, _lo);
            var hi = Avx.MaskLoad(r + Lanes, _hi);
            t0 = Avx.Shuffle(lo, hi, 0b10_00_10_00);
            t1 = Avx.Shuffle(lo, hi, 0b11_01_11_01);
            t2 = Avx.Shuffle(Avx.MaskLoad(r + 2, _lo2), Avx.MaskLoad(r + 2 + Lanes, _hi2), 0b10_00_10_00);
        }

        /// <summary>Outputs 0, 1, 4, 5, 2, 3, 6, 7: the middle two pairs swapped.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Order(Vector256<float> dy) => Avx2.Permute4x64(dy.AsDouble(), 0b11_01_10_00).AsSingle();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Dy(float* p, Vector256<float> keep) => Order(Avx.MaskLoad(p, keep));
    }

    /// <summary>8 lanes, blocks of 2 output rows (AVX2's 16 registers), plain loads for interior strips.</summary>
    struct Width256 : IStripWidth<Vector256<float>>
    {
        public static int Lanes => 8;
        public static int BlockRows => 2;
        public static bool PlainInterior => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> InRange(int first, int limit) => LaneMasks.InRange8(first, limit);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, float* p) => Vector256.Store(v, p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Reduce(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3, Vector256<float> a4, Vector256<float> a5, Vector256<float> a6, Vector256<float> a7, Vector256<float> a8, double* totals) =>
            DepthwiseFilterGradientSums.Add(a0, a1, a2, a3, a4, a5, a6, a7, a8, totals);
    }
}
