using GpuConv.Backends;
using GpuConv.Backends.Cudnn;
using GpuConv.Conv;
using GpuConv.Cuda;
using GpuConv.Cuda.Native;

namespace GpuConv.Cli.Commands;

/// <summary>
/// The bare call beneath a cudnn graph-API plan (<c>GRAPH_E…</c>): cudnnBackendExecute on the runtime's stream
/// with the execution plan and variant pack made once, as <see cref="ProbeBareCall"/>'s cudnnConvolutionForward
/// is for a legacy algorithm.
/// </summary>
internal sealed class ProbeBareGraphCall : ProbeBareCall
{
    readonly CudnnHandle _handle;
    readonly CudnnGraphOperation _graph;
    readonly CudnnGraphExecutionPlan _plan;
    readonly CudnnBackendDescriptor _pack;
    readonly IDisposable? _workspace;
    readonly nint _rawHandle, _rawPlan, _rawPack;

    public ProbeBareGraphCall(CudaGpuRuntime runtime, ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
    {
        runtime.Context.MakeCurrent(); // left current: the bare calls that follow make it current no more
        _handle = runtime.CreateCudnnHandle();
        var api = NativeCudnnGraphApi.Instance;
        var choice = CudnnGraphEngineChoice.TryParse(algorithm.Name) ?? throw new ArgumentException($"{algorithm.Key} is not a graph engine config.", nameof(algorithm));
        try
        {
            _graph = new CudnnGraphOperation(api, _handle.Raw, problem, accumulate: false);
            _plan = CudnnGraphExecutionPlan.TryBuild(api, _handle.Raw, _graph, choice, out string why)
                ?? throw new InvalidOperationException($"{algorithm.Key} does not build here: {why}");
            ulong work = 0;
            if (_plan.WorkspaceBytes > 0)
            {
                var scratch = runtime.AllocateScratch(_plan.WorkspaceBytes, "probe: bare cudnnBackendExecute workspace");
                _workspace = scratch;
                work = scratch.Pointer;
            }
            _pack = new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.VariantPackDescriptor);
            _pack.SetInt64(CudnnBackendAttributeName.VariantPackUniqueIds, CudnnGraphOperation.XUid, CudnnGraphOperation.WUid, CudnnGraphOperation.YUid);
            _pack.SetPointers(CudnnBackendAttributeName.VariantPackDataPointers, runtime.PointerOf(tensors.X), runtime.PointerOf(tensors.W), runtime.PointerOf(tensors.Y));
            _pack.SetPointers(CudnnBackendAttributeName.VariantPackWorkspace, work);
            _pack.FinalizeOrThrow();
        }
        catch
        {
            Dispose();
            throw;
        }
        (_rawHandle, _rawPlan, _rawPack) = (_handle.Raw, _plan.Plan.Raw, _pack.Raw);
        Description = $"cudnnBackendExecute ({algorithm.Name}, {_plan.WorkspaceBytes} B workspace, plan and variant pack made once)";
    }

    public override string Description { get; }

    public override void Call()
    {
        var status = CuDnnGraph.cudnnBackendExecute(_rawHandle, _rawPlan, _rawPack);
        if (status != CudnnStatus.Success) throw new CudnnException(status, "cudnnBackendExecute");
    }

    public override void Dispose()
    {
        _pack?.Dispose();
        _workspace?.Dispose();
        _plan?.Dispose();
        _graph?.Dispose();
        _handle.Dispose();
    }
}
