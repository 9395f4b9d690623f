using GpuConv.Cuda;
using GpuConv.Cuda.Native;
using A = GpuConv.Cuda.Native.CudnnBackendAttributeName;
using T = GpuConv.Cuda.Native.CudnnBackendAttributeType;

namespace GpuConv.Backends.Cudnn;

/// <summary>One engine config a heuristics query returned, with the engine's numerical and behaviour notes.</summary>
internal sealed record CudnnGraphHeuristicEntry(CudnnGraphEngineChoice Choice, IReadOnlyList<CudnnBackendNumericalNote> Notes,
    IReadOnlyList<CudnnBackendBehaviorNote> Behavior, CudnnBackendHeurMode Mode);

/// <summary>
/// cuDNN's engine heuristics for an operation graph, as cudnn-frontend and PyTorch use them: mode A (the
/// ranked list) and then FALLBACK (engines that support the graph without a performance ranking), each
/// config read back as engine global index, knob choices and numerical notes. The backend API returns
/// configs into descriptors the caller creates: the result count is asked first (requestedElementCount 0),
/// then that many ENGINECFG descriptors are created and filled, and each config's engine and knob choices
/// are read the same way.
/// </summary>
internal static class CudnnGraphHeuristics
{
    public static List<CudnnGraphHeuristicEntry> Query(ICudnnGraphApi api, CudnnGraphOperation graph, params CudnnBackendHeurMode[] modes)
    {
        var entries = new List<CudnnGraphHeuristicEntry>();
        foreach (var mode in modes)
        {
            using var heur = new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.EngineHeurDescriptor);
            heur.SetDescriptors(A.EngineHeurOperationGraph, graph.Graph);
            heur.SetEnum(A.EngineHeurMode, T.HeurMode, (int)mode);
            heur.FinalizeOrThrow();
            long count = CountOr(heur, A.EngineHeurResults, MaxResultsWithoutCount);
            if (count <= 0) continue;
            var configs = new CudnnBackendDescriptor[Math.Min(count, 1024)];
            try
            {
                for (int i = 0; i < configs.Length; i++) configs[i] = new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.EngineCfgDescriptor);
                int filled = heur.GetDescriptors(A.EngineHeurResults, configs);
                for (int i = 0; i < filled; i++)
                {
                    // One config cuDNN will not describe is skipped; the rest of the list stands.
                    try { entries.Add(Read(api, configs[i], mode)); }
                    catch (CudnnException e) when (CudnnBackend.IsRefusal(e.Status)) { NativeTrace.Note($"cudnn graph heuristics {mode}: result {i} unreadable: {e.Message}"); }
                }
            }
            finally
            {
                foreach (var c in configs) c?.Dispose();
            }
        }
        return entries;
    }

    const int MaxResultsWithoutCount = 64;

    /// <summary>
    /// The element count of a descriptor-array attribute (a get of 0 elements), or <paramref name="fallback"/>
    /// descriptors when the library refuses a count-only get (then the array get says how many it filled).
    /// </summary>
    static long CountOr(CudnnBackendDescriptor d, CudnnBackendAttributeName name, int fallback)
    {
        try { return d.CountDescriptors(name); }
        catch (CudnnException e) when (CudnnBackend.IsRefusal(e.Status))
        {
            NativeTrace.Note($"cudnn graph: count-only get of {name} refused ({e.StatusName}); reading up to {fallback}");
            return fallback;
        }
    }

    static CudnnGraphHeuristicEntry Read(ICudnnGraphApi api, CudnnBackendDescriptor config, CudnnBackendHeurMode mode)
    {
        using var engine = new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.EngineDescriptor);
        config.GetDescriptors(A.EngineCfgEngine, [engine]);
        long index = engine.GetInt64(A.EngineGlobalIndex);
        var notes = engine.GetEnums(A.EngineNumericalNote, T.NumericalNote, (int)CudnnBackendNumericalNote.TypeCount)
            .Select(n => (CudnnBackendNumericalNote)n).ToArray();
        var behavior = engine.GetEnums(A.EngineBehaviorNote, T.BehaviorNote, (int)CudnnBackendBehaviorNote.TypeCount)
            .Select(n => (CudnnBackendBehaviorNote)n).ToArray();

        var knobs = new List<(int, long)>();
        long count = CountOr(config, A.EngineCfgKnobChoices, (int)CudnnBackendKnobType.Counts);
        var choices = new CudnnBackendDescriptor[Math.Clamp(count, 0, (int)CudnnBackendKnobType.Counts)];
        try
        {
            for (int i = 0; i < choices.Length; i++) choices[i] = new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.KnobChoiceDescriptor);
            int n = choices.Length == 0 ? 0 : config.GetDescriptors(A.EngineCfgKnobChoices, choices);
            for (int i = 0; i < n; i++)
            {
                int type = choices[i].GetEnums(A.KnobChoiceKnobType, T.KnobType, 1).FirstOrDefault();
                knobs.Add((type, choices[i].GetInt64(A.KnobChoiceKnobValue)));
            }
        }
        finally
        {
            foreach (var c in choices) c?.Dispose();
        }
        return new CudnnGraphHeuristicEntry(new CudnnGraphEngineChoice(index, [.. knobs.OrderBy(k => k.Item1)], CudnnGraphEngineChoice.TagOf(notes)), notes, behavior, mode);
    }

    /// <summary>
    /// The math mode an engine with these notes runs under, or null when it is no candidate at this precision:
    /// inputs converted down (DOWN_CONVERT_INPUTS) or reduced-precision reductions never; tensor-core engines
    /// (TF32 for FP32 data) only when TF32 is allowed, as <see cref="MathMode.TF32"/>; the rest are strict FP32.
    /// </summary>
    public static MathMode? MathFor(IReadOnlyCollection<CudnnBackendNumericalNote> notes, ConvPrecision precision)
    {
        if (notes.Contains(CudnnBackendNumericalNote.DownConvertInputs) || notes.Contains(CudnnBackendNumericalNote.ReducedPrecisionReduction)) return null;
        if (notes.Contains(CudnnBackendNumericalNote.TensorCore)) return precision == ConvPrecision.AllowTF32 ? MathMode.TF32 : null;
        return MathMode.Strict;
    }
}
