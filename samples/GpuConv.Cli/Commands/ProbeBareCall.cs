using GpuConv.Backends;
using GpuConv.Backends.Cudnn;
using GpuConv.Conv;
using GpuConv.Cuda;
using GpuConv.Cuda.Native;

namespace GpuConv.Cli.Commands;

/// <summary>
/// The lowest call that makes the overhead section's convolution: for cudnn, cudnnConvolutionForward
/// itself (<see cref="CudnnForward"/>); for ptx and cpu, which have no single library call beneath them,
/// the backend's own call.
/// </summary>
internal abstract class ProbeBareCall : IDisposable
{
    /// <summary>What the bare call is, for the summary line.</summary>
    public abstract string Description { get; }

    /// <summary>Issues one convolution (asynchronous on a GPU stream).</summary>
    public abstract void Call();

    public virtual void Dispose() { }

    public static ProbeBareCall For(ConvEngine engine, IConvBackend backend, ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors, Action backendCall) =>
        backend switch
        {
            CudnnBackend when CudnnGraphEngineChoice.IsGraphName(algorithm.Name) =>
                new ProbeBareGraphCall(engine.GpuRuntime ?? throw new InvalidOperationException("the cudnn backend runs without the engine's GPU runtime"),
                    problem, algorithm, tensors),
            CudnnBackend => new CudnnForward(engine.GpuRuntime ?? throw new InvalidOperationException("the cudnn backend runs without the engine's GPU runtime"),
                problem, algorithm, tensors),
            IStreamOrderedBackend => new SameAsBackend(backendCall, $"the {backend.Name} backend's Enqueue (no lower call: its kernels and cuBLAS are issued from it)"),
            _ => new SameAsBackend(backendCall, $"the {backend.Name} backend's Run (cpu stand-in)"),
        };

    sealed class SameAsBackend(Action call, string description) : ProbeBareCall
    {
        public override string Description => description;
        public override void Call() => call();
    }

    /// <summary>
    /// cudnnConvolutionForward on the runtime's stream with the plan's algorithm and math, through the
    /// binding: handle, descriptors and workspace made once, raw handles kept, only the status checked per call.
    /// </summary>
    sealed unsafe class CudnnForward : ProbeBareCall
    {
        readonly CudnnHandle _handle;
        readonly CudnnDescriptors _descriptors;
        readonly IDisposable? _workspace;
        readonly nint _raw, _xDesc, _wDesc, _convDesc, _yDesc;
        readonly ulong _x, _w, _y, _work;
        readonly nuint _workBytes;
        readonly CudnnConvolutionFwdAlgo _algorithm;

        public CudnnForward(CudaGpuRuntime runtime, ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
        {
            runtime.Context.MakeCurrent(); // left current: the bare calls that follow make it current no more
            _handle = runtime.CreateCudnnHandle();
            try
            {
                _descriptors = new CudnnDescriptors(_handle.Api, problem);
                if (_descriptors.Padding.IsExplicit)
                    throw new InvalidOperationException($"{problem} needs the backend's padded copy; the bare call takes symmetric padding only.");
                _descriptors.SetMath(algorithm.Math);
                if (algorithm.WorkspaceBytes > 0)
                {
                    var scratch = runtime.AllocateScratch(algorithm.WorkspaceBytes, "probe: bare cudnnConvolutionForward workspace");
                    _workspace = scratch;
                    _work = scratch.Pointer;
                    _workBytes = (nuint)algorithm.WorkspaceBytes;
                }
            }
            catch
            {
                _descriptors?.Dispose();
                _handle.Dispose();
                throw;
            }
            (_raw, _xDesc, _wDesc, _convDesc, _yDesc) = (_handle.Raw, _descriptors.X.Raw, _descriptors.W.Raw, _descriptors.Conv.Raw, _descriptors.Y.Raw);
            (_x, _w, _y) = (runtime.PointerOf(tensors.X), runtime.PointerOf(tensors.W), runtime.PointerOf(tensors.Y));
            _algorithm = (CudnnConvolutionFwdAlgo)algorithm.Id;
            Description = $"cudnnConvolutionForward ({CudnnAlgorithmNames.Of(ConvOp.Forward, algorithm.Id)}, {algorithm.WorkspaceBytes} B workspace, descriptors made once)";
        }

        public override string Description { get; }

        public override void Call()
        {
            float one = 1f, zero = 0f;
            var status = CuDnn.cudnnConvolutionForward(_raw, &one, _xDesc, _x, _wDesc, _w, _convDesc, _algorithm, _work, _workBytes, &zero, _yDesc, _y);
            if (status != CudnnStatus.Success) throw new CudnnException(status, "cudnnConvolutionForward");
        }

        public override void Dispose()
        {
            _workspace?.Dispose();
            _descriptors.Dispose();
            _handle.Dispose();
        }
    }
}
