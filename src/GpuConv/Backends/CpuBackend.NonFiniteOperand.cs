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
    /// <summary>Whether each constant W (keyed by array, as the prepared-weight caches) is finite: scanned once.</summary>
    readonly ConditionalWeakTable<float[], StrongBox<bool>> _finiteConstantWeights = new();

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
                if (!constant) return !VectorOps.AllFinite(pw, p.WShape.ElementCount);
                if (!_finiteConstantWeights.TryGetValue(w, out var finite))
                    _finiteConstantWeights.AddOrUpdate(w, finite = new StrongBox<bool>(VectorOps.AllFinite(pw, p.WShape.ElementCount)));
                return !finite.Value;
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
