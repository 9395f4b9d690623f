using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using GpuConv.Cpu.Phases;
using static GpuConv.Cpu.Winograd.Winograd3x3;

namespace GpuConv.Cpu.Winograd;

/// <summary>
/// Winograd F(4 × 4, 3 × 3): 36 products per 4 × 4 outputs, 4× fewer multiplies than the direct sum (2.25×
/// for F(2 × 2)), at the cost of 6 × 6 transforms. Interpolation points 0, ±1, ½, −2, ∞ rather than the
/// usual 0, ±1, ±2, ∞: an fp32 simulation of the three sets on 128-channel sums gave max relative errors of
/// 2.0–2.8e-6 for these against 4.2–5.1e-6 for ±2 and 4.9–5.8e-6 for ±½ (the spread of A^T's and B^T's
/// coefficients is what grows the error). Rows of B^T are scaled by powers of two to integers (exact; G's
/// rows take the inverse), and G's fractions are applied in float64 once per constant W. Max relative error
/// against the float64 reference on random inputs: 2.3e-6 – 6.9e-6 at ResNet-50's 64 … 512 channels (0, ±1,
/// ±2, ∞ gave 6.9e-6 – 1.0e-5), 7.4e-6 – 9.5e-6 at 1024 – 2048 (Winograd4x4Tests, docs/benchmarks.md).
/// <code>
/// B^T = [2 −3 −4 3 2 0; 0 −2 1 5 2 0; 0 2 −5 1 2 0; 0 −2 −1 2 1 0; 0 1 −2 −1 2 0; 0 2 −3 −4 3 2]
/// G   = [½ 0 0; ⅙ ⅙ ⅙; −⅙ ⅙ −⅙; −16⁄15 −8⁄15 −4⁄15; 1⁄30 −1⁄15 2⁄15; 0 0 ½]
/// A^T = [1 1 1 1 1 0; 0 1 −1 ½ −2 0; 0 1 1 ¼ 4 0; 0 1 −1 ⅛ −8 1]
/// </code>
/// </summary>
internal readonly unsafe struct F4x4 : IWinogradTiles
{
    const int P = 6;

    public static int Tile => 4;

    /// <summary>G f G^T (G in the summary), in float64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TransformFilter(float* f, float* u, nint step)
    {
        double* r = stackalloc double[P * 3];
        for (int j = 0; j < 3; j++)
        {
            var (g0, g1, g2, g3, g4, g5) = G(f[j], f[3 + j], f[6 + j]);
            r[j] = g0; r[3 + j] = g1; r[6 + j] = g2; r[9 + j] = g3; r[12 + j] = g4; r[15 + j] = g5;
        }
        for (int i = 0; i < P; i++)
        {
            var (g0, g1, g2, g3, g4, g5) = G(r[3 * i], r[3 * i + 1], r[3 * i + 2]);
            float* o = u + P * i * step;
            o[0] = (float)g0; o[step] = (float)g1; o[2 * step] = (float)g2; o[3 * step] = (float)g3; o[4 * step] = (float)g4; o[5 * step] = (float)g5;
        }
    }

    // G's divisions as products with the float64 reciprocals (a division per element cost more than the rest of the
    // transform); within an ulp of float64 of the quotients, so the float results are the quotients' but for ties.
    const double Sixth = 1.0 / 6, Fifteenth = 1.0 / 15, Thirtieth = 1.0 / 30;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static (double, double, double, double, double, double) G(double a, double b, double c) =>
        (a * 0.5, (a + b + c) * Sixth, -(a - b + c) * Sixth, -(16 * a + 8 * b + 4 * c) * Fifteenth, (a - 2 * b + 4 * c) * Thirtieth, c * 0.5);

    /// <summary><see cref="TransformFilter"/> on 8 filters' lanes (two halves of 4 doubles): the same float64 operations, the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TransformFilterLanes(Vector256<float>* f, Vector256<float>* u)
    {
        var lo = stackalloc Vector256<double>[P * 3];
        var hi = stackalloc Vector256<double>[P * 3];
        for (int j = 0; j < 3; j++)
        {
            var (a0, a1) = Vector256.Widen(f[j]);
            var (b0, b1) = Vector256.Widen(f[3 + j]);
            var (c0, c1) = Vector256.Widen(f[6 + j]);
            Columns(a0, b0, c0, lo + j);
            Columns(a1, b1, c1, hi + j);
        }
        for (int i = 0; i < P; i++)
        {
            var (g0, g1, g2, g3, g4, g5) = G(lo[3 * i], lo[3 * i + 1], lo[3 * i + 2]);
            var (h0, h1, h2, h3, h4, h5) = G(hi[3 * i], hi[3 * i + 1], hi[3 * i + 2]);
            Vector256<float>* o = u + P * i;
            o[0] = Vector256.Narrow(g0, h0); o[1] = Vector256.Narrow(g1, h1); o[2] = Vector256.Narrow(g2, h2);
            o[3] = Vector256.Narrow(g3, h3); o[4] = Vector256.Narrow(g4, h4); o[5] = Vector256.Narrow(g5, h5);
        }
    }

    /// <summary>G applied down one column of 4 filters' lanes: its six values to rows 0 … 5 (3 apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Columns(Vector256<double> a, Vector256<double> b, Vector256<double> c, Vector256<double>* r)
    {
        var (g0, g1, g2, g3, g4, g5) = G(a, b, c);
        r[0] = g0; r[3] = g1; r[6] = g2; r[9] = g3; r[12] = g4; r[15] = g5;
    }

    /// <summary><see cref="G(double, double, double)"/> on 4 lanes: the same expression, operation for operation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector256<double>, Vector256<double>, Vector256<double>, Vector256<double>, Vector256<double>, Vector256<double>) G(
        Vector256<double> a, Vector256<double> b, Vector256<double> c) =>
        (a * 0.5, (a + b + c) * Sixth, -(a - b + c) * Sixth, -(16 * a + 8 * b + 4 * c) * Fifteenth, (a - 2 * b + 4 * c) * Thirtieth, c * 0.5);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransformInput(float* padded, in StridePhaseLayout l, int cg, int tr0, int tr1, int tileCols, float* v) =>
        F4x4Transforms.Input<Vector512<float>, TransformWidth512>(padded, l, cg, tr0, tr1, tileCols, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransformOutput(float* m, int tiles, int tileCols, int tr0, int outH, int outW, float* stage) =>
        F4x4Transforms.Output<Vector512<float>, TransformWidth512>(m, tiles, tileCols, tr0, outH, outW, stage);
}

/// <summary>
/// The parts of <see cref="F4x4"/> (zmm) and <see cref="F4x4Avx2"/> (ymm) that are the same at both widths, generic over
/// the width (<see cref="ITransformWidth{TV}"/>): both transforms, the same operations in the same order, so the same
/// results bit for bit. How the input transform packs the lanes of real tiles together is the width's (AVX-512
/// compress, AVX2 a permutation from a table).
/// </summary>
internal static unsafe class F4x4Transforms
{
    const int P = 6;

    /// <summary>
    /// In the stride-4 phase planes element (i, j) of the patches of Lanes consecutive positions of a phase
    /// row is one contiguous vector. The positions run along the rows' full length (tileCols + 1: one
    /// column of each row is no tile), so small planes fill the vectors too (a 14 × 14 plane has rows of 4
    /// tiles); the lanes of real tiles are packed together before the store (<see cref="ITransformWidth{TV}.StoreSelected"/>),
    /// V being dense. B^T goes down the patch's columns into a small L1 buffer, then along its rows into V.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Input<TV, TW>(float* padded, in StridePhaseLayout l, int cg, int tr0, int tr1, int tileCols, float* v) where TV : struct where TW : struct, ITransformWidth<TV>
    {
        // The tile bits of the first 16384 positions are worked out once, not per channel.
        int lanes = TW.Lanes, cached = 16384 / TW.Lanes;
        long phase = l.PhaseFloats;
        int lq = l.Lq;
        nint tiles = (nint)(tr1 - tr0) * tileCols, xiStride = (nint)cg * tiles;
        // Padded row 4·tr + i sits in row phase i mod 4 at row tr + i / 4; column 4·tw + j likewise.
        nint* offsets = stackalloc nint[P * P];
        for (int i = 0; i < P; i++)
            for (int j = 0; j < P; j++)
                offsets[P * i + j] = (nint)(((i & 3) * 4 + (j & 3)) * phase + (i >> 2) * lq + (j >> 2));
        float* buffer = stackalloc float[P * P * TW.Lanes + 16];
        float* t = Aligned(buffer);
        int start = tr0 * lq, end = (tr1 - 1) * lq + tileCols, vectors = (end - start + lanes - 1) / lanes;
        // Lane k of vector n is a tile where its column (start + Lanes·n + k) mod lq is below tileCols, before the end.
        ushort* tileBits = stackalloc ushort[Math.Min(vectors, cached)];
        for (int n = 0; n < Math.Min(vectors, cached); n++) tileBits[n] = TileBits(start + n * lanes, end, lq, tileCols, lanes);
        for (int c = 0; c < cg; c++)
        {
            float* plane = padded + c * l.PlaneFloats;
            float* d = v + (nint)c * tiles;
            for (int pos = start, n = 0; pos < end; pos += lanes, n++)
            {
                uint bits = n < cached ? tileBits[n] : TileBits(pos, end, lq, tileCols, lanes);
                int count = BitOperations.PopCount(bits);
                var selection = TW.Selection(bits);
                var stored = TW.FirstLanes(count);
                float* s = plane + pos;
                for (int j = 0; j < P; j++)
                {
                    nint* o = offsets + j;
                    var (r0, r1, r2, r3, r4, r5) = Bt<TV, TW>(TW.Load(s + o[0]), TW.Load(s + o[P]), TW.Load(s + o[2 * P]),
                        TW.Load(s + o[3 * P]), TW.Load(s + o[4 * P]), TW.Load(s + o[5 * P]));
                    float* tj = t + j * lanes;
                    TW.Store(r0, tj); TW.Store(r1, tj + P * lanes); TW.Store(r2, tj + 2 * P * lanes);
                    TW.Store(r3, tj + 3 * P * lanes); TW.Store(r4, tj + 4 * P * lanes); TW.Store(r5, tj + 5 * P * lanes);
                }
                for (int i = 0; i < P; i++)
                {
                    float* ti = t + P * i * lanes;
                    var (r0, r1, r2, r3, r4, r5) = Bt<TV, TW>(TW.Load(ti), TW.Load(ti + lanes), TW.Load(ti + 2 * lanes),
                        TW.Load(ti + 3 * lanes), TW.Load(ti + 4 * lanes), TW.Load(ti + 5 * lanes));
                    // Element (i, j) of the transform is index 6i + j.
                    float* di = d + P * i * xiStride;
                    if (TW.PlainWhole && count == lanes)
                    {
                        TW.Store(r0, di); TW.Store(r1, di + xiStride); TW.Store(r2, di + 2 * xiStride);
                        TW.Store(r3, di + 3 * xiStride); TW.Store(r4, di + 4 * xiStride); TW.Store(r5, di + 5 * xiStride);
                    }
                    else
                    {
                        TW.StoreSelected(di, stored, selection, r0);
                        TW.StoreSelected(di + xiStride, stored, selection, r1);
                        TW.StoreSelected(di + 2 * xiStride, stored, selection, r2);
                        TW.StoreSelected(di + 3 * xiStride, stored, selection, r3);
                        TW.StoreSelected(di + 4 * xiStride, stored, selection, r4);
                        TW.StoreSelected(di + 5 * xiStride, stored, selection, r5);
                    }
                }
                d += count;
            }
        }
    }

    /// <summary>Inlined, as the tier-specific versions were (as a call it cost the hot loop a call and spills).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static ushort TileBits(int pos, int end, int lq, int tileCols, int lanes)
    {
        uint bits = 0;
        for (int k = 0; k < lanes && pos + k < end; k++)
            if ((pos + k) % lq < tileCols) bits |= 1u << k;
        return (ushort)bits;
    }

    /// <summary>The first 64-byte boundary in a buffer with 16 floats to spare: the transforms' L1 buffers are stored and reloaded whole vectors, which must not straddle cache lines.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float* Aligned(float* p) => (float*)(((nint)p + 63) & ~(nint)63);

    /// <summary>B^T of six values (the matrix in <see cref="F4x4"/>'s summary), sharing d4 − d2 and d3 − d1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (TV, TV, TV, TV, TV, TV) Bt<TV, TW>(TV d0, TV d1, TV d2, TV d3, TV d4, TV d5) where TV : struct where TW : struct, ITransformWidth<TV>
    {
        TV two = TW.Create(2f), three = TW.Create(3f), five = TW.Create(5f);
        var e = TW.Subtract(d4, d2);
        var f = TW.Subtract(d3, d1);
        return (
            TW.FusedMultiplyAdd(TW.FusedMultiplyAdd(d2, TW.Negate(two), TW.Add(d0, d4)), two, TW.Multiply(f, TW.Create(3f))),      // 2d0 − 3d1 − 4d2 + 3d3 + 2d4
            TW.FusedMultiplyAdd(TW.Subtract(d4, d1), two, TW.FusedMultiplyAdd(d3, five, d2)),                                      // −2d1 + d2 + 5d3 + 2d4
            TW.FusedMultiplyAdd(TW.Add(d4, d1), two, TW.FusedMultiplyAdd(d2, TW.Negate(five), d3)),                                // 2d1 − 5d2 + d3 + 2d4
            TW.FusedMultiplyAdd(f, two, e),                                                                                        // −2d1 − d2 + 2d3 + d4
            TW.FusedMultiplyAdd(e, two, TW.Negate(f)),                                                                             // d1 − 2d2 − d3 + 2d4
            TW.FusedMultiplyAdd(TW.FusedMultiplyAdd(d3, TW.Negate(two), TW.Add(d1, d5)), two, TW.Multiply(e, three)));             // 2d1 − 3d2 − 4d3 + 3d4 + 2d5
    }

    /// <summary>A^T M A per tile, TW.Lanes channels per vector: A^T down the six columns into an L1 buffer, then along its four rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Output<TV, TW>(float* m, int tiles, int tileCols, int tr0, int outH, int outW, float* stage) where TV : struct where TW : struct, ITransformWidth<TV>
    {
        int lanes = TW.Lanes;
        nint xiStride = (nint)tiles * Width;
        float* buffer = stackalloc float[4 * P * TW.Lanes + 16];
        float* t = Aligned(buffer);
        for (int q = 0; q < tiles; q++)
        {
            int tr = tr0 + q / tileCols, tw = q % tileCols;
            int oh = 4 * tr, ow = 4 * tw;
            int rows = Math.Min(4, outH - oh), cols = Math.Min(4, outW - ow);
            float* s = m + (nint)q * Width;
            float* top = stage + ((nint)(oh - 4 * tr0) * outW + ow) * Width;
            for (int j = 0; j < Width; j += lanes)
            {
                for (int col = 0; col < P; col++)
                {
                    float* sc = s + col * xiStride + j;
                    var (y0, y1, y2, y3) = At<TV, TW>(TW.Load(sc), TW.Load(sc + P * xiStride), TW.Load(sc + 2 * P * xiStride),
                        TW.Load(sc + 3 * P * xiStride), TW.Load(sc + 4 * P * xiStride), TW.Load(sc + 5 * P * xiStride));
                    float* tc = t + col * lanes;
                    TW.Store(y0, tc); TW.Store(y1, tc + P * lanes); TW.Store(y2, tc + 2 * P * lanes); TW.Store(y3, tc + 3 * P * lanes);
                }
                for (int r = 0; r < rows; r++)
                {
                    float* tr6 = t + P * r * lanes;
                    var (y0, y1, y2, y3) = At<TV, TW>(TW.Load(tr6), TW.Load(tr6 + lanes), TW.Load(tr6 + 2 * lanes),
                        TW.Load(tr6 + 3 * lanes), TW.Load(tr6 + 4 * lanes), TW.Load(tr6 + 5 * lanes));
                    float* o = top + (nint)r * outW * Width + j;
                    TW.Store(y0, o);
                    if (cols > 1) TW.Store(y1, o + Width);
                    if (cols > 2) TW.Store(y2, o + 2 * Width);
                    if (cols > 3) TW.Store(y3, o + 3 * Width);
                }
            }
        }
    }

    /// <summary>A^T of six values: (m0 + m1 + m2 + m3 + m4, m1 − m2 + m3/2 − 2m4, m1 + m2 + m3/4 + 4m4, m1 − m2 + m3/8 − 8m4 + m5).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (TV, TV, TV, TV) At<TV, TW>(TV m0, TV m1, TV m2, TV m3, TV m4, TV m5) where TV : struct where TW : struct, ITransformWidth<TV>
    {
        var s = TW.Add(m1, m2);
        var d = TW.Subtract(m1, m2);
        return (TW.Add(TW.Add(m0, s), TW.Add(m3, m4)),
            TW.FusedMultiplyAdd(m3, TW.Create(0.5f), TW.FusedMultiplyAdd(m4, TW.Create(-2f), d)),
            TW.FusedMultiplyAdd(m3, TW.Create(0.25f), TW.FusedMultiplyAdd(m4, TW.Create(4f), s)),
            TW.FusedMultiplyAdd(m3, TW.Create(0.125f), TW.FusedMultiplyAdd(m4, TW.Create(-8f), TW.Add(d, m5))));
    }
}
