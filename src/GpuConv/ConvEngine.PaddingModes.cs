using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Planning;
using GpuConv.Tensors;

namespace GpuConv;

// Convolutions with a padding mode (reflect, replicate, circular): PyTorch's F.pad then an unpadded convolution, with the
// gradient carried back through the pad. The planner and the backends see only the unpadded convolution on the padded
// input (ConvProblem.ExplicitlyPadded); the engine wraps each op in the pad's loops or kernels (ConvEngine.Padding.cs):
//   forward          pad x into a scratch tensor, then the convolution (bias, activation, accumulate as usual);
//   backward-data    the convolution's dx into a padded scratch tensor, then the pad's gradient into dx (or += with accumulate);
//   backward-filter  pad x, then the convolution's dw.
// Scratch tensors come from the engine's memory and are reused by the next call (ScratchTensors).
public sealed partial class ConvEngine
{
    readonly ScratchTensors scratch = new();

    /// <summary><see cref="RunHost(ConvProblem, HostTensor?, HostTensor?, HostTensor?, HostTensor?, out Plan, Activation?, Action?, bool)"/> for a problem with a padding mode.</summary>
    HostTensor RunHostPadded(ConvProblem problem, HostTensor? x, HostTensor? w, HostTensor? y, HostTensor? bias, out Plan plan,
        Activation? fuse, Action? onFused, bool constantWeights)
    {
        var padded = problem.ExplicitlyPadded;
        var g = PadGeometry.Of(problem);
        if (problem.Op == ConvOp.BackwardData)
        {
            var dxPadded = RunHost(padded, null, w, y, bias: null, out plan, constantWeights: constantWeights);
            var dx = HostTensor.Uninitialized(problem.XShape);
            Cpu.Layers.CpuPadding.Backward(g, dxPadded.Data, dx.Data, accumulate: false, HostWorkers);
            return dx;
        }
        // The host scratch is the engine's own only when its memory is the host's (a GPU engine stages host tensors anyway).
        bool reuse = ReferenceEquals(Memory, HostMemorySpace.Instance);
        var xPadded = reuse ? (HostTensor)scratch.Rent(HostMemorySpace.Instance, padded.XShape) : new HostTensor(padded.XShape);
        try
        {
            Cpu.Layers.CpuPadding.Forward(g, x!.Data, xPadded.Data, HostWorkers);
            return RunHost(padded, xPadded, w, y, bias, out plan, fuse, onFused, constantWeights);
        }
        finally
        {
            if (reuse) scratch.Return(xPadded);
        }
    }

    /// <summary>
    /// RunResident for a problem with a padding mode: the output is checked against the caller's tensors here (the padded
    /// scratch is never one of them), then the unpadded convolution runs on the scratch tensors through RunResident.
    /// </summary>
    Tensor RunResidentPadded(ConvProblem problem, Tensor? x, Tensor? w, Tensor? y, Tensor? bias, Tensor? output, bool constantWeights, Activation? fuse, bool accumulate)
    {
        var padded = problem.ExplicitlyPadded;
        var g = PadGeometry.Of(problem);
        EnsureFits(padded, Memory, [x, w, y, output], plan: null);
        if (output is not null) TakeOutput(output, problem.OutputShape, inputs: [x, w, y, bias]);
        if (problem.Op == ConvOp.BackwardData)
        {
            var result = TakeOutput(output, problem.XShape, inputs: [w, y]);
            var dxPadded = scratch.Rent(Memory, padded.XShape);
            try
            {
                RunResident(padded, null, w, y, bias: null, dxPadded, constantWeights, fuse: null, accumulate: false);
                using (EnterStream())
                    PadBackwardInto(g, dxPadded, result, accumulate);
                return result;
            }
            catch
            {
                if (output is null) ((IDisposable)result).Dispose();
                throw;
            }
            finally
            {
                scratch.Return(dxPadded);
                Wrote(result);
            }
        }
        var xPadded = scratch.Rent(Memory, padded.XShape);
        try
        {
            using (EnterStream())
                PadInto(g, x!, xPadded);
            return RunResident(padded, xPadded, w, y, bias, output, constantWeights, fuse, accumulate);
        }
        finally { scratch.Return(xPadded); }
    }

    /// <summary>
    /// <see cref="Run"/> for a problem with a padding mode, on the caller's tensor set in <paramref name="memory"/>: the same
    /// three steps, the unpadded convolution through <see cref="Run"/> with the scratch tensor in X's place.
    /// </summary>
    Plan RunPadded(ConvProblem problem, ConvTensors tensors, MemoryKind memory)
    {
        if (problem.Op == ConvOp.BackwardData && tensors.Bias is not null)
            throw new ArgumentException($"a bias on backward-data is a transposed convolution's, which pads with zeros only; {problem.Spec} has padding mode {problem.Spec.PaddingMode}.", nameof(tensors));
        var padded = problem.ExplicitlyPadded;
        var g = PadGeometry.Of(problem);
        var space = memory == MemoryKind.Host ? HostMemorySpace.Instance : Memory;
        var xPadded = scratch.Rent(space, padded.XShape);
        try
        {
            if (problem.Op == ConvOp.BackwardData)
            {
                var plan = Run(padded, tensors with { X = xPadded, Accumulate = false });
                using (memory == MemoryKind.Device ? EnterStream() : default)
                    PadBackwardInto(g, xPadded, tensors.X, tensors.Accumulate);
                Wrote(tensors.X);
                return plan;
            }
            using (memory == MemoryKind.Device ? EnterStream() : default)
                PadInto(g, tensors.X, xPadded);
            return Run(padded, tensors with { X = xPadded });
        }
        finally { scratch.Return(xPadded); }
    }
}
