using System.Runtime.CompilerServices;

namespace GpuConv.Cpu.Elementwise;

/// <summary>
/// Collects the runs a task writes one after another in memory (a depthwise layer's 7 × 7 planes, a convolution's
/// output rows, in each of <c>planes</c> planes <c>planeStride</c> apart) and applies <see cref="CpuActivation"/>'s
/// loop once per stretch, not once per run: on short runs each call's set-up and its vector loops' ragged ends cost as
/// much as the arithmetic (SiLU fused into EfficientNet-B0's 1152 × 7 × 7 depthwise layers added 36 µs per call, the
/// same SiLU as one element-wise pass over the tensor 16 µs). A stretch is at most <see cref="MaxRunFloats"/> per plane
/// and <see cref="MaxHeldFloats"/> in all, so it is still in cache when the loop reads it. The element-wise loops' bits
/// do not depend on where a stretch is cut: the result is the same. Call <see cref="Flush"/> before the task returns.
/// </summary>
internal unsafe struct ActivationRuns(Activation activation, int planes = 1, nint planeStride = 0)
{
    /// <summary>The longest stretch held back in one plane: 8 KiB of floats.</summary>
    public const int MaxRunFloats = 2048;

    /// <summary>The most held back over all planes: 128 KiB of floats, well inside a core's L2.</summary>
    public const int MaxHeldFloats = 32 * 1024;

    float* start;
    nint length;

    /// <summary>Takes the run [p, p + n) just written (in every plane); applies what is held first where the run does not follow it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(float* p, nint n)
    {
        if (activation == Activation.Identity) return;
        if (length > 0 && (p != start + length || length + n > MaxRunFloats || (length + n) * planes > MaxHeldFloats)) Flush();
        if (length == 0) start = p;
        length += n;
    }

    /// <summary>Applies the activation to what is held.</summary>
    public void Flush()
    {
        if (length == 0) return;
        if (planes == 1) CpuActivation.Apply(activation, start, length);
        else CpuActivation.Rows(activation, start, planeStride, planes, length);
        length = 0;
    }
}
