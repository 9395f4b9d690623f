using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Backends;

/// <summary>
/// The tensors of one run, named after the underlying convolution y = conv(x, w):
/// forward reads X, W (and Bias) and writes Y; backward-data reads Y (= dy), W (and Bias) and writes
/// X (= dx); backward-filter reads X and Y (= dy) and writes W (= dw). A bias is added per channel of
/// the tensor the op writes. Bias may be null.
/// </summary>
public sealed record ConvTensors(Tensor X, Tensor W, Tensor Y, Tensor? Bias = null)
{
    /// <summary>
    /// The caller's promise that W's data will not change while this W tensor is used (inference
    /// weights, like an ONNX initializer). Backends may then keep W in a prepared layout across runs:
    /// the CPU backend packs it once for its channel-tiled kernels instead of on every run. Any ConvEngine op that
    /// writes W drops that copy; changing W's array in place otherwise needs <see cref="CpuBackend.ForgetPreparedWeights"/> (or a new tensor).
    /// </summary>
    public bool ConstantWeights { get; init; }

    /// <summary>
    /// Add the op's result to what the tensor it writes (Y, X or W) already holds, instead of overwriting it:
    /// PyTorch's <c>.grad +=</c>, cuDNN's beta = 1. Every backend honours it; false (the default) overwrites.
    /// </summary>
    public bool Accumulate { get; init; }

    /// <summary>Checks presence, shapes and memory kind of every tensor the op needs; names the offender.</summary>
    public void Validate(ConvProblem problem, MemoryKind memory) => Validate(problem, memory, paddingModes: true);

    /// <summary>
    /// <see cref="Validate(ConvProblem, MemoryKind)"/>, refusing a padding mode unless <paramref name="paddingModes"/>: the
    /// backends that make only zero padding pass false, so a problem with another mode handed to them directly fails
    /// instead of running as zero padding (the engine and planner hand them its explicitly padded problem).
    /// </summary>
    internal void Validate(ConvProblem problem, MemoryKind memory, bool paddingModes)
    {
        ArgumentNullException.ThrowIfNull(problem);
        if (!paddingModes && problem.Spec.HasPaddingMode)
            throw new ArgumentException($"this backend pads with zeros only; {problem.Spec} has padding mode {problem.Spec.PaddingMode}: run it through ConvEngine, or run problem.ExplicitlyPadded on the padded input.", nameof(problem));
        // Every op touches all three of X, W and Y (read or written).
        Check(X, problem.XShape, "X");
        Check(W, problem.WShape, "W");
        Check(Y, problem.YShape, "Y");
        if (Bias is not null)
        {
            if (problem.Op == ConvOp.BackwardFilter)
                throw new ArgumentException("bias is not used by backward-filter; pass null.", nameof(Bias));
            if (Bias.Shape.ElementCount != problem.BiasLength)
                throw new ArgumentException($"bias has {Bias.Shape.ElementCount} elements but the {problem.Op} output has {problem.BiasLength} channels.", nameof(Bias));
            CheckMemory(Bias, "Bias");
        }

        void Check(Tensor? t, TensorShape expected, string name)
        {
            if (t is null)
                throw new ArgumentException($"{problem.Op} needs tensor {name} of shape {expected}, got null.", name);
            if (!t.Shape.Equals(expected))
                throw new ArgumentException($"tensor {name} has shape {t.Shape}, expected {expected} for {problem}.", name);
            CheckMemory(t, name);
        }

        void CheckMemory(Tensor t, string name)
        {
            if (t.Memory != memory)
                throw new ArgumentException($"tensor {name} is in {t.Memory} memory but this backend runs on {memory} memory.", name);
        }
    }
}
