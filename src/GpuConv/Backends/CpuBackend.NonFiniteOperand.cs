using System.Runtime.CompilerServices;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Reference;

namespace GpuConv.Backends;

// A ±Inf or NaN in the operand that the fast paths multiply by padding zeros (W for forward and
// backward-data, dy for backward-filter) would give 0 · Inf = NaN where the direct sum — and PyTorch —
// leave padded taps out. Such runs take the float64 reference instead: slow, but only for inputs that
// are already broken, and they then carry the same NaN/±Inf pattern as the reference and PyTorch.
public sealed unsafe partial class CpuBackend
{
    /// <summary>
    /// max |W| of each constant W, +Inf when it holds a NaN or ±Inf (keyed by array, as the prepared-weight
    /// caches): scanned once, for the padding check here and Winograd's finiteness and overflow bound.
    /// </summary>
    readonly ConditionalWeakTable<float[], StrongBox<float>> _constantWeightMagnitudes = new();

    /// <summary>max |W| or +Inf (see <see cref="VectorOps.MaxAbsOrInfinity"/>); from the cache for constant weights.</summary>
    float WeightMagnitude(float[] w, float* pw, long count, bool constant)
    {
        if (!constant) return VectorOps.MaxAbsOrInfinity(pw, count);
        if (!_constantWeightMagnitudes.TryGetValue(w, out var magnitude))
            _constantWeightMagnitudes.AddOrUpdate(w, magnitude = new StrongBox<float>(VectorOps.MaxAbsOrInfinity(pw, count)));
        return magnitude.Value;
    }

    /// <summary>
    /// True when this run reads padding zeros against a non-finite operand, so the fast paths would make
    /// NaNs the direct sum does not have. Forward: padded x times W. Backward-data (a forward run of dy,
    /// padded by the kernel's reach unless 1x1 unpadded): W. Backward-filter: padded x times dy.
    /// </summary>
    bool PaddingMeetsNonFinite(ConvProblem p, float* px, float* pw, float* py, float[] w, bool constant)
    {
        switch (p.Op)
        {
            case ConvOp.Forward when !p.Spec.IsUnpadded:
            case ConvOp.BackwardData when !(p.IsPointwise && p.Spec.IsUnpadded):
                return !float.IsFinite(WeightMagnitude(w, pw, p.WShape.ElementCount, constant));
            case ConvOp.BackwardFilter when !p.Spec.IsUnpadded:
                return !VectorOps.AllFinite(py, p.YShape.ElementCount);
            default:
                return false;
        }
    }

    /// <summary>The run by the float64 reference (see <see cref="ReferenceConv"/>), rounded into the output tensor.</summary>
    static void RunByReference(ConvProblem p, float[] x, float[] w, float[] y, float[]? bias)
    {
        double[] result = ReferenceConv.Run(p, x, w, y, bias);
        float[] output = p.Op switch { ConvOp.Forward => y, ConvOp.BackwardData => x, _ => w };
        for (int i = 0; i < result.Length; i++) output[i] = (float)result[i];
    }
}
