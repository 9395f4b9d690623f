using System.Reflection;
using GpuConv.Cpu.Threading;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// Every parallel loop body in the library is a readonly struct: the workers run one copy of it per job on every
/// thread, so a field written by a task (a counter, an accumulator a lambda used to share) would be a data race.
/// And every <see cref="ICpuLoop.Run"/> is compiled optimized at once: a task body is called a few times a network run,
/// so the JIT's call counting leaves it in its first, unoptimized form (or an on-stack-replacement form) through a
/// process's first dozens of runs; EfficientNet-B0's squeeze-and-excitation scalings ran 80–730 µs a block so, 5–45 µs
/// optimized (docs/benchmarks.md, s23). Nothing in a result shows it, only the time, so this reads the attribute.
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
}
