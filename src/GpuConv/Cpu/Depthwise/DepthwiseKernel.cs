namespace GpuConv.Cpu.Depthwise;

/// <summary>The depthwise forward kernels <see cref="CpuForward.DepthwiseKernelFor"/> chooses from.</summary>
internal enum DepthwiseKernel
{
    /// <summary><see cref="Depthwise3x3"/> (AVX-512), from the unpadded planes.</summary>
    ThreeByThree,
    /// <summary><see cref="Depthwise3x3Avx2"/> (AVX2 + FMA), from the unpadded planes.</summary>
    ThreeByThreeAvx2,
    /// <summary><see cref="DepthwiseChannelLast"/> (AVX-512) on whole blocks of 16 channels, the rest by <see cref="CpuForward.PlaneKernelFor"/>'s kernel.</summary>
    ChannelLast,
    /// <summary><see cref="DepthwiseChannelLastAvx2"/> (AVX2 + FMA) on whole blocks of 8 channels, the rest by <see cref="CpuForward.PlaneKernelFor"/>'s kernel.</summary>
    ChannelLastAvx2,
    /// <summary><see cref="DepthwiseNarrow"/> (AVX-512), from the unpadded planes.</summary>
    Narrow,
    /// <summary><see cref="DepthwiseStrips"/> (AVX-512), from the unpadded planes.</summary>
    Strips,
    /// <summary><see cref="DepthwiseBlocked"/> (AVX-512) on whole blocks of 16 channels, the rest by the padded copy.</summary>
    Blocked,
    /// <summary><see cref="DepthwiseBlockedAvx2"/> (AVX2 + FMA) on whole blocks of 8 channels, the rest by the padded copy.</summary>
    BlockedAvx2,
    /// <summary><see cref="DepthwiseDirect"/>: plane by plane from a zero-padded, stride-phase-split copy.</summary>
    PaddedCopy,
}
