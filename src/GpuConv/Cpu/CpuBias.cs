using System.Runtime.CompilerServices;
using GpuConv.Cpu.Elementwise;
using GpuConv.Tensors;

namespace GpuConv.Cpu;

/// <summary>Per-channel bias of NC… tensors: adding it after a convolution, and its gradient.</summary>
internal static unsafe class CpuBias
{
    /// <summary>
    /// db[c] = Σ over batch and spatial positions of dy[n, c, …] (the bias gradient of a convolution
    /// whose output gradient is dy). Accumulates in float64, then rounds once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Gradient(TensorShape dyShape, ReadOnlySpan<float> dy, Span<float> db)
    {
        ArgumentNullException.ThrowIfNull(dyShape);
        if (dyShape.Rank < 2)
            throw new ArgumentException($"dyShape must be N, C, spatial…; got {dyShape}.", nameof(dyShape));
        if (dy.Length != dyShape.ElementCount)
            throw new ArgumentException($"dy has {dy.Length} elements but shape {dyShape} needs {dyShape.ElementCount}.", nameof(dy));
        if (db.Length != dyShape.C)
            throw new ArgumentException($"db has {db.Length} elements but dy has {dyShape.C} channels.", nameof(db));
        int n = dyShape.N, c = dyShape.C;
        long spatial = dyShape.SpatialSize;
        fixed (float* p = dy)
        {
            for (int ch = 0; ch < c; ch++)
            {
                double sum = 0;
                for (int i = 0; i < n; i++)
                    sum += VectorOps.Sum(p + ((long)i * c + ch) * spatial, (nint)spatial);
                db[ch] = (float)sum;
            }
        }
    }

    /// <summary>
    /// Adds bias[c] to rows [c0, c1) of one image's [C, spatial] block restricted to columns [j0, j1), then applies
    /// <paramref name="act"/> (the fused activation, in the same pass where it can: see <see cref="CpuActivation"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AddRows(float* image, nint spatial, float* bias, int c0, int c1, int j0, int j1, Activation act = Activation.Identity)
    {
        if (bias == null)
        {
            CpuActivation.Rows(act, image + c0 * spatial + j0, spatial, c1 - c0, j1 - j0);
            return;
        }
        for (int ch = c0; ch < c1; ch++)
            CpuActivation.AddScalar(image + ch * spatial + j0, bias[ch], j1 - j0, act);
    }
}
