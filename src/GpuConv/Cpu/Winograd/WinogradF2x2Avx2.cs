using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static GpuConv.Cpu.Winograd.Winograd3x3;

namespace GpuConv.Cpu.Winograd;

/// <summary>
/// <see cref="F2x2"/>'s transforms in ymm registers (AVX2): the same arithmetic in the same order (so the same
/// results as the AVX-512 variant, bit for bit), 8 tiles per vector of the input transform and 8 channels
/// per vector of the output transform instead of 16.
/// </summary>
internal readonly unsafe struct F2x2Avx2 : IWinogradTiles
{
    const int Lanes = 8;

    public static int Tile => 2;

    public static void TransformFilter(float* f, float* u, nint step) => F2x2.TransformFilter(f, u, step);

    /// <summary>In the stride-2 phase planes element (i, j) of the patches of tiles tw … tw + 7 is one contiguous vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TransformInput(float* padded, in StridePhaseLayout l, int cg, int tr0, int tr1, int tileCols, float* v)
    {
        long phase = l.PhaseFloats;
        int lq = l.Lq;
        nint tiles = (nint)(tr1 - tr0) * tileCols, xiStride = (nint)cg * tiles;
        var lastMask = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create((tileCols - 1) % Lanes + 1)).AsSingle();
        int lastStart = (tileCols - 1) / Lanes * Lanes;
        var all = Vector256<int>.AllBitsSet.AsSingle();
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
                    var mask = tw == lastStart ? lastMask : all;
                    var (r00, r01, r02, r03) = Column(Vector256.Load(s + o00), Vector256.Load(s + o10), Vector256.Load(s + o20), Vector256.Load(s + o30));
                    var (r10, r11, r12, r13) = Column(Vector256.Load(s + o01), Vector256.Load(s + o11), Vector256.Load(s + o21), Vector256.Load(s + o31));
                    var (r20, r21, r22, r23) = Column(Vector256.Load(s + o02), Vector256.Load(s + o12), Vector256.Load(s + o22), Vector256.Load(s + o32));
                    var (r30, r31, r32, r33) = Column(Vector256.Load(s + o03), Vector256.Load(s + o13), Vector256.Load(s + o23), Vector256.Load(s + o33));
                    bool whole = tw != lastStart;
                    Store(d, xiStride, 0, whole, mask, Column(r00, r10, r20, r30));
                    Store(d, xiStride, 4, whole, mask, Column(r01, r11, r21, r31));
                    Store(d, xiStride, 8, whole, mask, Column(r02, r12, r22, r32));
                    Store(d, xiStride, 12, whole, mask, Column(r03, r13, r23, r33));
                }
        }
    }

    /// <summary>B^T of four values: (d0 − d2, d1 + d2, d2 − d1, d1 − d3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) Column(Vector256<float> d0, Vector256<float> d1, Vector256<float> d2, Vector256<float> d3) =>
        (d0 - d2, d1 + d2, d2 - d1, d1 - d3);

    /// <summary>A whole vector stored plainly; a row's last, partial one masked (vmaskmovps is slow on some cores).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* d, nint xiStride, int first, bool whole, Vector256<float> mask, (Vector256<float> A, Vector256<float> B, Vector256<float> C, Vector256<float> D) t)
    {
        if (whole)
        {
            t.A.Store(d + first * xiStride);
            t.B.Store(d + (first + 1) * xiStride);
            t.C.Store(d + (first + 2) * xiStride);
            t.D.Store(d + (first + 3) * xiStride);
            return;
        }
        Avx.MaskStore(d + first * xiStride, mask, t.A);
        Avx.MaskStore(d + (first + 1) * xiStride, mask, t.B);
        Avx.MaskStore(d + (first + 2) * xiStride, mask, t.C);
        Avx.MaskStore(d + (first + 3) * xiStride, mask, t.D);
    }

    /// <summary>A^T M A per tile, 8 channels per vector.</summary>
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
    static (Vector256<float>, Vector256<float>) Out(float* s, nint xiStride, int col, int j)
    {
        var m0 = Vector256.Load(s + col * xiStride + j);
        var m1 = Vector256.Load(s + (4 + col) * xiStride + j);
        var m2 = Vector256.Load(s + (8 + col) * xiStride + j);
        var m3 = Vector256.Load(s + (12 + col) * xiStride + j);
        return (m0 + m1 + m2, m1 - m2 - m3);
    }
}
