using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Layers;

/// <summary>
/// The end of the normalisation layers' channel sums (CpuBatchNorm, CpuGroupNorm, CpuChannelLayerNorm): a power-of-two
/// count of partial sums folded pairwise, half = count/2, …, 1: p[k] += p[k + half] — one GPU block's shared-memory
/// tree, which the kernels run in the same order. The levels of 8 and more go 8 lanes at a time: the same adds, so the
/// same bits as the scalar levels (a scalar tree cost about as much as a 14 × 14 channel's sums).
/// </summary>
internal static unsafe class PairwiseTree
{
    /// <summary>Folds <paramref name="count"/> partials (a power of two) into <c>partial[0]</c> and returns it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(float* partial, int count, bool vector)
    {
        int half = count / 2;
        if (vector)
            for (; half >= 8; half >>= 1)
                for (int k = 0; k < half; k += 8)
                    (Vector256.Load(partial + k) + Vector256.Load(partial + k + half)).Store(partial + k);
        for (; half > 0; half >>= 1)
            for (int k = 0; k < half; k++) partial[k] += partial[k + half];
        return partial[0];
    }
}
