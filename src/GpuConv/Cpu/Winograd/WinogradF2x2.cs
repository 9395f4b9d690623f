using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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

    /// <summary>In the stride-2 phase planes element (i, j) of the patches of tiles tw … tw + 15 is one contiguous vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TransformInput(float* padded, in StridePhaseLayout l, int cg, int tr0, int tr1, int tileCols, float* v)
    {
        long phase = l.PhaseFloats;
        int lq = l.Lq;
        nint tiles = (nint)(tr1 - tr0) * tileCols, xiStride = (nint)cg * tiles;
        var (lastMask, lastStart) = LastVector(tileCols);
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
                for (int tw = 0; tw < tileCols; tw += Lanes)
                {
                    float* s = plane + (nint)tr * lq + tw;
                    float* d = v + (nint)c * tiles + (nint)(tr - tr0) * tileCols + tw;
                    var mask = tw == lastStart ? lastMask : AllLanes;
                    // Rows: t_i = B^T applied down each column j (d0 − d2, d1 + d2, d2 − d1, d1 − d3).
                    var (r00, r01, r02, r03) = Column(Vector512.Load(s + o00), Vector512.Load(s + o10), Vector512.Load(s + o20), Vector512.Load(s + o30));
                    var (r10, r11, r12, r13) = Column(Vector512.Load(s + o01), Vector512.Load(s + o11), Vector512.Load(s + o21), Vector512.Load(s + o31));
                    var (r20, r21, r22, r23) = Column(Vector512.Load(s + o02), Vector512.Load(s + o12), Vector512.Load(s + o22), Vector512.Load(s + o32));
                    var (r30, r31, r32, r33) = Column(Vector512.Load(s + o03), Vector512.Load(s + o13), Vector512.Load(s + o23), Vector512.Load(s + o33));
                    // Then along each row i: element (i, j) of the transform is index 4i + j.
                    Store(d, xiStride, 0, mask, Column(r00, r10, r20, r30));
                    Store(d, xiStride, 4, mask, Column(r01, r11, r21, r31));
                    Store(d, xiStride, 8, mask, Column(r02, r12, r22, r32));
                    Store(d, xiStride, 12, mask, Column(r03, r13, r23, r33));
                }
        }
    }

    /// <summary>B^T of four values: (d0 − d2, d1 + d2, d2 − d1, d1 − d3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>) Column(Vector512<float> d0, Vector512<float> d1, Vector512<float> d2, Vector512<float> d3) =>
        (d0 - d2, d1 + d2, d2 - d1, d1 - d3);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* d, nint xiStride, int first, Vector512<float> mask, (Vector512<float> A, Vector512<float> B, Vector512<float> C, Vector512<float> D) t)
    {
        Avx512F.MaskStore(d + first * xiStride, mask, t.A);
        Avx512F.MaskStore(d + (first + 1) * xiStride, mask, t.B);
        Avx512F.MaskStore(d + (first + 2) * xiStride, mask, t.C);
        Avx512F.MaskStore(d + (first + 3) * xiStride, mask, t.D);
    }

    /// <summary>A^T M A per tile, 16 channels per vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TransformOutput(float* m, int tiles, int tileCols, int tr0, int outH, int outW, float* stage)
    {
        nint xiStride = (nint)tiles * Width;
        for (int q = 0; q < tiles; q++)
        {
            int tr = tr0 + q / tileCols, tw = q % tileCols;
            int oh = 2 * tr, ow = 2 * tw;
            bool right = ow + 1 < outW, down = oh + 1 < outH;
            float* s = m + (nint)q * Width;
            float* top = stage + ((nint)(oh - 2 * tr0) * outW + ow) * Width, bottom = top + (nint)outW * Width;
            for (int j = 0; j < Width; j += Lanes)
            {
                // A^T of four values: (m0 + m1 + m2, m1 − m2 − m3), first down the columns, then along the rows.
                var (a0, b0) = Out(s, xiStride, 0, j);
                var (a1, b1) = Out(s, xiStride, 1, j);
                var (a2, b2) = Out(s, xiStride, 2, j);
                var (a3, b3) = Out(s, xiStride, 3, j);
                (a0 + a1 + a2).Store(top + j);
                if (right) (a1 - a2 - a3).Store(top + Width + j);
                if (down)
                {
                    (b0 + b1 + b2).Store(bottom + j);
                    if (right) (b1 - b2 - b3).Store(bottom + Width + j);
                }
            }
        }
    }

    /// <summary>A^T down column <paramref name="col"/> of the 4 × 4 transform (elements col, 4 + col, 8 + col, 12 + col).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector512<float>, Vector512<float>) Out(float* s, nint xiStride, int col, int j)
    {
        var m0 = Vector512.Load(s + col * xiStride + j);
        var m1 = Vector512.Load(s + (4 + col) * xiStride + j);
        var m2 = Vector512.Load(s + (8 + col) * xiStride + j);
        var m3 = Vector512.Load(s + (12 + col) * xiStride + j);
        return (m0 + m1 + m2, m1 - m2 - m3);
    }
}
