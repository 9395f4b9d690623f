using GpuConv.Cuda;
using GpuConv.Cuda.Native;
using A = GpuConv.Cuda.Native.CudnnBackendAttributeName;
using T = GpuConv.Cuda.Native.CudnnBackendAttributeType;

namespace GpuConv.Backends.Cudnn;

/// <summary>
/// A finalized execution plan for one engine config on one operation graph, recreated from the config's
/// name alone (<see cref="CudnnGraphEngineChoice"/>): engine by global index, knob choices set back, the
/// engine config, the plan bound to the handle, its workspace size and the engine's numerical notes.
/// <see cref="TryBuild"/> returns null with the reason when cuDNN will not finalize one of them (the engine
/// does not support this graph, a knob value is out of range): that candidate is then declined.
/// </summary>
internal sealed class CudnnGraphExecutionPlan : IDisposable
{
    readonly List<CudnnBackendDescriptor> _owned;

    CudnnGraphExecutionPlan(List<CudnnBackendDescriptor> owned, CudnnBackendDescriptor plan, long workspace, IReadOnlyList<CudnnBackendNumericalNote> notes)
    {
        _owned = owned;
        Plan = plan;
        WorkspaceBytes = workspace;
        Notes = notes;
    }

    public CudnnBackendDescriptor Plan { get; }
    public long WorkspaceBytes { get; }
    public IReadOnlyList<CudnnBackendNumericalNote> Notes { get; }

    /// <summary>
    /// The variant pack of the last run and the pointers it holds (x, w, y, workspace): a call with the same
    /// pointers (a steady-state loop over the same tensors) reuses it instead of building one per call.
    /// </summary>
    internal CudnnBackendDescriptor? LastPack { get; private set; }
    internal (ulong X, ulong W, ulong Y, ulong Workspace) LastPackPointers { get; private set; }

    internal void KeepPack(CudnnBackendDescriptor pack, (ulong, ulong, ulong, ulong) pointers)
    {
        LastPack?.Dispose();
        LastPack = pack;
        LastPackPointers = pointers;
    }

    public static CudnnGraphExecutionPlan? TryBuild(ICudnnGraphApi api, nint cudnnHandle, CudnnGraphOperation graph, CudnnGraphEngineChoice choice, out string why)
    {
        var owned = new List<CudnnBackendDescriptor>();
        CudnnBackendDescriptor Own(CudnnBackendDescriptor d) { owned.Add(d); return d; }
        bool Finalized(CudnnBackendDescriptor d, out string reason)
        {
            var status = d.TryFinalize();
            reason = status == CudnnStatus.Success ? "" : $"{d.Type} of {choice.Name} does not finalize: {Describe(status)}";
            if (status != CudnnStatus.Success && !CudnnBackend.IsRefusal(status)) throw new CudnnException(status, $"cudnnBackendFinalize({d.Type})");
            return status == CudnnStatus.Success;
        }
        try
        {
            var engine = Own(new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.EngineDescriptor));
            engine.SetDescriptors(A.EngineOperationGraph, graph.Graph);
            engine.SetInt64(A.EngineGlobalIndex, choice.EngineIndex);
            if (!Finalized(engine, out why)) { Dispose(owned); return null; }
            var notes = engine.GetEnums(A.EngineNumericalNote, T.NumericalNote, (int)CudnnBackendNumericalNote.TypeCount)
                .Select(n => (CudnnBackendNumericalNote)n).ToArray();

            var knobs = new List<CudnnBackendDescriptor>();
            foreach (var (type, value) in choice.Knobs)
            {
                var k = Own(new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.KnobChoiceDescriptor));
                k.SetEnum(A.KnobChoiceKnobType, T.KnobType, type);
                k.SetInt64(A.KnobChoiceKnobValue, value);
                if (!Finalized(k, out why)) { Dispose(owned); return null; }
                knobs.Add(k);
            }

            var config = Own(new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.EngineCfgDescriptor));
            config.SetDescriptors(A.EngineCfgEngine, engine);
            if (knobs.Count > 0) config.SetDescriptors(A.EngineCfgKnobChoices, [.. knobs]);
            if (!Finalized(config, out why)) { Dispose(owned); return null; }

            var plan = Own(new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.ExecutionPlanDescriptor));
            plan.SetHandleAttribute(A.ExecutionPlanHandle, cudnnHandle);
            plan.SetDescriptors(A.ExecutionPlanEngineConfig, config);
            if (!Finalized(plan, out why)) { Dispose(owned); return null; }
            long workspace = plan.GetInt64(A.ExecutionPlanWorkspaceSize);
            why = "";
            return new CudnnGraphExecutionPlan(owned, plan, workspace, notes);
        }
        catch
        {
            Dispose(owned);
            throw;
        }
    }

    static string Describe(CudnnStatus status)
    {
        var (name, text) = CuDnn.Describe(status);
        return text.Length > 0 ? $"{name}: {text}" : name;
    }

    static void Dispose(List<CudnnBackendDescriptor> owned)
    {
        for (int i = owned.Count - 1; i >= 0; i--) owned[i].Dispose();
        owned.Clear();
    }

    public void Dispose()
    {
        LastPack?.Dispose();
        LastPack = null;
        Dispose(_owned);
    }
}
