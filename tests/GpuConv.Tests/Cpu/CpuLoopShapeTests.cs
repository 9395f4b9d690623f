using System.Reflection;
using GpuConv.Cpu.Threading;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// Every parallel loop body in the library is a readonly struct: the workers run one copy of it per job on every
/// thread, so a field written by a task (a counter, an accumulator a lambda used to share) would be a data race.
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
}
