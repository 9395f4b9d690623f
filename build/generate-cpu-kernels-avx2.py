#!/usr/bin/env python3
"""Writes src/GpuConv/Cpu/Gemm/ChannelTileKernels256.cs: the AVX2 (Vector256) twins of ChannelTileKernels'
channel-vectorized microkernels, unrolled so that the JIT keeps every accumulator in a ymm register.
Run from the repository root: python3 build/generate-cpu-kernels-avx2.py (it rewrites the file)."""
import os

def quarter(mr):
    """mr pixels × 16 channels (2 ymm per pixel, 2·mr ≤ 12 accumulators + 2 B vectors + 1 broadcast of 16 registers)."""
    L = [f"    /// <summary>{mr} pixel{'s' if mr > 1 else ''} × 16 channels ({2*mr} accumulators): C[r, 0..16] (+)= Σ_p a[pixels[r] + offsets[p]] · B[p, 0..16] (B rows 64 apart).</summary>",
         "    [MethodImpl(MethodImplOptions.AggressiveOptimization)]",
         f"    static void Vector256_{mr}x16(nint kc, float* a, nint* pixels, nint* offsets, float* b, float* c, nint ldc, bool accumulate)",
         "    {"]
    L += [f"        var c{i}_0 = Vector256<float>.Zero; var c{i}_1 = Vector256<float>.Zero;" for i in range(mr)]
    L += [f"        float* a{i} = a + pixels[{i}];" for i in range(mr)]
    L += ["        for (nint p = 0; p < kc; p++)", "        {",
          "            nint o = offsets[p];",
          "            var b0 = Vector256.Load(b); var b1 = Vector256.Load(b + 8);"]
    for i in range(mr):
        L.append(f"            var x{i} = Vector256.Create(a{i}[o]);")
        L.append(f"            c{i}_0 = Vector256.MultiplyAddEstimate(x{i}, b0, c{i}_0); c{i}_1 = Vector256.MultiplyAddEstimate(x{i}, b1, c{i}_1);")
    L += ["            b += 64;", "        }", "        if (accumulate)", "        {"]
    for i in range(mr):
        L.append(f"            float* o{i} = c + {i} * ldc;")
        L.append(f"            (Vector256.Load(o{i}) + c{i}_0).Store(o{i}); (Vector256.Load(o{i} + 8) + c{i}_1).Store(o{i} + 8);")
    L += ["        }", "        else", "        {"]
    for i in range(mr):
        L.append(f"            float* o{i} = c + {i} * ldc;")
        L.append(f"            c{i}_0.Store(o{i}); c{i}_1.Store(o{i} + 8);")
    L += ["        }", "    }"]
    return "\n".join(L)

def tile(mr, width):
    """mr pixels × width (64 or 32) channels: the 16-channel quarters in turn, in pixel groups of at most 6."""
    groups = [mr] if mr <= 6 else [(mr + 1) // 2, mr // 2]
    L = [f"    /// <summary>{mr} pixel{'s' if mr > 1 else ''} × {width} channels, as {width // 16} quarter{'s' if width > 16 else ''} of 16 channels{' for each of ' + str(len(groups)) + ' pixel groups' if len(groups) > 1 else ''}.</summary>",
         f"    public static void Vector256_{mr}x{width}(nint kc, float* a, nint* pixels, nint* offsets, float* b, float* c, nint ldc, bool accumulate)",
         "    {"]
    first = 0
    for g in groups:
        for j in range(0, width, 16):
            pix = f"pixels + {first}" if first else "pixels"
            cc = f"c + {first} * ldc" if first else "c"
            L.append(f"        Vector256_{g}x16(kc, a, {pix}, offsets, b{' + ' + str(j) if j else ''}, {cc}{' + ' + str(j) if j else ''}, ldc, accumulate);")
        first += g
    L.append("    }")
    return "\n".join(L)

def swept(mr):
    """mr pixels × the quarters of a channel block over one k-block, resuming and leaving running sums (see ChannelTiledAvx2)."""
    L = [f"    /// <summary>",
         f"    /// {mr} pixel{'s' if mr > 1 else ''} × <paramref name=\"quarters\"/> × 16 channels over <paramref name=\"kc\"/> rows of B: each quarter's {2*mr} accumulators start",
         "    /// at zero (<see cref=\"First\"/>) or from <paramref name=\"sums\"/>, and go back to <paramref name=\"sums\"/>, or on the last k-block",
         "    /// (<see cref=\"Last\"/>) to C, added to it with <see cref=\"Add\"/>: one sequential FMA chain per output, whatever the k-blocks.",
         "    /// </summary>",
         "    [MethodImpl(MethodImplOptions.AggressiveOptimization)]",
         f"    public static void Swept{mr}(nint kc, float* a, nint* pixels, nint* offsets, float* b, float* sums, float* c, nint ldc, int quarters, int flags)",
         "    {"]
    L += [f"        float* a{i} = a + pixels[{i}];" for i in range(mr)]
    L += ["        for (int q = 0; q < quarters; q++, b += 16, sums += 16, c += 16)", "        {"]
    L += ["            Vector256<float> " + ", ".join(f"c{i}_0, c{i}_1" for i in range(mr)) + ";",
          "            if ((flags & First) != 0)",
          "            {"]
    L += [f"                c{i}_0 = Vector256<float>.Zero; c{i}_1 = Vector256<float>.Zero;" for i in range(mr)]
    L += ["            }", "            else", "            {"]
    L += [f"                c{i}_0 = Vector256.Load(sums + {i} * ldc); c{i}_1 = Vector256.Load(sums + {i} * ldc + 8);" for i in range(mr)]
    L += ["            }",
          "            float* bp = b;",
          "            for (nint p = 0; p < kc; p++)", "            {",
          "                nint o = offsets[p];",
          "                var b0 = Vector256.Load(bp); var b1 = Vector256.Load(bp + 8);"]
    for i in range(mr):
        L.append(f"                var x{i} = Vector256.Create(a{i}[o]);")
        L.append(f"                c{i}_0 = Vector256.MultiplyAddEstimate(x{i}, b0, c{i}_0); c{i}_1 = Vector256.MultiplyAddEstimate(x{i}, b1, c{i}_1);")
    L += ["                bp += 64;", "            }",
          "            if ((flags & Last) == 0)", "            {"]
    for i in range(mr):
        L.append(f"                c{i}_0.Store(sums + {i} * ldc); c{i}_1.Store(sums + {i} * ldc + 8);")
    L += ["            }", "            else if ((flags & Add) != 0)", "            {"]
    for i in range(mr):
        L.append(f"                float* o{i} = c + {i} * ldc;")
        L.append(f"                (Vector256.Load(o{i}) + c{i}_0).Store(o{i}); (Vector256.Load(o{i} + 8) + c{i}_1).Store(o{i} + 8);")
    L += ["            }", "            else", "            {"]
    for i in range(mr):
        L.append(f"                c{i}_0.Store(c + {i} * ldc); c{i}_1.Store(c + {i} * ldc + 8);")
    L += ["            }", "        }", "    }"]
    return "\n".join(L)

HEADER = '''// AVX2 channel-vectorized microkernels, written out in full (generated by build/generate-cpu-kernels-avx2.py) so the JIT keeps every accumulator in a register.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Gemm;

/// <summary>
/// The Vector256 (AVX2 + FMA) twins of <see cref="ChannelTileKernels"/>: the same call, the same 64-channel
/// panels of B and the same tiles (up to 6 pixels × 64 channels, 12 × 32 for a block's last ≤ 32 channels),
/// each computed as 16-channel quarters of at most 6 pixels: 6 × 16 is 12 ymm accumulators, 2 B vectors and
/// a broadcast of the 16 registers (the MLAS / BLIS AVX2 shape), where a 6 × 64 tile would need 48.
/// </summary>
internal static unsafe class ChannelTileKernels256
{
    /// <summary>The kernel for a tile of <paramref name="pixels"/> (1..6) pixels × 64 channels.</summary>
    public static delegate*<nint, float*, nint*, nint*, float*, float*, nint, bool, void> For(int pixels) => pixels switch
    {
%s
    };

    /// <summary>Flags of the Swept kernels: start from zero, end in C, add to C.</summary>
    public const int First = 1, Last = 2, Add = 4;

    /// <summary>The k-block kernel (see the Swept kernels) for a tile of <paramref name="pixels"/> (1..6) pixels.</summary>
    public static delegate*<nint, float*, nint*, nint*, float*, float*, float*, nint, int, int, void> SweptFor(int pixels) => pixels switch
    {
%s
    };

    /// <summary>The half-tile kernel (32 channels) for <paramref name="pixels"/> (1..12) pixels.</summary>
    public static delegate*<nint, float*, nint*, nint*, float*, float*, nint, bool, void> ForHalf(int pixels) => pixels switch
    {
%s
    };

'''

def cases(n, width):
    return "\n".join(f"        {r} => &Vector256_{r}x{width}," if r < n else f"        _ => &Vector256_{r}x{width}," for r in range(1, n + 1))

def swept_cases(n):
    return "\n".join(f"        {r} => &Swept{r}," if r < n else f"        _ => &Swept{r}," for r in range(1, n + 1))

text = HEADER % (cases(6, 64), swept_cases(6), cases(12, 32)) + "\n\n".join([tile(r, 64) for r in range(1, 7)] + [tile(r, 32) for r in range(1, 13)] + [quarter(r) for r in range(1, 7)] + [swept(r) for r in range(1, 7)]) + "\n}\n"
with open(os.path.join(os.getcwd(), "src/GpuConv/Cpu/Gemm/ChannelTileKernels256.cs"), "w", encoding="utf-8", newline="\n") as f:
    f.write(text)
