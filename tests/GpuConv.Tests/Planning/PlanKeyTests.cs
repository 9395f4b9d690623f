using System.Reflection;
using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Planning;
using GpuConv.Tensors;

namespace GpuConv.Tests.Planning;

/// <summary>
/// <see cref="PlanKey.For"/> on pairs of problems (and planner contexts) that differ in exactly one
/// field while X, W and Y keep the same shapes: a key that drops or duplicates a field (PadBegin stored
/// twice instead of PadEnd, say) maps such a pair to one key and the test fails. The pairs use
/// stride > 1 so that a changed padding, stride, dilation or input size leaves the output shape alone.
/// </summary>
public class PlanKeyTests
{
    static readonly PlanContext Context = new(ConvPrecision.Strict, false, DeviceIdentity.ForCpu(), DeviceIdentity.ForCpu(), ["cpu", "reference"], "1");

    static ConvProblem Problem(int[] input, int[] filter, int[] kernel, int[]? stride = null, int[]? dilation = null,
        int[]? padBegin = null, int[]? padEnd = null, ConvOp op = ConvOp.Forward) =>
        ConvProblem.Create(new ConvSpec(kernel, stride, dilation, padBegin, padEnd), new TensorShape(input), new TensorShape(filter), op);

    /// <summary>(the key field expected to differ, problem a, problem b).</summary>
    public static IEnumerable<TestCaseData> ProblemPairs()
    {
        int[] x = [1, 2, 9, 9], w = [3, 2, 3, 3];
        // 9 + pb + pe - 3 over stride 2: 6/2 and 7/2 both floor to 3, so the output stays 4×4.
        yield return Pair("PadEnd", Problem(x, w, [3, 3], [2, 2], padBegin: [0, 0], padEnd: [0, 0]), Problem(x, w, [3, 3], [2, 2], padBegin: [0, 0], padEnd: [1, 0]));
        yield return Pair("PadEnd", Problem(x, w, [3, 3], [2, 2], padBegin: [1, 0], padEnd: [0, 1]), Problem(x, w, [3, 3], [2, 2], padBegin: [1, 0], padEnd: [0, 0]));
        yield return Pair("PadBegin", Problem(x, w, [3, 3], [2, 2], padBegin: [0, 0], padEnd: [0, 0]), Problem(x, w, [3, 3], [2, 2], padBegin: [0, 1], padEnd: [0, 0]));
        yield return Pair("PadBegin", Problem(x, w, [3, 3], [2, 2], padBegin: [1, 0], padEnd: [0, 1]), Problem(x, w, [3, 3], [2, 2], padBegin: [0, 0], padEnd: [0, 1]));
        // Input 13, kernel 3: 10/4 and 10/5 both floor to 2 → output 3.
        yield return Pair("Stride", Problem([1, 2, 13, 13], w, [3, 3], [4, 4]), Problem([1, 2, 13, 13], w, [3, 3], [4, 5]));
        // Input 10, kernel 2, stride 3: extents 2 and 3 give 8/3 and 7/3, both 2 → output 3.
        yield return Pair("Dilation", Problem([1, 2, 10, 10], [3, 2, 2, 2], [2, 2], [3, 3], [1, 1]), Problem([1, 2, 10, 10], [3, 2, 2, 2], [2, 2], [3, 3], [2, 1]));
        // Input 9 or 10 with stride 2: 6/2 and 7/2 → output 4.
        yield return Pair("XShape", Problem(x, w, [3, 3], [2, 2]), Problem([1, 2, 10, 9], w, [3, 3], [2, 2]));
        yield return Pair("Op", Problem(x, w, [3, 3], [2, 2]), Problem(x, w, [3, 3], [2, 2], op: ConvOp.BackwardFilter));
        yield return Pair("Op", Problem(x, w, [3, 3], [2, 2], op: ConvOp.BackwardData), Problem(x, w, [3, 3], [2, 2], op: ConvOp.BackwardFilter));
        yield return Pair("ConstantWeights", Problem(x, w, [3, 3], [2, 2]), Problem(x, w, [3, 3], [2, 2]).WithConstantWeights(true));
        yield return Pair("ConstantWeights", Problem(x, w, [3, 3], [2, 2], op: ConvOp.BackwardData), Problem(x, w, [3, 3], [2, 2], op: ConvOp.BackwardData).WithConstantWeights(true));
        // 3-d: the padding moves between dimensions (same totals, same output).
        int[] x3 = [1, 1, 7, 7, 7], w3 = [2, 1, 3, 3, 3];
        yield return Pair("PadBegin", Problem(x3, w3, [3, 3, 3], [2, 2, 2], padBegin: [1, 0, 0], padEnd: [0, 0, 0]), Problem(x3, w3, [3, 3, 3], [2, 2, 2], padBegin: [0, 1, 0], padEnd: [0, 0, 0]));
        yield return Pair("PadEnd", Problem(x3, w3, [3, 3, 3], [2, 2, 2], padEnd: [0, 0, 1]), Problem(x3, w3, [3, 3, 3], [2, 2, 2], padEnd: [0, 1, 0]));
        yield return Pair("Stride", Problem([1, 1, 13, 13, 13], w3, [3, 3, 3], [4, 5, 4]), Problem([1, 1, 13, 13, 13], w3, [3, 3, 3], [5, 4, 4]));

        // Padding modes: the same geometry and shapes, another border (a zeros plan must never serve a reflect conv).
        yield return Pair("PaddingMode", Moded(PaddingMode.Zeros), Moded(PaddingMode.Reflect));
        yield return Pair("PaddingMode", Moded(PaddingMode.Reflect), Moded(PaddingMode.Circular));
        yield return Pair("PaddingMode", Moded(PaddingMode.Replicate), Moded(PaddingMode.Circular));

        static ConvProblem Moded(PaddingMode mode) =>
            ConvProblem.Create(new ConvSpec([3, 3], [2, 2], padBegin: [1, 2], padEnd: [2, 1], paddingMode: mode), new TensorShape(1, 2, 9, 9), new TensorShape(3, 2, 3, 3));

        static TestCaseData Pair(string field, ConvProblem a, ConvProblem b) =>
            new TestCaseData(field, a, b).SetArgDisplayNames(field, a.ToString(), b.ToString());
    }

    [TestCaseSource(nameof(ProblemPairs))]
    public void ProblemsDifferingInOneFieldGetDifferentKeys(string field, ConvProblem a, ConvProblem b)
    {
        // The pair is what it claims: same tensor shapes except where the field itself is a shape.
        if (field != "XShape") Assert.That(a.XShape, Is.EqualTo(b.XShape));
        Assert.That((a.WShape, a.YShape), Is.EqualTo((b.WShape, b.YShape)), "the output shape must not give the difference away");

        PlanKey ka = PlanKey.For(a, Context), kb = PlanKey.For(b, Context);
        Assert.That(ka, Is.Not.EqualTo(kb));
        Assert.That(ka.Canonical, Is.Not.EqualTo(kb.Canonical));
        Assert.That(ka.Hash, Is.Not.EqualTo(kb.Hash));
        Assert.That(DifferingProperties(ka, kb), Is.EqualTo(new[] { field }), "exactly the named key field differs");

        var cache = new PlanCache(null);
        cache.Put(ka, new Plan("cpu", new ConvAlgorithm("cpu", "a", 0, 0, true, MathMode.Strict), PlanSource.Heuristic, "test"));
        Assert.That(cache.TryGet(kb, out _), Is.False, $"a plan for {a} must not be found for {b}");
        Assert.That(cache.TryGet(PlanKey.For(a, Context), out _), Is.True, "the same problem finds its plan");
    }

    public static IEnumerable<TestCaseData> ContextPairs()
    {
        var cpu = DeviceIdentity.ForCpu();
        yield return new TestCaseData("Precision", Context with { Precision = ConvPrecision.AllowTF32 });
        yield return new TestCaseData("Deterministic", Context with { Deterministic = true });
        yield return new TestCaseData("Device", Context with { Device = cpu with { SimdTier = cpu.SimdTier + "-other" } });
        yield return new TestCaseData("Host", Context with { Host = cpu with { MultiprocessorCount = cpu.MultiprocessorCount + 1 } });
        yield return new TestCaseData("Backends", Context with { BackendNames = ["cpu"] });
        yield return new TestCaseData("LibraryVersion", Context with { LibraryVersion = "2" });
    }

    [TestCaseSource(nameof(ContextPairs))]
    public void ContextsDifferingInOneFieldGetDifferentKeys(string field, PlanContext other)
    {
        var p = Problem([1, 2, 9, 9], [3, 2, 3, 3], [3, 3], [2, 2]);
        PlanKey ka = PlanKey.For(p, Context), kb = PlanKey.For(p, other);
        Assert.That(ka.Hash, Is.Not.EqualTo(kb.Hash));
        Assert.That(DifferingProperties(ka, kb), Is.EqualTo(new[] { field }));
    }

    [Test]
    public void AZeroPaddingKeyIsSpelledAsBeforePaddingModesSoOldCacheFilesStillMatch()
    {
        var key = PlanKey.For(Problem([1, 2, 9, 9], [3, 2, 3, 3], [3, 3], padBegin: [1, 1]), Context);
        Assert.That(key.Canonical, Does.EndWith(";cw=False"), "no padding-mode field for zeros: the canonical text (and hash) of every old entry is unchanged");
        Assert.That(key.Canonical, Does.Not.Contain("pm="));
        var reflect = PlanKey.For(ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1, 1], paddingMode: PaddingMode.Reflect), new TensorShape(1, 2, 9, 9), new TensorShape(3, 2, 3, 3)), Context);
        Assert.That(reflect.Canonical, Is.EqualTo(key.Canonical + ";pm=reflect"));
    }

    [Test]
    public void BackendOrderDoesNotMatter() =>
        Assert.That(PlanKey.For(Problem([1, 2, 9, 9], [3, 2, 3, 3], [3, 3]), Context with { BackendNames = ["reference", "cpu"] }),
            Is.EqualTo(PlanKey.For(Problem([1, 2, 9, 9], [3, 2, 3, 3], [3, 3]), Context)));

    [Test]
    public void ThePairsCoverEveryFieldAProblemCanChangeAlone()
    {
        // Kernel, Groups, Transposed, OutputPadding and DataType cannot change alone with the shapes held:
        // kernel and groups are part of W's shape, a transposed problem is stored as its underlying
        // convolution (Transposed false, no output padding), and the element type is always float32.
        string[] notAlone = ["Kernel", "Groups", "Transposed", "OutputPadding", "DataType", "WShape", "YShape"];
        var covered = ProblemPairs().Select(t => (string)t.Arguments[0]!).Concat(ContextPairs().Select(t => (string)t.Arguments[0]!)).ToHashSet();
        var fields = KeyProperties().Select(p => p.Name).Except(notAlone);
        Assert.That(covered, Is.SupersetOf(fields));
    }

    static PropertyInfo[] KeyProperties() =>
        [.. typeof(PlanKey).GetProperties().Where(p => p.CanWrite)];

    static string[] DifferingProperties(PlanKey a, PlanKey b) =>
        [.. KeyProperties().Where(p => !Equals(p.GetValue(a), p.GetValue(b))).Select(p => p.Name)];
}
