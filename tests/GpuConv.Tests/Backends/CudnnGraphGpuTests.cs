using System.Runtime.InteropServices;
using GpuConv.Backends;
using GpuConv.Backends.Cudnn;
using GpuConv.Conv;
using GpuConv.Cuda;
using GpuConv.Cuda.Discovery;
using GpuConv.Cuda.Native;
using GpuConv.Planning;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Backends;

/// <summary>
/// On a GPU host (and in CI against the strict native fake of cuDNN's backend API): the cudnn backend's
/// graph-API candidates (<see cref="CudnnGraphCandidates"/>). Every offered engine config per op and precision
/// against the float64 reference on random problems with symmetric padding, overwriting and accumulating
/// (tolerances as <see cref="CudnnBackendGpuTests.ToleranceFor"/>: strict FP32 1e-5, FFT/Winograd-tagged 1e-4,
/// TF32 1e-2); strict precision offers no tensor-core config; names recreate the config in a fresh backend and
/// through a saved plan cache; descriptors are all destroyed; the library refuses attribute misuse the way
/// the documentation says. Skipped with discovery's reason when no GPU is usable.
/// </summary>
[Category("Gpu")]
public class CudnnGraphGpuTests : CudnnGpuFixture
{
    [OneTimeSetUp]
    public void GraphCandidatesAreOn()
    {
        Assert.That(_cudnn.GraphCandidatesOff, Is.Null, "graph candidates are on unless GPUCONV_CUDNN_GRAPH=0");
    }

    static void Report(string text)
    {
        TestContext.Progress.WriteLine(text);
        TestContext.Out.WriteLine(text);
    }

    /// <summary>A random problem with symmetric padding (ranks 1–3, groups, depthwise, stride, dilation, batch).</summary>
    static ConvProblem NextSymmetric(Random rng, ConvOp op, bool depthwise)
    {
        while (true)
        {
            var p = RandomConvProblems.Next(rng, depthwise, op, maxSpatial: 9);
            var s = p.Spec;
            var spec = new ConvSpec(s.Kernel, s.Stride, s.Dilation, s.PadBegin, s.PadBegin, s.Groups);
            bool valid = Enumerable.Range(0, p.Rank).All(d => spec.ConvOutputSize(d, p.InSpatial[d]) >= 1);
            if (valid) return ConvProblem.Create(spec, p.XShape, p.WShape, op);
        }
    }

    static bool IsGraph(ConvAlgorithm a) => CudnnGraphEngineChoice.IsGraphName(a.Name);

    static IEnumerable<TestCaseData> Sweeps() =>
        from op in new[] { ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter }
        from precision in new[] { ConvPrecision.Strict, ConvPrecision.AllowTF32 }
        select new TestCaseData(op, precision).SetName($"EveryGraphConfig_{op}_{precision}");

    [TestCaseSource(nameof(Sweeps))]
    public void EveryGraphConfigMatchesReference(ConvOp op, ConvPrecision precision)
    {
        var rng = new Random(2000 + (int)op * 10 + (int)precision);
        int ran = 0, problems = 0;
        var failures = new List<string>();
        var declined = new List<string>();
        var worst = new SortedDictionary<string, double>(StringComparer.Ordinal);
        for (int i = 0; i < 16; i++)
        {
            // The first problem a 3x3 stride-1 one, which transform (Winograd) engines take; then random ones.
            var p = i == 0
                ? ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(2, 3, 7, 6), new TensorShape(4, 3, 3, 3), op)
                : NextSymmetric(rng, op, depthwise: i % 5 == 4);
            if (_cudnn.WhyUnsupported(p) is not null) continue;
            var graph = _cudnn.GetAlgorithms(p, precision).Where(IsGraph).ToList();
            Assert.That(graph, Is.Not.Empty, $"no graph engine config offered for {p} (last graph failure: {_cudnn.LastGraphFailure ?? "none"}; GPUCONV_TRACE=1 shows every call)");
            Assert.That(graph.Count(a => a.Math == MathMode.Strict), Is.LessThanOrEqualTo(CudnnGraphCandidates.DefaultMaxConfigs));
            problems++;
            foreach (var a in graph)
            {
                // Overwrite (beta 0) and, every other problem, accumulate (beta 1: a second graph, same config).
                foreach (bool accumulate in i % 2 == 0 ? new[] { false, true } : [false])
                {
                    ErrorReport err;
                    try { err = RunAndCompare(_cudnn, p, a, rng, withBias: op != ConvOp.BackwardFilter && i % 3 == 0, accumulate); }
                    catch (AlgorithmDeclinedException e) { declined.Add($"{a.Key}{(accumulate ? " (accumulate)" : "")} on {p}: {e.Status}"); continue; }
                    string key = a.Key + (accumulate ? " +=" : "");
                    worst[key] = Math.Max(worst.GetValueOrDefault(key), err.MaxRelative);
                    if (!(err.MaxRelative < CudnnBackendGpuTests.ToleranceFor(a))) failures.Add($"{key} on {p}: {err}");
                    ran++;
                }
            }
        }
        Report($"graph {op} {precision}: {problems} problems, {ran} runs, {declined.Count} declined, {failures.Count} out of tolerance; worst error per config:");
        foreach (var (key, e) in worst) Report($"  {key,-44} {e:0.00e0}");
        foreach (var d in declined) Report($"  declined: {d}");
        Assert.That(ran, Is.GreaterThan(problems), "graph configs ran");
        Assert.That(failures, Is.Empty, $"{failures.Count} of {ran} runs out of tolerance");
    }

    [Test]
    public void StrictOffersNoTensorCoreConfigAndTf32AddsThem()
    {
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(2, 16, 12, 12), new TensorShape(32, 16, 3, 3));
        var strict = _cudnn.GetAlgorithms(p, ConvPrecision.Strict).Where(IsGraph).ToList();
        var tf32 = _cudnn.GetAlgorithms(p, ConvPrecision.AllowTF32).Where(IsGraph).ToList();
        Report(_cudnn.DescribeHeuristics(p));
        Assert.That(strict, Is.Not.Empty, $"last graph failure: {_cudnn.LastGraphFailure ?? "none"}");
        Assert.That(strict.Select(a => a.Math), Is.All.EqualTo(MathMode.Strict), "strict precision offers strict configs only");
        Assert.That(tf32.Where(a => a.Math == MathMode.Strict).Select(a => a.Key), Is.EquivalentTo(strict.Select(a => a.Key)),
            "allowing TF32 keeps the strict configs");
        if (FakeLiveCounter() is not null)
        {
            // The fake's engines: 2 is TENSOR_CORE (TF32), 5 TENSOR_CORE + DOWN_CONVERT_INPUTS (never), 3 Winograd, 6 FALLBACK only.
            Assert.That(strict.Select(a => CudnnGraphEngineChoice.TryParse(a.Name)!.EngineIndex), Is.EquivalentTo(new long[] { 1, 0, 3, 4, 6 }));
            Assert.That(tf32.Where(a => a.Math == MathMode.TF32).Select(a => a.Name), Is.EqualTo(new[] { "GRAPH_E2_K1=1" }));
            Assert.That(strict.Single(a => a.Name.StartsWith("GRAPH_E3", StringComparison.Ordinal)).Name, Is.EqualTo("GRAPH_E3_WINOGRAD"));
            Assert.That(strict.Single(a => a.Name.StartsWith("GRAPH_E4", StringComparison.Ordinal)).Deterministic, Is.False, "NONDETERMINISTIC note");
            Assert.That(strict.Single(a => a.Name.StartsWith("GRAPH_E1", StringComparison.Ordinal)).WorkspaceBytes, Is.EqualTo(512), "stages knob 2 x 256 B");
        }
    }

    [Test]
    public void ANameRecreatesItsConfigInAFreshBackendAndThroughAPlanCacheFile()
    {
        var p = ConvProblem.Create(new ConvSpec([3, 3], stride: [2], padBegin: [1]), new TensorShape(2, 6, 11, 9), new TensorShape(8, 6, 3, 3));
        var offered = _cudnn.GetAlgorithms(p, ConvPrecision.AllowTF32).Where(IsGraph).ToList();
        Assert.That(offered, Is.Not.Empty);
        string path = Path.Join(Path.GetTempPath(), $"gpuconv-graph-plancache-{Environment.ProcessId}.json");
        File.Delete(path);
        try
        {
            var options = new PlannerOptions { Policy = PlanPolicy.Cached, Precision = ConvPrecision.AllowTF32 };
            foreach (var a in offered)
            {
                // A plan naming the config, saved; then a new backend (another process's view: nothing cached) reads it back.
                var cache = new PlanCache(path);
                var key = new Planner([_cudnn], options, cache).KeyFor(p);
                cache.Put(key, new Plan(CudnnBackend.BackendName, a, PlanSource.Exhaustive, "test"));
                Assert.That(cache.Save(), Is.True);
                using var fresh = new CudnnBackend(_runtime);
                var planner = new Planner([fresh], options, new PlanCache(path));
                var plan = planner.GetPlan(p);
                Assert.That(plan.Source, Is.EqualTo(PlanSource.Cache), $"{a.Key} came back from the file");
                Assert.That(plan.Algorithm, Is.EqualTo(a), "same name, id, math, workspace and determinism");
                // The name alone is enough to run it in a backend that never listed it (no GetAlgorithms on this one).
                using var bare = new CudnnBackend(_runtime);
                var byName = new ConvAlgorithm(CudnnBackend.BackendName, a.Name, a.Id, a.WorkspaceBytes, a.Deterministic, a.Math);
                double err = RunAndCompare(bare, p, byName, new Random(3), withBias: false, accumulate: false).MaxRelative;
                Assert.That(err, Is.LessThan(CudnnBackendGpuTests.ToleranceFor(a)), a.Key);
                File.Delete(path);
            }
        }
        finally { File.Delete(path); }
    }

    [Test, NonParallelizable]
    public void EnvironmentTurnsGraphConfigsOffCapsThemAndAdmitsRuntimeCompiledEngines()
    {
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(1, 4, 8, 8), new TensorShape(4, 4, 3, 3));
        List<ConvAlgorithm> GraphWith(string variable, string value)
        {
            string? old = Environment.GetEnvironmentVariable(variable);
            Environment.SetEnvironmentVariable(variable, value);
            try
            {
                using var backend = new CudnnBackend(_runtime);
                return [.. backend.GetAlgorithms(p, ConvPrecision.AllowTF32).Where(IsGraph)];
            }
            finally { Environment.SetEnvironmentVariable(variable, old); }
        }
        var normal = _cudnn.GetAlgorithms(p, ConvPrecision.AllowTF32).Where(IsGraph).ToList();
        Assert.That(GraphWith(CudnnGraphCandidates.EnableVariable, "0"), Is.Empty, "GPUCONV_CUDNN_GRAPH=0");
        var capped = GraphWith(CudnnGraphCandidates.MaxVariable, "1");
        Assert.That(capped.GroupBy(a => a.Math).Select(g => g.Count()), Is.All.EqualTo(1), "one per math mode");
        Assert.That(capped.Select(a => a.Key), Is.SubsetOf(normal.Select(a => a.Key)), "the cap keeps cuDNN's first ones");
        Assert.That(capped[0].Key, Is.EqualTo(normal[0].Key));
        var withCompiled = GraphWith(CudnnGraphCandidates.RuntimeCompiledVariable, "1");
        Assert.That(normal.Select(a => a.Key), Is.SubsetOf(withCompiled.Select(a => a.Key)));
        if (FakeLiveCounter() is not null)
        {
            Assert.That(normal.Select(a => a.Name), Has.None.StartsWith("GRAPH_E7"), "the fake's runtime-compiled engine 7 is not offered by default");
            Assert.That(withCompiled.Select(a => a.Name), Has.One.EqualTo("GRAPH_E7"));
        }
    }

    [Test]
    public void AStrictNameOfATensorCoreEngineIsDeclined()
    {
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(1, 4, 8, 8), new TensorShape(4, 4, 3, 3));
        var tf32 = _cudnn.GetAlgorithms(p, ConvPrecision.AllowTF32).Where(a => IsGraph(a) && a.Math == MathMode.TF32).ToList();
        if (tf32.Count == 0) Assert.Pass("cuDNN offered no tensor-core graph config for this problem; nothing to mislabel");
        // A plan-cache entry edited (or written by a broken build) to run a TF32 engine as strict must not run.
        var a = tf32[0] with { Math = MathMode.Strict };
        var e = Assert.Throws<AlgorithmDeclinedException>(() => RunAndCompare(_cudnn, p, a, new Random(1), withBias: false, accumulate: false));
        Assert.That(e!.Status, Does.Contain("numerical notes"));
    }

    [Test]
    public void AsymmetricPaddingGetsNoGraphConfigAndANameForItIsDeclined()
    {
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [0, 1], padEnd: [1, 2]), new TensorShape(1, 4, 8, 8), new TensorShape(4, 4, 3, 3));
        Assert.That(_cudnn.GetAlgorithms(p, ConvPrecision.AllowTF32).Where(IsGraph), Is.Empty);
        var a = new ConvAlgorithm(CudnnBackend.BackendName, "GRAPH_E0", CudnnGraphEngineChoice.IdBase, 0, true);
        Assert.Throws<AlgorithmDeclinedException>(() => RunAndCompare(_cudnn, p, a, new Random(1), withBias: false, accumulate: false));
    }

    [Test]
    public void NoDescriptorOutlivesItsBackendOverManyProblemsAndCalls()
    {
        var count = FakeLiveCounter();
        long before = count?.Invoke() ?? 0;
        using (var backend = new CudnnBackend(_runtime))
        {
            var rng = new Random(77);
            // More problems than the plan cache holds (64 geometries), so eviction destroys plans too.
            for (int i = 0; i < 90; i++)
            {
                var op = (ConvOp)(i % 3);
                var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(1, 2, 4 + i % 30, 5), new TensorShape(2, 2, 3, 3), op);
                var graph = backend.GetAlgorithms(p, ConvPrecision.AllowTF32).Where(IsGraph).ToList();
                Assert.That(graph, Is.Not.Empty);
                if (i % 10 == 0)
                    foreach (var a in graph.Take(2))
                        Assert.That(RunAndCompare(backend, p, a, rng, withBias: false, accumulate: i % 20 == 0).MaxRelative, Is.LessThan(CudnnBackendGpuTests.ToleranceFor(a)));
            }
            if (count is not null)
                Assert.That(count() - before, Is.LessThan(64 * 2 * 40), "cached descriptors stay bounded (64 problems x 2 graphs, ~40 per graph with its plans)");
        }
        if (count is not null)
            Assert.That(count(), Is.EqualTo(before), "every backend descriptor was destroyed with the backend");
        else
            Report("real cuDNN: descriptor counts are not observable; the loop ran without error");
    }

    [Test]
    public unsafe void TheLibraryRefusesAttributeMisuseAsDocumented()
    {
        var api = NativeCudnnGraphApi.Instance;
        Assert.That(api.CreateDescriptor(CudnnBackendDescriptorType.TensorDescriptor, out nint t), Is.EqualTo(CudnnStatus.Success));
        try
        {
            long[] dims = [1, 2, 3, 3];
            long[] strides = [18, 9, 3, 1];
            long uid = 1, align = 16;
            int floatType = (int)CudnnDataType.Float;
            fixed (long* d = dims) fixed (long* s = strides)
            {
                // Wrong attribute type (dims as FLOAT elements): refused.
                Assert.That(api.SetAttribute(t, CudnnBackendAttributeName.TensorDimensions, CudnnBackendAttributeType.Float, 4, d), Is.Not.EqualTo(CudnnStatus.Success));
                // Finalize with required attributes missing: refused.
                Assert.That(api.FinalizeDescriptor(t), Is.Not.EqualTo(CudnnStatus.Success));
                Assert.That(api.SetAttribute(t, CudnnBackendAttributeName.TensorDataType, CudnnBackendAttributeType.DataType, 1, &floatType), Is.EqualTo(CudnnStatus.Success));
                Assert.That(api.SetAttribute(t, CudnnBackendAttributeName.TensorDimensions, CudnnBackendAttributeType.Int64, 4, d), Is.EqualTo(CudnnStatus.Success));
                Assert.That(api.SetAttribute(t, CudnnBackendAttributeName.TensorStrides, CudnnBackendAttributeType.Int64, 4, s), Is.EqualTo(CudnnStatus.Success));
                Assert.That(api.SetAttribute(t, CudnnBackendAttributeName.TensorUniqueId, CudnnBackendAttributeType.Int64, 1, &uid), Is.EqualTo(CudnnStatus.Success));
                Assert.That(api.SetAttribute(t, CudnnBackendAttributeName.TensorByteAlignment, CudnnBackendAttributeType.Int64, 1, &align), Is.EqualTo(CudnnStatus.Success));
                Assert.That(api.FinalizeDescriptor(t), Is.EqualTo(CudnnStatus.Success));
                // A finalized descriptor takes no more attributes.
                var late = api.SetAttribute(t, CudnnBackendAttributeName.TensorUniqueId, CudnnBackendAttributeType.Int64, 1, &uid);
                Assert.That(late, Is.Not.EqualTo(CudnnStatus.Success));
                if (FakeLiveCounter() is not null) Assert.That(late, Is.EqualTo(CudnnStatus.NotInitialized), "the documented status");
            }
            // A get before finalize is refused.
            Assert.That(api.CreateDescriptor(CudnnBackendDescriptorType.ExecutionPlanDescriptor, out nint plan), Is.EqualTo(CudnnStatus.Success));
            try
            {
                long workspace = 0, n = 0;
                var early = api.GetAttribute(plan, CudnnBackendAttributeName.ExecutionPlanWorkspaceSize, CudnnBackendAttributeType.Int64, 1, &n, &workspace);
                Assert.That(early, Is.Not.EqualTo(CudnnStatus.Success));
                if (FakeLiveCounter() is not null) Assert.That(early, Is.EqualTo(CudnnStatus.BadParamNotFinalized));
            }
            finally { Assert.That(api.DestroyDescriptor(plan), Is.EqualTo(CudnnStatus.Success)); }
        }
        finally { Assert.That(api.DestroyDescriptor(t), Is.EqualTo(CudnnStatus.Success)); }
    }

    [Test]
    public unsafe void DescriptorAndVariantPackMisuseIsRefused()
    {
        var api = NativeCudnnGraphApi.Instance;
        var p = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(1, 4, 6, 6), new TensorShape(4, 4, 3, 3));
        using var handle = _runtime.CreateCudnnHandle();
        using var graph = new CudnnGraphOperation(api, handle.Raw, p, accumulate: false);
        // Both misuses below are host-side only, so they are safe on a real cuDNN, which must refuse them too: at the
        // set (the fake, exactly) or at the latest when the otherwise complete descriptor is finalized.
        bool fake = FakeLiveCounter() is not null;
        void Refused(CudnnStatus set, CudnnBackendDescriptor completed, string what)
        {
            if (fake) Assert.That(set, Is.Not.EqualTo(CudnnStatus.Success), what + " (refused at the set)");
            if (set != CudnnStatus.Success) return;
            Assert.That(completed.TryFinalize(), Is.Not.EqualTo(CudnnStatus.Success), what + " (accepted at the set, so refused at finalize)");
        }
        CudnnBackendDescriptor Tensor(long uid, long[] dims)
        {
            var t = new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.TensorDescriptor);
            t.SetEnum(CudnnBackendAttributeName.TensorDataType, CudnnBackendAttributeType.DataType, (int)CudnnDataType.Float);
            t.SetInt64(CudnnBackendAttributeName.TensorDimensions, dims);
            t.SetInt64(CudnnBackendAttributeName.TensorStrides, CudnnGraphOperation.PackedStrides(dims));
            t.SetInt64(CudnnBackendAttributeName.TensorUniqueId, uid);
            t.SetInt64(CudnnBackendAttributeName.TensorByteAlignment, 16);
            t.FinalizeOrThrow();
            return t;
        }
        CudnnBackendDescriptor Conv(bool nineDilations, out CudnnStatus dilationSet)
        {
            var c = new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.ConvolutionDescriptor);
            c.SetEnum(CudnnBackendAttributeName.ConvolutionCompType, CudnnBackendAttributeType.DataType, (int)CudnnDataType.Float);
            c.SetEnum(CudnnBackendAttributeName.ConvolutionConvMode, CudnnBackendAttributeType.ConvolutionMode, (int)CudnnConvolutionMode.CrossCorrelation);
            c.SetInt64(CudnnBackendAttributeName.ConvolutionSpatialDims, 2);
            c.SetInt64(CudnnBackendAttributeName.ConvolutionPrePaddings, 1, 1);
            c.SetInt64(CudnnBackendAttributeName.ConvolutionPostPaddings, 1, 1);
            c.SetInt64(CudnnBackendAttributeName.ConvolutionFilterStrides, 1, 1);
            long[] dilations = nineDilations ? [1, 1, 1, 1, 1, 1, 1, 1, 1] : [1, 1];
            fixed (long* d = dilations)
                dilationSet = api.SetAttribute(c.Raw, CudnnBackendAttributeName.ConvolutionDilations, CudnnBackendAttributeType.Int64, dilations.Length, d);
            return c;
        }
        using (var badConv = Conv(nineDilations: true, out var nineSet))
            Refused(nineSet, badConv, "9 dilations for 2 spatial dims (more than CUDNN_DIM_MAX)");
        using (var tx = Tensor(1, [1, 4, 6, 6])) using (var tw = Tensor(2, [4, 4, 3, 3])) using (var ty = Tensor(3, [1, 4, 6, 6]))
        using (var conv = Conv(nineDilations: false, out var twoSet))
        using (var op = new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.OperationConvolutionForwardDescriptor))
        {
            Assert.That(twoSet, Is.EqualTo(CudnnStatus.Success));
            conv.FinalizeOrThrow();
            op.SetDescriptors(CudnnBackendAttributeName.OperationConvolutionForwardW, tw);
            op.SetDescriptors(CudnnBackendAttributeName.OperationConvolutionForwardY, ty);
            op.SetDescriptors(CudnnBackendAttributeName.OperationConvolutionForwardConvDesc, conv);
            op.SetFloat(CudnnBackendAttributeName.OperationConvolutionForwardAlpha, 1f);
            op.SetFloat(CudnnBackendAttributeName.OperationConvolutionForwardBeta, 0f);
            nint wrong = graph.Graph.Raw;
            var set = api.SetAttribute(op.Raw, CudnnBackendAttributeName.OperationConvolutionForwardX, CudnnBackendAttributeType.BackendDescriptor, 1, &wrong);
            Refused(set, op, "an operation graph where the X tensor belongs");
            GC.KeepAlive(tx);
        }
        var choice = CudnnGraphHeuristics.Query(api, graph, CudnnBackendHeurMode.Fallback).First().Choice;
        using var plan = CudnnGraphExecutionPlan.TryBuild(api, handle.Raw, graph, choice, out string why);
        Assert.That(plan, Is.Not.Null, why);
        if (FakeLiveCounter() is null)
        {
            // A real cuDNN cannot see a bad pointer or a short workspace before touching memory: not provoked on a device.
            Report("real cuDNN: variant-pack misuse is checked against the native fake only");
            return;
        }
        using var x = _context.Allocate(p.XShape); using var w = _context.Allocate(p.WShape); using var y = _context.Allocate(p.YShape);
        _context.MakeCurrent(); // the bare cudnnBackendExecute calls below run in it (GpuConv's own calls put the thread's context back)
        using var small = _context.Allocate(new TensorShape(4));
        using var roomy = _context.Allocate(new TensorShape(2 * (int)p.XShape.ElementCount));
        ulong px = _runtime.PointerOf(x), pw = _runtime.PointerOf(w), py = _runtime.PointerOf(y);
        CudnnStatus Run(long[] uids, ulong[] pointers, ulong workspace)
        {
            using var pack = new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.VariantPackDescriptor);
            pack.SetInt64(CudnnBackendAttributeName.VariantPackUniqueIds, uids);
            pack.SetPointers(CudnnBackendAttributeName.VariantPackDataPointers, pointers);
            pack.SetPointers(CudnnBackendAttributeName.VariantPackWorkspace, workspace);
            pack.FinalizeOrThrow();
            return api.Execute(handle.Raw, plan!.Plan.Raw, pack.Raw);
        }
        long[] all = [CudnnGraphOperation.XUid, CudnnGraphOperation.WUid, CudnnGraphOperation.YUid];
        Assert.That(Run(all, [px, pw, py], 0), Is.EqualTo(CudnnStatus.Success), "the well-formed pack runs");
        Assert.That(Run([CudnnGraphOperation.XUid, CudnnGraphOperation.YUid], [px, py], 0), Is.EqualTo(CudnnStatus.BadParam), "w's uid missing");
        Assert.That(Run(all, [_runtime.PointerOf(roomy) + 4, pw, py], 0), Is.EqualTo(CudnnStatus.BadParamMisalignedPointer), "x not at its declared 16-byte alignment");
        Assert.That(Run(all, [px, pw, px], 0), Is.Not.EqualTo(CudnnStatus.Success), "y overlapping x (and too short for y)");
        Assert.That(Run(all, [_runtime.PointerOf(small), pw, py], 0), Is.EqualTo(CudnnStatus.BadParam), "x's buffer shorter than x");
        // An engine with a workspace: a variant pack without one is refused.
        var withWorkspace = CudnnGraphHeuristics.Query(api, graph, CudnnBackendHeurMode.A).Select(h => h.Choice).First(c => c.Name.StartsWith("GRAPH_E1_", StringComparison.Ordinal));
        using var wsPlan = CudnnGraphExecutionPlan.TryBuild(api, handle.Raw, graph, withWorkspace, out why);
        Assert.That(wsPlan!.WorkspaceBytes, Is.GreaterThan(16));
        using (var pack = new CudnnBackendDescriptor(api, CudnnBackendDescriptorType.VariantPackDescriptor))
        {
            pack.SetInt64(CudnnBackendAttributeName.VariantPackUniqueIds, all);
            pack.SetPointers(CudnnBackendAttributeName.VariantPackDataPointers, px, pw, py);
            pack.SetPointers(CudnnBackendAttributeName.VariantPackWorkspace, 0UL);
            pack.FinalizeOrThrow();
            Assert.That(api.Execute(handle.Raw, wsPlan.Plan.Raw, pack.Raw), Is.EqualTo(CudnnStatus.BadParamNullPointer), "no workspace for a 512-byte plan");
        }
        // A knob value outside the engine's range does not finalize (the candidate would be declined).
        var bad = withWorkspace with { Knobs = [(2, 99), (14, 2)] };
        Assert.That(CudnnGraphExecutionPlan.TryBuild(api, handle.Raw, graph, bad, out why), Is.Null);
        Assert.That(why, Does.Contain("does not finalize"));
    }

    /// <summary>The native fake's live-descriptor counter when the loaded cuDNN is the fake; null on a real cuDNN.</summary>
    static Func<long>? FakeLiveCounter()
    {
        if (!NativeLibrary.TryLoad("libcudnn.so.9", out var lib)) return null;
        if (!NativeLibrary.TryGetExport(lib, "gpuconv_fake_cudnn_backend_live", out var f)) return null;
        return () => LiveCount(f);
    }

    static unsafe long LiveCount(nint f) => ((delegate* unmanaged<long>)f)();

    ErrorReport RunAndCompare(CudnnBackend backend, ConvProblem p, ConvAlgorithm a, Random rng, bool withBias, bool accumulate)
    {
        var x = RandomConvProblems.RandomData(rng, p.XShape.ElementCount);
        var w = RandomConvProblems.RandomData(rng, p.WShape.ElementCount);
        var y = RandomConvProblems.RandomData(rng, p.YShape.ElementCount);
        var b = withBias ? RandomConvProblems.RandomData(rng, p.BiasLength) : null;
        using var tx = Upload(p.XShape, x); using var tw = Upload(p.WShape, w); using var ty = Upload(p.YShape, y);
        using var tb = b is null ? null : Upload(new TensorShape(b.Length), b);
        backend.Run(p, a, new ConvTensors(tx, tw, ty, tb) { Accumulate = accumulate });
        double[] expected = ReferenceConv.Run(p, x, w, y, b);
        var before = p.Op switch { ConvOp.Forward => y, ConvOp.BackwardData => x, _ => w };
        if (accumulate) expected = [.. expected.Select((v, i) => v + before[i])];
        var output = p.Op switch { ConvOp.Forward => ty, ConvOp.BackwardData => tx, _ => tw };
        return ErrorMetrics.Compare(output.Download(), expected);
    }

    DeviceTensor Upload(TensorShape shape, float[] data)
    {
        var t = _context.Allocate(shape);
        _runtime.CopyFromHost(data, t);
        return t;
    }
}
