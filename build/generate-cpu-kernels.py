#!/usr/bin/env python3
"""Writes the unrolled AVX-512 microkernels of the CPU backend that are generated rather than typed:
src/GpuConv/Cpu/Gemm/ShiftedKernels.cs, RowTileKernels.cs and ChannelTileKernels.cs.
Run from the repository root: python3 build/generate-cpu-kernels.py (it rewrites the three files).
Every accumulator is a named local so the JIT keeps it in a zmm register."""
import os

def shifted_loop(mr, vectors):
    """The accumulation shared by shifted-gemm's and shifted-direct's kernels: mr rows of A (read in place,
    leading dimension lda) times B row p at b + offsets[p] (16 · vectors floats), into c{i}_{j}."""
    lanes = range(vectors)
    L = ["        " + " ".join(f"var c{i}_{j} = Vector512<float>.Zero;" for j in lanes) for i in range(mr)]
    L.append("        nint lda2 = lda * 2;")
    bases = list(range(0, mr, 3))
    L += [f"        float* r{r} = a + {r} * lda;" if r else "        float* r0 = a;" for r in bases]
    L += ["        for (nint p = 0; p < kc; p++)", "        {",
          "            float* bp = b + offsets[p];"]
    L += [f"            var b{j} = Vector512.Load(bp{' + ' + str(16*j) if j else ''});" for j in lanes]
    for i in range(mr):
        L.append(f"            var a{i} = Vector512.Create(r{i//3*3}{['[0]', '[lda]', '[lda2]'][i%3]});")
        L.append("            " + " ".join(f"c{i}_{j} = Vector512.MultiplyAddEstimate(a{i}, b{j}, c{i}_{j});" for j in lanes))
    L += ["            " + " ".join(f"r{r}++;" for r in bases), "        }"]
    return L

def shifted(mr):
    L = [f"    /// <summary>{mr} × 32 tile with Vector512 ({2*mr} accumulators); A read in place (leading dimension lda), B row p read at b + offsets[p].</summary>",
         "    [MethodImpl(MethodImplOptions.AggressiveOptimization)]",
         f"    public static void Vector512_{mr}x32(nint kc, float* a, nint lda, float* b, nint* offsets, float* c, nint ldc, bool accumulate)",
         "    {"]
    L += shifted_loop(mr, 2)
    L += ["        if (accumulate)", "        {"]
    for i in range(mr):
        L.append(f"            float* o{i} = c + {i} * ldc;")
        L.append(f"            (Vector512.Load(o{i}) + c{i}_0).Store(o{i}); (Vector512.Load(o{i} + 16) + c{i}_1).Store(o{i} + 16);")
    L += ["        }", "        else", "        {"]
    for i in range(mr):
        L.append(f"            float* o{i} = c + {i} * ldc;")
        L.append(f"            c{i}_0.Store(o{i}); c{i}_1.Store(o{i} + 16);")
    L += ["        }", "    }"]
    return "\n".join(L)

def row_tile(mr, vectors):
    """shifted-direct's tile: the same accumulation, then each row's first cols columns plus its bias, through the
    activation TAct (ForwardBiasActivation's, fused; NoActivation otherwise), stored straight into y (rows ldy apart),
    masked on a row's last, partial tile."""
    width = 16 * vectors
    L = [f"    /// <summary>{mr} × {width} tile: A read in place (leading dimension lda), B row p at b + offsets[p]; the first <paramref name=\"cols\"/> (1..{width}) columns of each row, plus its bias, through TAct, stored to y (rows ldy apart).</summary>",
         "    [MethodImpl(MethodImplOptions.AggressiveOptimization)]",
         f"    public static void Tile{mr}x{width}<TAct>(nint kc, float* a, nint lda, float* b, nint* offsets, float* y, nint ldy, float* bias, int cols) where TAct : struct, IActivationLanes",
         "    {"]
    L += shifted_loop(mr, vectors)
    if vectors == 1:
        L.append("        var m0 = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(cols)).AsSingle();")
        L += [f"        Avx512F.MaskStore(y + {i} * ldy, m0, TAct.On(c{i}_0 + Vector512.Create(bias[{i}])));" for i in range(mr)]
    else:
        L += ["        var m0 = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(cols)).AsSingle();",
              "        var m1 = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(cols - 16)).AsSingle();",
              "        if (cols >= 32)", "        {"]
        L += [f"            {{ var s = Vector512.Create(bias[{i}]); float* o = y + {i} * ldy; TAct.On(c{i}_0 + s).Store(o); TAct.On(c{i}_1 + s).Store(o + 16); }}" for i in range(mr)]
        L += ["        }", "        else", "        {"]
        L += [f"            {{ var s = Vector512.Create(bias[{i}]); float* o = y + {i} * ldy; Avx512F.MaskStore(o, m0, TAct.On(c{i}_0 + s)); Avx512F.MaskStore(o + 16, m1, TAct.On(c{i}_1 + s)); }}" for i in range(mr)]
        L.append("        }")
    L.append("    }")
    return "\n".join(L)

def channel(mr, vectors):
    """mr pixels × (16 · vectors) channels; B rows are 64 floats apart either way (a half tile reads the first 32)."""
    width = 16 * vectors
    lanes = range(vectors)
    if vectors == 4:
        summary = f"{mr} pixel{'s' if mr > 1 else ''} × 64 channels ({4*mr} accumulators): C[r, 0..64] (+)= Σ_p a[pixels[r] + offsets[p]] · B[p, 0..64]."
    else:
        summary = f"{mr} pixel{'s' if mr > 1 else ''} × {width} channels ({vectors*mr} accumulators), for a block's last ≤ {width} channels: C[r, 0..{width}] (+)= Σ_p a[pixels[r] + offsets[p]] · B[p, 0..{width}] (B rows 64 apart)."
    L = [f"    /// <summary>{summary}</summary>",
         "    [MethodImpl(MethodImplOptions.AggressiveOptimization)]",
         f"    public static void Vector512_{mr}x{width}(nint kc, float* a, nint* pixels, nint* offsets, float* b, float* c, nint ldc, bool accumulate)",
         "    {"]
    L += ["        " + " ".join(f"var c{i}_{j} = Vector512<float>.Zero;" for j in lanes) for i in range(mr)]
    L += [f"        float* a{i} = a + pixels[{i}];" for i in range(mr)]
    L += ["        for (nint p = 0; p < kc; p++)", "        {",
          "            nint o = offsets[p];",
          "            " + " ".join(f"var b{j} = Vector512.Load(b{' + ' + str(16*j) if j else ''});" for j in lanes)]
    for i in range(mr):
        L.append(f"            var x{i} = Vector512.Create(a{i}[o]);")
        for j0 in range(0, vectors, 2):
            L.append("            " + " ".join(f"c{i}_{j} = Vector512.MultiplyAddEstimate(x{i}, b{j}, c{i}_{j});" for j in (j0, j0 + 1)))
    L += ["            b += 64;", "        }", "        if (accumulate)", "        {"]
    for i in range(mr):
        L.append(f"            float* o{i} = c + {i} * ldc;")
        L.append("            " + " ".join(f"(Vector512.Load(o{i}{' + ' + str(16*j) if j else ''}) + c{i}_{j}).Store(o{i}{' + ' + str(16*j) if j else ''});" for j in lanes))
    L += ["        }", "        else", "        {"]
    for i in range(mr):
        L.append(f"            float* o{i} = c + {i} * ldc;")
        L.append("            " + " ".join(f"c{i}_{j}.Store(o{i}{' + ' + str(16*j) if j else ''});" for j in lanes))
    L += ["        }", "    }"]
    return "\n".join(L)

SHIFTED_HEADER = '''// Register-tiled microkernels for shifted B rows, written out in full (generated by build/generate-cpu-kernels.py) so the JIT keeps every accumulator in a register.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Gemm;

/// <summary>
/// GEMM microkernels whose B operand is never packed: row p of B is read straight from memory at
/// b + offsets[p] (32 consecutive floats). Shifted-gemm's B rows are the padded input planes at a
/// constant tap offset each, so the kernels read the input in place, and A (the weights, row-major)
/// is read in place too. Vector512 only; the other tiers pack.
/// </summary>
internal static unsafe class ShiftedKernels
{
'''

ROW_HEADER = '''// Register-tiled microkernels of shifted-direct, written out in full (generated by build/generate-cpu-kernels.py) so the JIT keeps every accumulator in a register.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Gemm;

/// <summary>
/// The kernels of <see cref="ShiftedKernels"/> (B row p read in place at b + offsets[p], A read in
/// place) that store their tile straight into the output with the bias added and the activation TAct applied in
/// registers (see CpuActivation): a tile is MR output
/// channels × up to 32 (or 16) consecutive pixels of one output row, so its rows are runs of y, and
/// a row's last, partial tile is stored masked. Vector512 only.
/// </summary>
internal static unsafe class RowTileKernels
{
'''

CHANNEL_HEADER = '''// Channel-vectorized microkernels, written out in full (generated by build/generate-cpu-kernels.py) so the JIT keeps every accumulator in a register.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Gemm;

/// <summary>
/// Microkernels with the vectors along output channels: a tile of up to 6 output pixels × 64 output
/// channels, or up to 12 pixels × 32 channels for a block's last ≤ 32 channels (K = 96 or 160 would
/// otherwise leave a quarter or a sixth of the lanes idle). A (the input) is read in place and broadcast: row p (channel, tap) of pixel r is
/// a[pixels[r] + offsets[p]] in the padded phase planes; B is the
/// weights packed as kc × 64 panels (<see cref="ChannelPanels"/>). No lane is ever wasted on a
/// small plane, unlike pixel-vectorized tiles (a 7 × 7 plane fills 49 of 64 lanes). Each pixel has
/// its own base (pixels[r]), so a tile may run on past the end of an output row into the next.
/// </summary>
internal static unsafe class ChannelTileKernels
{
    /// <summary>Output channels per tile (four zmm vectors).</summary>
    public const int Channels = 64;

    /// <summary>Most pixels per tile (24 accumulators).</summary>
    public const int MaxPixels = 6;

    /// <summary>Output channels per half tile (two zmm vectors), for a block's last ≤ 32 channels.</summary>
    public const int HalfChannels = 32;

    /// <summary>Most pixels per half tile (24 accumulators).</summary>
    public const int MaxHalfPixels = 12;

    /// <summary>The kernel for a tile of <paramref name="pixels"/> (1..6) pixels.</summary>
    public static delegate*<nint, float*, nint*, nint*, float*, float*, nint, bool, void> For(int pixels) => pixels switch
    {
        1 => &Vector512_1x64,
        2 => &Vector512_2x64,
        3 => &Vector512_3x64,
        4 => &Vector512_4x64,
        5 => &Vector512_5x64,
        _ => &Vector512_6x64,
    };

    /// <summary>The half-tile kernel (32 channels) for <paramref name="pixels"/> (1..12) pixels.</summary>
    public static delegate*<nint, float*, nint*, nint*, float*, float*, nint, bool, void> ForHalf(int pixels) => pixels switch
    {
        1 => &Vector512_1x32,
        2 => &Vector512_2x32,
        3 => &Vector512_3x32,
        4 => &Vector512_4x32,
        5 => &Vector512_5x32,
        6 => &Vector512_6x32,
        7 => &Vector512_7x32,
        8 => &Vector512_8x32,
        9 => &Vector512_9x32,
        10 => &Vector512_10x32,
        11 => &Vector512_11x32,
        _ => &Vector512_12x32,
    };

'''

def write(path, text):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)

root = os.getcwd()
write(os.path.join(root, "src/GpuConv/Cpu/Gemm/ShiftedKernels.cs"), SHIFTED_HEADER + shifted(12) + "\n\n" + shifted(8) + "\n}\n")
write(os.path.join(root, "src/GpuConv/Cpu/Gemm/RowTileKernels.cs"), ROW_HEADER + "\n\n".join([row_tile(12, 2), row_tile(8, 2), row_tile(12, 1), row_tile(8, 1)]) + "\n}\n")
write(os.path.join(root, "src/GpuConv/Cpu/Gemm/ChannelTileKernels.cs"), CHANNEL_HEADER + "\n\n".join([channel(r, 4) for r in range(1, 7)] + [channel(r, 2) for r in range(1, 13)]) + "\n}\n")
