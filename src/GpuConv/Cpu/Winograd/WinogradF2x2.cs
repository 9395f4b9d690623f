using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using GpuConv.Cpu.Phases;
using static GpuConv.Cpu.Winograd.Winograd3x3;

namespace GpuConv.Cpu.Winograd;

/// <summary>
/// Winograd F(2 × 2, 3 × 3) (interpolation points 0, ±1, ∞): 16 products per 2 × 2 outputs, 2.25× fewer
/// multiplies than the direct sum. Its transforms only add and halve: max relative error against the
/// float64 reference near 1e-6 (3.5e-7 – 8e-7 at ResNet-50's 64 … 512 channels, Winograd4x4Tests).
/// </summary>
internal readonly unsafe struct F2x2 : IWinogradTiles
{
    public static int Tile => 2;

    /// <summary>G f G^T with G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TransformFilter(float* f, float* u, nint step)
    {
        float* r = stackalloc float[12];
        // G f: rows g0, (g0+g1+g2)/2, (g0−g1+g2)/2, g2 of each column, then the same along rows.
        for (int j = 0; j < 3; j++)
        {
            float a = f[j], b = f[3 + j], cc = f[6 + j];
            r[j] = a; r[3 + j] = 0.5f * (a + b + cc); r[6 + j] = 0.5f * (a - b + cc); r[9 + j] = cc;
        }
        for (int i = 0; i < 4; i++)
        {
            float a = r[3 * i], b = r[3 * i + 1], cc = r[3 * i + 2];
            float* o = u + 4 * i * step;
            o[0] = a; o[step] = 0.5f * (a + b + cc); o[2 * step] = 0.5f * (a - b + cc); o[3 * step] = cc;
        }
    }

    /// <summary><see cref="TransformFilter"/> on 8 filters' lanes: the same adds and halvings in the same order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransformFilterLanes(Vector256<float>* f, Vector256<float>* u)
    {
        var r = stackalloc Vector256<float>[12];
        for (int j = 0; j < 3; j++)
        {
            var a = f[j]; var b = f[3 + j]; var cc = f[6 + j];
            r[j] = a; r[3 + j] = 0.5f * (a + b + cc); r[6 + j] = 0.5f * (a - b + cc); r[9 + j] = cc;
        }
        for (int i = 0; i < 4; i++)
        {
            var a = r[3 * i]; var b = r[3 * i + 1]; var cc = r[3 * i + 2];
            Vector256<float>* o = u + 4 * i;
            o[0] = a; o[1] = 0.5f * (a + b + cc); o[2] = 0.5f * (a - b + cc); o[3] = cc;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransformInput(float* padded, in StridePhaseLayout l, int cg, int tr0, int tr1, int tileCols, float* v) =>
        F2x2Transforms.Input<Vector512<float>, TransformWidth512>(padded, l, cg, tr0, tr1, tileCols, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TransformOutput(float* m, int tiles, int tileCols, int tr0, int outH, int outW, float* stage) =>
        F2x2Transforms.Output<Vector512<float>, TransformWidth512>(m, tiles, tileCols, tr0, outH, outW, stage);
}

/// <summary>
/// The input and output transforms of <see cref="F2x2"/> (zmm) and <see cref="F2x2Avx2"/> (ymm), generic over the
/// width (<see cref="ITransformWidth{TV}"/>): the same arithmetic in the same order at both widths, so the same
/// results bit for bit; Lanes tiles per vector of the input transform, Lanes channels per vector of the output one.
/// </summary>
internal static unsafe class F2x2Transforms
{
    /// <summary>In the stride-2 phase planes element (i, j) of the patches of tiles tw … tw + Lanes − 1 is one contiguous vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Input<TV, TW>(float* padded, in StridePhaseLayout l, int cg, int tr0, int tr1, int tileCols, float* v)
        where TV : struct where TW : struct, ITransformWidth<TV>
    {
        int lanes = TW.Lanes;
        long phase = l.PhaseFloats;
        int lq = l.Lq;
        nint tiles = (nint)(tr1 - tr0) * tileCols, xiStride = (nint)cg * tiles;
        var lastMask = TW.LastMask(tileCols);
        int lastStart = (tileCols - 1) / lanes * lanes;
        var all = TW.AllLanes;
        // Padded row 2·tr + i sits in row phase i mod 2 at row tr + i / 2; column 2·tw + j likewise.
        nint Offset(int i, int j) => (nint)(((i & 1) * 2 + (j & 1)) * phase + (i >> 1) * lq + (j >> 1));
        nint o00 = Offset(0, 0), o01 = Offset(0, 1), o02 = Offset(0, 2), o03 = Offset(0, 3);
        nint o10 = Offset(1, 0), o11 = Offset(1, 1), o12 = Offset(1, 2), o13 = Offset(1, 3);
        nint o20 = Offset(2, 0), o21 = Offset(2, 1), o22 = Offset(2, 2), o23 = Offset(2, 3);
        nint o30 = Offset(3, 0), o31 = Offset(3, 1), o32 = Offset(3, 2), o33 = Offset(3, 3);
        for (int c = 0; c < cg; c++)
        {
            float* plane = padded + c * l.PlaneFloats;
            for (int tr = tr0; tr < tr1; tr++)
                for (int tw = 0; tw < tileCols; tw += lanes)
                {
                    float* s = plane + (nint)tr * lq + tw;
                    float* d = v + (nint)c * tiles + (nint)(tr - tr0) * tileCols + tw;
                    var mask = tw == lastStart ? lastMask : all;
                    // Rows: t_i = B^T applied down each column j (d0 − d2, d1 + d2, d2 − d1, d1 − d3).
                    var (r00, r01, r02, r03) = Column<TV, TW>(TW.Load(s + o00), TW.Load(s + o10), TW.Load(s + o20), TW.Load(s + o30));
                    var (r10, r11, r12, r13) = Column<TV, TW>(TW.Load(s + o01), TW.Load(s + o11), TW.Load(s + o21), TW.Load(s + o31));
                    var (r20, r21, r22, r23) = Column<TV, TW>(TW.Load(s + o02), TW.Load(s + o12), TW.Load(s + o22), TW.Load(s + o32));
                    var (r30, r31, r32, r33) = Column<TV, TW>(TW.Load(s + o03), TW.Load(s + o13), TW.Load(s + o23), TW.Load(s + o33));
                    // Then along each row i: element (i, j) of the transform is index 4i + j.
                    bool whole = tw != lastStart;
                    Store<TV, TW>(d, xiStride, 0, whole, mask, Column<TV, TW>(r00, r10, r20, r30));
                    Store<TV, TW>(d, xiStride, 4, whole, mask, Column<TV, TW>(r01, r11, r21, r31));
                    Store<TV, TW>(d, xiStride, 8, whole, mask, Column<TV, TW>(r02, r12, r22, r32));
                    Store<TV, TW>(d, xiStride, 12, whole, mask, Column<TV, TW>(r03, r13, r23, r33));
                }
        }
    }

    /// <summary>B^T of four values: (d0 − d2, d1 + d2, d2 − d1, d1 − d3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (TV, TV, TV, TV) Column<TV, TW>(TV d0, TV d1, TV d2, TV d3) where TV : struct where TW : struct, ITransformWidth<TV> =>
        (TW.Subtract(d0, d2), TW.Add(d1, d2), TW.Subtract(d2, d1), TW.Subtract(d1, d3));

    /// <summary>Four rows of V at one position: masked, or plainly where the width stores whole vectors plainly (<see cref="ITransformWidth{TV}.PlainWhole"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store<TV, TW>(float* d, nint xiStride, int first, bool whole, TV mask, (TV A, TV B, TV C, TV D) t)
        where TV : struct where TW : struct, ITransformWidth<TV>
    {
        if (TW.PlainWhole && whole)
        {
            TW.Store(t.A, d + first * xiStride);
            TW.Store(t.B, d + (first + 1) * xiStride);
            TW.Store(t.C, d + (first + 2) * xiStride);
            TW.Store(t.D, d + (first + 3) * xiStride);
            return;
        }
        TW.MaskStore(d + first * xiStride, mask, t.A);
        TW.MaskStore(d + (first + 1) * xiStride, mask, t.B);
        TW.MaskStore(d + (first + 2) * xiStride, mask, t.C);
        TW.MaskStore(d + (first + 3) * xiStride, mask, t.D);
    }

    /// <summary>A^T M A per tile, Lanes channels per vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Output<TV, TW>(float* m, int tiles, int tileCols, int tr0, int outH, int outW, float* stage)
        where TV : struct where TW : struct, ITransformWidth<TV>
    {
        int lanes = TW.Lanes;
        nint xiStride = (nint)tiles * Width;
        for (int q = 0; q < tiles; q++)
        {
            int tr = tr0 + q / tileCols, tw = q % tileCols;
            int oh = 2 * tr, ow = 2 * tw;
            bool right = ow + 1 < outW, down = oh + 1 < outH;
            float* s = m + (nint)q * Width;
            float* top = stage + ((nint)(oh - 2 * tr0) * outW + ow) * Width, bottom = top + (nint)outW * Width;
            for (int j = 0; j < Width; j += lanes)
            {
                // A^T of four values: (m0 + m1 + m2, m1 − m2 − m3), first down the columns, then along the rows.
                var (a0, b0) = Out<TV, TW>(s, xiStride, 0, j);
                var (a1, b1) = Out<TV, TW>(s, xiStride, 1, j);
                var (a2, b2) = Out<TV, TW>(s, xiStride, 2, j);
                var (a3, b3) = Out<TV, TW>(s, xiStride, 3, j);
                TW.Store(TW.Add(TW.Add(a0, a1), a2), top + j);
                if (right) TW.Store(TW.Subtract(TW.Subtract(a1, a2), a3), top + Width + j);
                if (down)
                {
                    TW.Store(TW.Add(TW.Add(b0, b1), b2), bottom + j);
                    if (right) TW.Store(TW.Subtract(TW.Subtract(b1, b2), b3), bottom + Width + j);
                }
            }
        }
    }

    /// <summary>A^T down column <paramref name="col"/> of the 4 × 4 transform (elements col, 4 + col, 8 + col, 12 + col).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (TV, TV) Out<TV, TW>(float* s, nint xiStride, int col, int j) where TV : struct where TW : struct, ITransformWidth<TV>
    {
        var m0 = TW.Load(s + col * xiStride + j);
        var m1 = TW.Load(s + (4 + col) * xiStride + j);
        var m2 = TW.Load(s + (8 + col) * xiStride + j);
        var m3 = TW.Load(s + (12 + col) * xiStride + j);
        return (TW.Add(TW.Add(m0, m1), m2), TW.Subtract(TW.Subtract(m1, m2), m3));
    }
}
