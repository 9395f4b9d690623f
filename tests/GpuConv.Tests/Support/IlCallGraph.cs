using System.Reflection;
using System.Reflection.Emit;

namespace GpuConv.Tests.Support;

/// <summary>
/// What a method's IL calls and whether it loops, read from its bytes: every call, callvirt, newobj and ldftn operand, and
/// any branch back to an earlier instruction (a loop, from its target to the branch). Enough to walk, within one assembly,
/// from the methods a parallel task runs to every method they can reach.
/// </summary>
public static class IlCallGraph
{
    static readonly Dictionary<ushort, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => (ushort)o.Value);

    /// <summary>What one method's IL shows: whether it loops, what it calls, and which of those calls sit inside a loop.</summary>
    public sealed record Body(bool Loops, List<MethodBase> Callees, List<MethodBase> CalledInLoops);

    /// <summary>
    /// Reads <paramref name="method"/>'s IL (unresolvable call tokens listed in <paramref name="unresolved"/>). A call is in a
    /// loop when it lies between a backward branch and the instruction that branch goes back to.
    /// </summary>
    public static Body Read(MethodBase method, List<string> unresolved)
    {
        var calls = new List<(int At, MethodBase Callee)>();
        var loops = new List<(int Start, int End)>();
        byte[]? il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null) return new Body(false, [], []);
        Type[]? typeArguments = method.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null;
        Type[]? methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (int i = 0; i < il.Length;)
        {
            int at = i;
            ushort value = il[i++];
            if (value == 0xFE) value = (ushort)(0xFE00 | il[i++]);
            var op = OpCodesByValue[value];
            int size = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
            // Branch offsets count from the next instruction.
            int offset = op.OperandType switch
            {
                OperandType.ShortInlineBrTarget => (sbyte)il[i],
                OperandType.InlineBrTarget => BitConverter.ToInt32(il, i),
                _ => 0,
            };
            if (offset < 0) loops.Add((i + size + offset, at));
            if (op.OperandType == OperandType.InlineMethod)
            {
                int token = BitConverter.ToInt32(il, i);
                try { calls.Add((at, method.Module.ResolveMethod(token, typeArguments, methodArguments)!)); }
                catch (ArgumentException) { unresolved.Add($"{method.DeclaringType}.{method.Name}: token 0x{token:x8}"); }
            }
            i += size;
        }
        return new Body(loops.Count > 0, calls.Select(c => c.Callee).ToList(),
            calls.Where(c => loops.Any(l => c.At >= l.Start && c.At <= l.End)).Select(c => c.Callee).ToList());
    }

    /// <summary>
    /// Every method of <paramref name="assembly"/> reachable from <paramref name="roots"/> (generic ones as their
    /// definitions; an interface method stands for its implementations in the assembly), each with a caller that reaches it.
    /// </summary>
    public static Dictionary<MethodBase, string> Reachable(Assembly assembly, IEnumerable<MethodBase> roots, List<string> unresolved)
    {
        var reached = new Dictionary<MethodBase, string>();
        var queue = new Queue<MethodBase>();
        foreach (var root in roots)
            if (reached.TryAdd(Definition(root), "(root)")) queue.Enqueue(Definition(root));
        var types = assembly.GetTypes();
        while (queue.Count > 0)
        {
            var method = queue.Dequeue();
            foreach (var callee in Read(method, unresolved).Callees)
            {
                var target = Definition(callee);
                if (target.DeclaringType?.Assembly != assembly) continue;
                foreach (var each in target.DeclaringType.IsInterface ? Implementations(types, target) : [target])
                    if (reached.TryAdd(each, $"{method.DeclaringType!.Name}.{method.Name}")) queue.Enqueue(each);
            }
        }
        return reached;
    }

    /// <summary>The open generic form of a method (or of the method on a generic type's definition).</summary>
    public static MethodBase Definition(MethodBase method)
    {
        if (method is MethodInfo { IsGenericMethod: true, IsGenericMethodDefinition: false } info) method = info.GetGenericMethodDefinition();
        if (method.DeclaringType is { IsGenericType: true, IsGenericTypeDefinition: false } type)
            method = MethodBase.GetMethodFromHandle(method.MethodHandle, type.GetGenericTypeDefinition().TypeHandle)!;
        return method;
    }

    static IEnumerable<MethodBase> Implementations(Type[] types, MethodBase interfaceMethod)
    {
        var face = interfaceMethod.DeclaringType!;
        const BindingFlags declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        return types.Where(t => !t.IsInterface && t.GetInterfaces().Any(i => (i.IsGenericType ? i.GetGenericTypeDefinition() : i) == face))
            .SelectMany(t => t.GetMethods(declared))
            .Where(m => m.Name == interfaceMethod.Name || m.Name.EndsWith("." + interfaceMethod.Name, StringComparison.Ordinal));
    }
}
