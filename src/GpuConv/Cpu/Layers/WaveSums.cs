using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuConv.Cpu.Layers;

/// <summary>
/// The normalisation layers' partial sums (partial k = +0 + f(t = k) + f(t = k + 256) + …, position t running over
/// <c>rows</c> rows of <c>length</c> values <c>rowStride</c> apart) taken wave-major: eight partials a vector, four
/// vectors held in registers while they run down the positions 256 apart, then the next 32 partials. Every partial still
/// receives its terms one at a time in increasing t, so the partials — and the tree after them — have the bits of the
/// walk that goes through the positions in order; what changes is that the partials stay in registers instead of being
/// loaded and stored for every eight terms, and that no run ends in a scalar tail. A vector whose eight positions cross
/// a row's end takes its lanes from both rows (masked loads; rows of at least 8 values, so never more than two).
/// </summary>
internal static unsafe class WaveSums
{
    /// <summary>Partial sums a sum has (one GPU block's threads).</summary>
    public const int Partials = 256;
    /// <summary>The fewest values a row may hold (a vector then spans at most two rows).</summary>
    public const int MinRowLength = 8;
    const int VectorsPerPass = 4;

    /// <summary>
    /// Writes the <see cref="Partials"/> partial sums of termA (into <paramref name="partialA"/>) and of termB (into
    /// <paramref name="partialB"/>, unless TB is <see cref="NoTerm"/>) over the positions of a and b.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TA, TB>(float* a, float* b, int rows, long rowStride, int length, TA termA, TB termB, float* partialA, float* partialB)
        where TA : struct, IRowTerm where TB : struct, IRowTerm
    {
        if (length < MinRowLength) throw new ArgumentOutOfRangeException(nameof(length), length, $"rows of fewer than {MinRowLength} values go to the ordered walk.");
        long total = (long)rows * length;
        bool two = typeof(TB) != typeof(NoTerm);
        for (int first = 0; first < Partials; first += 8 * VectorsPerPass)
        {
            Vector256<float> sa0 = default, sa1 = default, sa2 = default, sa3 = default;
            Vector256<float> sb0 = default, sb1 = default, sb2 = default, sb3 = default;
            int row = first / length, s = first - row * length;   // where position t = first lies
            for (long t = first; t < total; t += Partials)
            {
                int r = row, c = s;
                var (ta, tb) = Terms(a, b, rows, rowStride, length, total, t, r, c, termA, termB, two);
                sa0 += ta; sb0 += tb;
                Advance(ref r, ref c, 8, length);
                (ta, tb) = Terms(a, b, rows, rowStride, length, total, t + 8, r, c, termA, termB, two);
                sa1 += ta; sb1 += tb;
                Advance(ref r, ref c, 8, length);
                (ta, tb) = Terms(a, b, rows, rowStride, length, total, t + 16, r, c, termA, termB, two);
                sa2 += ta; sb2 += tb;
                Advance(ref r, ref c, 8, length);
                (ta, tb) = Terms(a, b, rows, rowStride, length, total, t + 24, r, c, termA, termB, two);
                sa3 += ta; sb3 += tb;
                Advance(ref row, ref s, Partials, length);
            }
            sa0.Store(partialA + first); sa1.Store(partialA + first + 8); sa2.Store(partialA + first + 16); sa3.Store(partialA + first + 24);
            if (two) { sb0.Store(partialB + first); sb1.Store(partialB + first + 8); sb2.Store(partialB + first + 16); sb3.Store(partialB + first + 24); }
        }
    }

    /// <summary>Moves (row, column) on by <paramref name="step"/> positions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Advance(ref int row, ref int column, int step, int length)
    {
        column += step;
        while (column >= length) { column -= length; row++; }
    }

    /// <summary>
    /// The two terms of positions t … t + 7 (at row r, column c), +0 in lanes at or past <paramref name="total"/>
    /// (adding +0 leaves a partial's bits as they are: a partial that starts at +0 is never −0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector256<float>, Vector256<float>) Terms<TA, TB>(float* a, float* b, int rows, long rowStride, int length, long total,
        long t, int r, int c, TA termA, TB termB, bool two) where TA : struct, IRowTerm where TB : struct, IRowTerm
    {
        if (t >= total) return (Vector256<float>.Zero, Vector256<float>.Zero);
        long offset = r * rowStride + c;
        termA.Params(r, out float pa, out float qa);
        termB.Params(r, out float pb, out float qb);
        if (c + 8 <= length && t + 8 <= total)
        {
            Vector256<float> va = Vector256.Load(a + offset), vb = Vector256.Load(b + offset);
            return (termA.Of(va, vb, Vector256.Create(pa), Vector256.Create(qa)),
                two ? termB.Of(va, vb, Vector256.Create(pb), Vector256.Create(qb)) : Vector256<float>.Zero);
        }
        // Lanes < low from this row, low … valid - 1 from the next one (it exists: those positions are below total).
        int valid = (int)Math.Min(8, total - t), low = Math.Min(valid, length - c);
        var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var here = Vector256.LessThan(lane, Vector256.Create(low)).AsSingle();
        var inRange = Vector256.LessThan(lane, Vector256.Create(valid)).AsSingle();
        var next = Vector256.AndNot(inRange, here);
        long nextOffset = offset - c + rowStride - low;   // lane i of the next row's part reads column i - low
        Vector256<float> xa = Split(a + offset, a + nextOffset, here, next, low, valid);
        Vector256<float> xb = Split(b + offset, b + nextOffset, here, next, low, valid);
        float pa2 = 0f, qa2 = 0f, pb2 = 0f, qb2 = 0f;
        if (valid > low)
        {
            termA.Params(r + 1, out pa2, out qa2);
            termB.Params(r + 1, out pb2, out qb2);
        }
        var ta = Vector256.ConditionalSelect(inRange, termA.Of(xa, xb,
            Vector256.ConditionalSelect(here, Vector256.Create(pa), Vector256.Create(pa2)),
            Vector256.ConditionalSelect(here, Vector256.Create(qa), Vector256.Create(qa2))), Vector256<float>.Zero);
        var tb = two ? Vector256.ConditionalSelect(inRange, termB.Of(xa, xb,
            Vector256.ConditionalSelect(here, Vector256.Create(pb), Vector256.Create(pb2)),
            Vector256.ConditionalSelect(here, Vector256.Create(qb), Vector256.Create(qb2))), Vector256<float>.Zero) : Vector256<float>.Zero;
        return (ta, tb);
    }

    static float Lane(float* p, float* q, int i, int low, int valid) => i < low ? p[i] : i < valid ? q[i] : 0f;

    /// <summary>Lanes under <paramref name="here"/> from <paramref name="p"/>, under <paramref name="next"/> from <paramref name="q"/>, the rest 0; nothing outside the selected lanes is read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Split(float* p, float* q, Vector256<float> here, Vector256<float> next, int low, int valid)
    {
        if (Avx.IsSupported) return Avx.MaskLoad(p, here) | Avx.MaskLoad(q, next);
        return Vector256.Create(Lane(p, q, 0, low, valid), Lane(p, q, 1, low, valid), Lane(p, q, 2, low, valid), Lane(p, q, 3, low, valid),
            Lane(p, q, 4, low, valid), Lane(p, q, 5, low, valid), Lane(p, q, 6, low, valid), Lane(p, q, 7, low, valid));
    }
}
