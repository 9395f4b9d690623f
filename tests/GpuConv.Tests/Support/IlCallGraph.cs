using System.Reflection;
using System.Reflection.Emit;

namespace GpuConv.Tests.Support;

/// <summary>
/// What a method's IL calls and whether it loops, read from its bytes: every call, callvirt, newobj and ldftn operand, and
/// any branch back to an earlier instruction. Enough to walk, within one assembly, from the methods a parallel task runs
/// to every method they can reach.
/// </summary>
public static class IlCallGraph
{
    static readonly Dictionary<ushort, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => (ushort)o.Value);

    /// <summary>The methods <paramref name="method"/>'s IL names as call targets (unresolvable tokens listed in <paramref name="unresolved"/>) and whether it has a backward branch.</summary>
    public static (bool Loops, List<MethodBase> Callees) Read(MethodBase method, List<string> unresolved)
    {
        var callees = new List<MethodBase>();
        byte[]? il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null) return (false, callees);
        Type[]? typeArguments = method.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null;
        Type[]? methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        bool loops = false;
        for (int i = 0; i < il.Length;)
        {
            ushort value = il[i++];
            if (value == 0xFE) value = (ushort)(0xFE00 | il[i++]);
            var op = OpCodesByValue[value];
            switch (op.OperandType)
            {
                case OperandType.ShortInlineBrTarget: loops |= (sbyte)il[i] < 0; break;
                case OperandType.InlineBrTarget: loops |= BitConverter.ToInt32(il, i) < 0; break;
                case OperandType.InlineMethod:
                    int token = BitConverter.ToInt32(il, i);
                    try { callees.Add(method.Module.ResolveMethod(token, typeArguments, methodArguments)!); }
                    catch (ArgumentException) { unresolved.Add($"{method.DeclaringType}.{method.Name}: token 0x{token:x8}"); }
                    break;
            }
            i += op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
        }
        return (loops, callees);
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
    static MethodBase Definition(MethodBase method)
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
