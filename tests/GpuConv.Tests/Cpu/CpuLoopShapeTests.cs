using System.Reflection;
using GpuConv.Cpu.Threading;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// Every parallel loop body in the library is a readonly struct: the workers run one copy of it per job on every
/// thread, so a field written by a task (a counter, an accumulator a lambda used to share) would be a data race.
/// And every <see cref="ICpuLoop.Run"/> is compiled optimized at once: a task body is called a few times a network run,
/// so the JIT's call counting leaves it in its first, unoptimized form (or an on-stack-replacement form) through a
/// process's first dozens of runs; EfficientNet-B0's squeeze-and-excitation scalings ran 80–730 µs a block so, 5–45 µs
/// optimized (docs/benchmarks.md, s23). Nothing in a result shows it, only the time, so this reads the attribute. The
/// same holds for every loop a task body reaches (a row or plane helper is compiled on its own: the JIT does not inline
/// a method with a loop unless asked), so that is read from the IL too.
/// </summary>
public class CpuLoopShapeTests
{
    static IEnumerable<Type> LoopTypes()
    {
        var library = typeof(ICpuLoop).Assembly;
        var bodies = new[] { typeof(ICpuLoop), library.GetType("GpuConv.Cpu.IPackSources`1")! };
        return library.GetTypes().Where(t => t.IsValueType && t.GetInterfaces().Any(i =>
            bodies.Contains(i.IsGenericType ? i.GetGenericTypeDefinition() : i) || i.Name == "IChunks"));
    }

    [Test]
    public void EveryLoopBodyIsAReadonlyStruct()
    {
        var types = LoopTypes().ToList();
        Assert.That(types, Has.Count.GreaterThan(30), "the library's loop bodies are found");
        var mutable = types.Where(t => !t.GetCustomAttributes().Any(a => a.GetType().FullName == "System.Runtime.CompilerServices.IsReadOnlyAttribute"))
            .Select(t => t.FullName).ToList();
        Assert.That(mutable, Is.Empty, "loop bodies that are not readonly structs");
    }

    [Test]
    public void EveryLoopBodysRunIsCompiledOptimizedAtOnce()
    {
        var runs = typeof(ICpuLoop).Assembly.GetTypes()
            .Where(t => t.IsValueType && typeof(ICpuLoop).IsAssignableFrom(t) && t != typeof(DelegateLoop)) // DelegateLoop: tests and one-off work
            .Select(t => t.GetMethod(nameof(ICpuLoop.Run), BindingFlags.Public | BindingFlags.Instance, [typeof(int), typeof(WorkspaceSet)])!)
            .ToList();
        Assert.That(runs, Has.Count.GreaterThan(40), "the library's ICpuLoop bodies are found");
        var tiered = runs.Where(m => (m.MethodImplementationFlags & MethodImplAttributes.AggressiveOptimization) == 0)
            .Select(m => m.DeclaringType!.FullName).ToList();
        Assert.That(tiered, Is.Empty, "ICpuLoop.Run without [MethodImpl(MethodImplOptions.AggressiveOptimization)]");
    }

    const MethodImplAttributes CompiledAtOnce = MethodImplAttributes.AggressiveOptimization | MethodImplAttributes.AggressiveInlining;

    static string NameOf(MethodBase method) => $"{method.DeclaringType!.FullName}.{method.Name}";

    static bool Marked(MethodBase method) => (method.MethodImplementationFlags & CompiledAtOnce) != 0;

    /// <summary>The library's methods a task can run: from every loop body and every method already compiled optimized at once.</summary>
    static (Dictionary<MethodBase, string> Reached, List<string> Unresolved) TaskCode()
    {
        var library = typeof(ICpuLoop).Assembly;
        const BindingFlags declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var optimized = library.GetTypes().SelectMany(t => t.GetMethods(declared))
            .Where(m => (m.MethodImplementationFlags & MethodImplAttributes.AggressiveOptimization) != 0);
        var roots = LoopTypes().SelectMany(t => t.GetMethods(declared)).Concat(optimized).Cast<MethodBase>().ToList();
        var unresolved = new List<string>();
        var reached = IlCallGraph.Reachable(library, roots, unresolved);
        // The walk reaches helpers through task bodies, optimized helpers and interface calls (a packing source's rows).
        Assert.That(reached.Keys.Select(NameOf), Is.SupersetOf(new[]
        {
            "GpuConv.Cpu.Layers.CpuUpsampling.LinearRow", "GpuConv.Cpu.Pooling.PoolRows.WindowRows", "GpuConv.Cpu.Gemm.ShiftedSource.PackB",
        }), $"{reached.Count} methods reached");
        return (reached, unresolved);
    }

    /// <summary>
    /// Every method with a loop that a loop body or an already optimized method can call, through any chain of calls in the
    /// library, is <c>[AggressiveOptimization]</c> (or inlined into its optimized caller). Left to tiering, such a helper
    /// (a row of an upsampling, a pooling plane, a GEMM's packing) runs unoptimized for its first 30 calls and for as long
    /// after as the process keeps compiling new methods (call counting waits for 100 ms without any): through a network's
    /// first runs, or for good in a process that keeps meeting new code. The upsampling forward's rows ran 3.8–7.3× slower so.
    /// </summary>
    [Test]
    public void EveryLoopATaskReachesIsCompiledOptimizedAtOnce()
    {
        var (reached, unresolved) = TaskCode();
        var tiered = reached.Where(r => !Marked(r.Key) && IlCallGraph.Read(r.Key, unresolved).Loops)
            .Select(r => $"{NameOf(r.Key)} (called from {r.Value})").Order().ToList();
        Assert.That(unresolved, Is.Empty, "call targets the walk could not resolve");
        Assert.That(tiered, Is.Empty, "loops a task reaches without [MethodImpl(MethodImplOptions.AggressiveOptimization)]:\n" + string.Join("\n", tiered));
    }

    /// <summary>
    /// What an optimized method calls inside its loops is inlined or optimized at once too, unless its IL is at most 16
    /// bytes (the JIT always inlines those): the JIT may decline to inline a larger helper, which then runs in tier 0 as
    /// above, once per row or element. Pad's gradient ran 2× slower (347 against 177 µs on 64 × 56 × 56) while its
    /// per-row source ranges stayed so; im2col's valid-range helper was compiled apart in tier 0 the same way.
    /// </summary>
    [Test]
    public void EveryCallInAnOptimizedLoopIsInlinedOrOptimized()
    {
        var (reached, unresolved) = TaskCode();
        var library = typeof(ICpuLoop).Assembly;
        var tiered = reached.Keys.Where(m => (m.MethodImplementationFlags & MethodImplAttributes.AggressiveOptimization) != 0)
            .SelectMany(m => IlCallGraph.Read(m, unresolved).CalledInLoops.Select(c => (Caller: m, Callee: IlCallGraph.Definition(c))))
            .Where(c => c.Callee.DeclaringType?.Assembly == library && !Marked(c.Callee)
                && c.Callee.GetMethodBody()?.GetILAsByteArray()?.Length > 16)
            .Select(c => $"{NameOf(c.Callee)} (in a loop of {NameOf(c.Caller)})").Distinct().Order().ToList();
        Assert.That(unresolved, Is.Empty, "call targets the walk could not resolve");
        Assert.That(tiered, Is.Empty, "calls in optimized loops to helpers neither inlined nor optimized at once:\n" + string.Join("\n", tiered));
    }
}
