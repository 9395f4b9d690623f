using System.Text.RegularExpressions;
using GpuConv.Backends;
using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Cuda;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cuda;

/// <summary>
/// Every kernel launch the library makes, packed exactly as the GPU runtime packs it (the
/// <see cref="KernelArgumentPack"/> the launch site builds; <see cref="KernelArguments.From"/> for the boxed seam), held
/// against the .param list of the shipped PTX entry it names:
/// the argument count, and per parameter the width (.u64/.s64/.b64: 8 bytes, .u32/.s32/.b32/.f32: 4) and
/// integer-or-float kind. cuLaunchKernel reads each parameter's declared width from the slot it is given,
/// so a mismatch is no error on the GPU — it is a wrong value. The PTX interpreter's own binding is more
/// lenient (it takes a long for a .u64), so this is the check of what the real launch sends.
/// </summary>
public partial class KernelLaunchSignatureTests
{
    sealed record Param(string Name, string Type);

    [GeneratedRegex(@"\.entry\s+(\w+)\s*\(([^)]*)\)", RegexOptions.Singleline)]
    private static partial Regex EntryPattern();

    [GeneratedRegex(@"\.param\s+\.(\w+)\s+(?:\.ptr\S*\s+)?(\w+)")]
    private static partial Regex ParamPattern();

    /// <summary>Entry name → .param list, read from the PTX text the library embeds (comments stripped).</summary>
    static Dictionary<(string File, string Entry), IReadOnlyList<Param>> ShippedSignatures()
    {
        var result = new Dictionary<(string, string), IReadOnlyList<Param>>();
        foreach (var file in PtxResources.Files)
        {
            var text = Regex.Replace(PtxResources.ReadText(file), @"//[^\n]*|/\*.*?\*/", "", RegexOptions.Singleline);
            foreach (Match entry in EntryPattern().Matches(text))
                result[(file, entry.Groups[1].Value)] = ParamPattern().Matches(entry.Groups[2].Value)
                    .Select(m => new Param(m.Groups[2].Value, m.Groups[1].Value)).ToList();
        }
        return result;
    }

    static (int Bytes, bool Float) WidthOf(string ptxType) => ptxType switch
    {
        "u64" or "s64" or "b64" => (8, false),
        "u32" or "s32" or "b32" => (4, false),
        "f32" => (4, true),
        "f64" => (8, true),
        _ => throw new AssertionException($".param type .{ptxType} has no mapping in this test: add one"),
    };

    /// <summary>One launch's arguments as the driver will read them: width, kind and (for messages) the C# type of each.</summary>
    internal sealed record PackedLaunch(string Module, string Entry, int[] Sizes, bool[] Floats, string[] Types)
    {
        public static PackedLaunch Of(string module, string entry, scoped in KernelArgumentPack args)
        {
            var sizes = new int[args.Count];
            var floats = new bool[args.Count];
            var types = new string[args.Count];
            for (int i = 0; i < args.Count; i++)
                (sizes[i], floats[i], types[i]) = (args.SizeOf(i), args.IsFloat(i), args.KindOf(i).ToString());
            return new(module, entry, sizes, floats, types);
        }

        public static PackedLaunch Of(string module, string entry, IReadOnlyList<object> args)
        {
            using var packed = KernelArguments.From(args, $"{module}:{entry}");
            return new(module, entry, packed.Sizes.ToArray(), [.. Enumerable.Range(0, packed.Count).Select(packed.IsFloat)],
                [.. args.Select(a => a.GetType().Name)]);
        }
    }

    /// <summary>The mismatches of one launch (empty when it matches), each naming the parameter.</summary>
    static List<string> Mismatches(PackedLaunch launch, Dictionary<(string, string), IReadOnlyList<Param>> signatures)
    {
        var (module, entry) = (launch.Module, launch.Entry);
        if (!signatures.TryGetValue((module, entry), out var ps))
            return [$"{module}:{entry}: no such entry in the shipped PTX"];
        var problems = new List<string>();
        int count = launch.Sizes.Length;
        if (count != ps.Count)
            problems.Add($"{module}:{entry}: {count} arguments for {ps.Count} parameters ({string.Join(", ", ps.Select(p => $".{p.Type} {p.Name}"))})");
        for (int i = 0; i < Math.Min(count, ps.Count); i++)
        {
            var (bytes, isFloat) = WidthOf(ps[i].Type);
            if (launch.Sizes[i] != bytes || launch.Floats[i] != isFloat)
                problems.Add($"{module}:{entry} parameter {i} .{ps[i].Type} {ps[i].Name}: packed {launch.Sizes[i]} bytes from {launch.Types[i]}");
        }
        return problems;
    }

    static List<string> Mismatches(string module, string entry, IReadOnlyList<object> args,
        Dictionary<(string, string), IReadOnlyList<Param>> signatures) => Mismatches(PackedLaunch.Of(module, entry, args), signatures);

    static List<string> Mismatches(string module, string entry, scoped in KernelArgumentPack args,
        Dictionary<(string, string), IReadOnlyList<Param>> signatures) => Mismatches(PackedLaunch.Of(module, entry, in args), signatures);

    [Test]
    public void TheSignatureReaderSeesFillF32()
    {
        var fill = ShippedSignatures()[("fill.ptx", "fill_f32")];
        Assert.That(fill.Select(p => p.Type), Is.EqualTo(new[] { "u64", "f32", "u64" }));
    }

    [Test]
    public void AMismatchIsReported()
    {
        var signatures = ShippedSignatures();
        // count as 4 bytes where fill_f32 declares .u64, and one argument short.
        var problems = Mismatches("fill.ptx", "fill_f32", [0x1000UL, 1f, 5u], signatures);
        Assert.That(problems, Has.Some.Contains("parameter 2 .u64"));
        Assert.That(Mismatches("fill.ptx", "fill_f32", [0x1000UL, 1f], signatures), Has.Some.Contains("2 arguments for 3 parameters"));
        Assert.That(Mismatches("fill.ptx", "fill_f32", [0x1000UL, 1u, 5UL], signatures), Has.Some.Contains("parameter 1 .f32"));
        // The same through a stack-packed launch.
        var pack = new KernelArgumentPack();
        pack.Add(0x1000UL).Add(1f).Add(5u);
        Assert.That(Mismatches("fill.ptx", "fill_f32", pack, signatures), Has.Some.Contains("parameter 2 .u64").And.Some.Contains("from U32"));
    }

    [Test]
    public void ArgumentsOfAnUnsupportedTypeAreRefusedBeforeTheLaunch()
    {
        var ex = Assert.Throws<ArgumentException>(() => KernelArguments.From([1UL, 2.0], "x.ptx:k"));
        Assert.That(ex!.Message, Does.Contain("kernel argument 1 of type Double for x.ptx:k"));
    }

    [Test]
    public void FillLaunchMatches() =>
        Assert.That(Mismatches("fill.ptx", "fill_f32", KernelLauncher.FillPack(0x1000, 12345, 2.5f), ShippedSignatures()), Is.Empty);

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(4)]
    [TestCase(5)]
    public void StridedCopyLaunchMatches(int rank)
    {
        int[] dims = [.. Enumerable.Range(2, rank)];
        long[] strides = [.. Enumerable.Range(1, rank).Select(i => (long)i * 7)];
        var args = GpuConv.Backends.Cudnn.StridedCopy.Pack(0x1000, 0x2000, dims, strides, strides);
        Assert.That(Mismatches(GpuConv.Backends.Cudnn.StridedCopy.Module, GpuConv.Backends.Cudnn.StridedCopy.Entry, args, ShippedSignatures()), Is.Empty);
    }

    /// <summary>Problems that reach every launch site of the ptx backend: each op, ranks 1–3, groups, depthwise (with a multiplier), 1×1, bias.</summary>
    static IEnumerable<ConvProblem> BackendProblems()
    {
        foreach (var op in new[] { ConvOp.Forward, ConvOp.BackwardData, ConvOp.BackwardFilter })
        {
            yield return ConvProblem.Create(new ConvSpec([3]), new TensorShape(2, 3, 9), new TensorShape(4, 3, 3), op);
            yield return ConvProblem.Create(new ConvSpec([3, 3], stride: [2], padBegin: [1], padEnd: [0], groups: 2), new TensorShape(2, 4, 7, 6), new TensorShape(6, 2, 3, 3), op);
            yield return ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1], groups: 4), new TensorShape(2, 4, 5, 5), new TensorShape(8, 1, 3, 3), op);
            yield return ConvProblem.Create(new ConvSpec([1, 1]), new TensorShape(2, 5, 4, 3), new TensorShape(6, 5, 1, 1), op);
            yield return ConvProblem.Create(new ConvSpec([2, 2, 2], dilation: [1, 2, 1]), new TensorShape(1, 2, 4, 5, 3), new TensorShape(3, 2, 2, 2, 2), op);
        }
    }

    [Test]
    public void EveryPtxBackendLaunchMatchesItsKernel()
    {
        var signatures = ShippedSignatures();
        var rt = LaunchEverySite();
        var problems = rt.Launches.SelectMany(l => Mismatches(l, signatures)).Distinct().ToList();
        Assert.That(problems, Is.Empty, string.Join(Environment.NewLine, problems));

        // Every shipped entry is launched by some site checked here (fill and strided copy by their own tests).
        var launched = rt.Launches.Select(l => (l.Module, l.Entry)).ToHashSet();
        launched.Add(("fill.ptx", "fill_f32"));
        launched.Add((GpuConv.Backends.Cudnn.StridedCopy.Module, GpuConv.Backends.Cudnn.StridedCopy.Entry));
        var notReached = signatures.Keys.Where(k => !launched.Contains(k)).Select(k => $"{k.File}:{k.Entry}").ToList();
        Assert.That(notReached, Is.Empty, "shipped entries no launch in this test reaches: add a problem (or a launch-site test) for them");
    }

    /// <summary>
    /// The backend's and the element-wise launch sites pack on the stack: the boxed object[] overload allocates per
    /// launch (KernelArguments, boxes), which WarmCallAllocationGpuTests would see as bytes on the ptx engines.
    /// </summary>
    [Test]
    public void EveryPtxBackendLaunchSitePacksOnTheStack()
    {
        var rt = LaunchEverySite();
        Assert.That(rt.Launches, Is.Not.Empty);
        Assert.That(rt.BoxedLaunches, Is.Empty, "launch sites that box their arguments (IPtxRuntime.Launch with params object[])");
    }

    static LaunchRecordingRuntime LaunchEverySite()
    {
        var rt = new LaunchRecordingRuntime();
        var backend = new PtxConvBackend(rt);
        foreach (var p in BackendProblems())
            foreach (var algorithm in backend.GetAlgorithms(p, ConvPrecision.AllowTF32))
            {
                var bias = p.Op == ConvOp.BackwardFilter ? null : rt.Allocate(new TensorShape(p.BiasLength));
                var tensors = new ConvTensors(rt.Allocate(p.XShape), rt.Allocate(p.WShape), rt.Allocate(p.YShape), bias);
                backend.Run(p, algorithm, tensors);
                // Accumulating runs add a kernel's result through a scratch (AddInto's bias_add_f32 launch).
                backend.Run(p, algorithm, tensors with { Accumulate = true });
            }
        var dy = rt.Allocate(new TensorShape(2, 3, 4, 5));
        backend.BackwardBias(dy, rt.Allocate(new TensorShape(3)));
        backend.AddBias(dy, rt.Allocate(new TensorShape(3)), Activation.Relu);
        // The engine's element-wise calls (ConvEngine.Elementwise) launch through the same helper.
        foreach (var op in Enum.GetValues<ElementwiseOp>())
            ElementwiseKernels.Launch(rt, op, rt.PointerOf(dy), rt.PointerOf(dy), rt.PointerOf(dy), 0.5f, dy.Shape.ElementCount);
        GpuConv.Tests.Pooling.PoolKernelTests.LaunchEveryEntry(rt, rt.PointerOf(dy), dy.Shape); // the engine's pools (ConvEngine.Pooling)
        GpuConv.Tests.Pooling.AdaptivePoolKernelTests.LaunchEveryEntry(rt, rt.PointerOf(dy), dy.Shape); // ConvEngine.AdaptivePooling
        GpuConv.Tests.ChannelScale.ChannelScaleKernelTests.LaunchEveryEntry(rt, rt.PointerOf(dy), dy.Shape); // ConvEngine.ChannelScale
        GpuConv.Tests.Padding.PadKernelTests.LaunchEveryEntry(rt, rt.PointerOf(dy), dy.Shape); // the engine's pads (ConvEngine.Padding)
        GpuConv.Tests.Normalization.BatchNormKernelTests.LaunchEveryEntry(rt, rt.PointerOf(dy), dy.Shape); // ConvEngine.BatchNorm
        GpuConv.Tests.Normalization.GroupNormKernelTests.LaunchEveryEntry(rt, rt.PointerOf(dy), dy.Shape); // ConvEngine.GroupNorm
        GpuConv.Tests.Normalization.ChannelLayerNormKernelTests.LaunchEveryEntry(rt, rt.PointerOf(dy), dy.Shape); // ConvEngine.ChannelLayerNorm
        // The engine's Concat, Narrow and Split (ConvEngine.Concat): a slab copied in each direction, 2-d and 1-d views.
        foreach (var (dim, toWhole) in new[] { (1, true), (1, false), (0, true), (3, false) })
            SlabCopyKernels.Launch(rt, DimSlab.Of(dy.Shape, dim, 1, 1), rt.PointerOf(dy), rt.PointerOf(dy), toWhole);
        GpuConv.Tests.Upsampling.UpsampleKernelTests.LaunchEveryEntry(rt, rt.PointerOf(dy), dy.Shape); // ConvEngine.Upsampling
        return rt;
    }

    /// <summary>
    /// The GPU behind <see cref="IPtxRuntime"/> reduced to bookkeeping: tensors and scratch get distinct fake
    /// addresses, GEMMs do nothing, launches are recorded as the backend issued them. Only the launches are judged.
    /// </summary>
    sealed class LaunchRecordingRuntime : IPtxRuntime, IMemorySpace
    {
        ulong _next = 0x10_0000;
        public List<PackedLaunch> Launches { get; } = [];
        public List<string> BoxedLaunches { get; } = [];

        public IMemorySpace Memory => this;
        public MemoryKind Kind => MemoryKind.Device;

        sealed class FakeDeviceTensor(TensorShape shape, ulong pointer) : Tensor(shape)
        {
            public ulong Pointer { get; } = pointer;
            public override MemoryKind Memory => MemoryKind.Device;
        }

        sealed class Scratch(ulong pointer, long bytes) : IDeviceScratch
        {
            public ulong Pointer { get; } = pointer;
            public long Bytes { get; } = bytes;
            public void Dispose() { }
        }

        ulong Reserve(long bytes)
        {
            ulong p = _next;
            _next += (ulong)((bytes + 255) / 256 * 256 + 256);
            return p;
        }

        public Tensor Allocate(TensorShape shape) => new FakeDeviceTensor(shape, Reserve(shape.ElementCount * sizeof(float)));
        public void CopyFromHost(ReadOnlySpan<float> source, Tensor destination) { }
        public void CopyToHost(Tensor source, Span<float> destination) { }
        public ulong PointerOf(Tensor tensor) => ((FakeDeviceTensor)tensor).Pointer;
        public IDeviceScratch AllocateScratch(long bytes, string purpose) => new Scratch(Reserve(bytes), bytes);
        public void Launch(string module, string entry, uint gridX, uint blockX, params object[] args)
        {
            BoxedLaunches.Add($"{module}:{entry}");
            Launches.Add(PackedLaunch.Of(module, entry, args));
        }

        public void Launch(string module, string entry, uint gridX, uint blockX, scoped in KernelArgumentPack args) =>
            Launches.Add(PackedLaunch.Of(module, entry, in args));

        public void SgemmStridedBatched(GemmOp transA, GemmOp transB, int m, int n, int k, float alpha,
            ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float beta,
            ulong c, int ldc, long strideC, int batchCount, MathMode math) { }

        public void Synchronize() { }
        public double TimeMs(Action work) { work(); return 0; }
    }
}
