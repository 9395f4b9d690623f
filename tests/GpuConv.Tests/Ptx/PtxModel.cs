namespace GpuConv.Tests.Ptx;

/// <summary>The PTX scalar types the interpreter knows. Anything else is rejected by the parser.</summary>
public enum PtxType { Pred, B32, U32, S32, F32, B64, U64, S64 }

public static class PtxTypes
{
    public static PtxType Parse(string name, int line) => name switch
    {
        "pred" => PtxType.Pred,
        "b32" => PtxType.B32, "u32" => PtxType.U32, "s32" => PtxType.S32, "f32" => PtxType.F32,
        "b64" => PtxType.B64, "u64" => PtxType.U64, "s64" => PtxType.S64,
        _ => throw new PtxException($"unsupported type .{name} on line {line}"),
    };

    /// <summary>Width in bits (a predicate counts as 1).</summary>
    public static int Bits(this PtxType t) => t switch
    {
        PtxType.Pred => 1,
        PtxType.B64 or PtxType.U64 or PtxType.S64 => 64,
        _ => 32,
    };

    public static bool IsSigned(this PtxType t) => t is PtxType.S32 or PtxType.S64;
    public static bool IsFloat(this PtxType t) => t == PtxType.F32;
    public static bool IsBits(this PtxType t) => t is PtxType.B32 or PtxType.B64;
}

/// <summary>The instructions the interpreter executes (the opcode's first word).</summary>
public enum PtxOp
{
    Add, Sub, Mul, Mad, Fma, Div, Rem, Min, Max, Neg, Sqrt,
    And, Or, Xor, Not, Shl, Shr,
    Setp, Selp, Mov, Cvt, Cvta,
    Ld, St, BarSync, Bra, Ret,
}

public enum PtxCompare { Eq, Ne, Lt, Le, Gt, Ge }

public enum PtxSpace { None, Param, Global, Shared }

/// <summary>
/// How an instruction's integer multiply treats its result: the low half at operand width (mul.lo),
/// the high half of the double-width product (mul.hi), or the full product at twice the width (mul.wide).
/// </summary>
public enum PtxMulMode { None, Lo, Hi, Wide }

public enum PtxCvtRounding { None, Rn, Rzi }

public enum PtxSpecial { Tid, Ntid, Ctaid, Nctaid }

public enum PtxOperandKind { Register, Immediate, Special, Address, Label, Symbol }

/// <summary>
/// One operand, resolved at parse time: a register index, an immediate (raw bits), a special register
/// (kind and dimension 0..2 for x, y, z), an address (base register or symbol, plus a byte offset),
/// a branch target (instruction index) or a symbol's address (a shared variable).
/// </summary>
public sealed record PtxOperand(PtxOperandKind Kind, int Register = -1, ulong Bits = 0, PtxSpecial Special = default,
    int Dim = 0, string? Symbol = null, long Offset = 0, int Target = -1)
{
    public override string ToString() => Kind switch
    {
        PtxOperandKind.Register => $"r#{Register}",
        PtxOperandKind.Immediate => $"#{Bits}",
        PtxOperandKind.Special => $"%{Special}.{"xyz"[Dim]}",
        PtxOperandKind.Address => Symbol is null ? $"[r#{Register}+{Offset}]" : $"[{Symbol}+{Offset}]",
        PtxOperandKind.Label => $"->{Target}",
        _ => Symbol ?? "?",
    };
}

/// <summary>A decoded instruction: opcode, the modifiers that change its meaning, an optional guard predicate.</summary>
public sealed record PtxInstruction(
    PtxOp Op,
    PtxType Type,
    PtxOperand[] Operands,
    int Line,
    string Text,
    PtxType SourceType = PtxType.B32,
    PtxCompare Compare = PtxCompare.Eq,
    PtxSpace Space = PtxSpace.None,
    PtxMulMode MulMode = PtxMulMode.None,
    PtxCvtRounding Rounding = PtxCvtRounding.None,
    int GuardRegister = -1,
    bool GuardNegated = false)
{
    public override string ToString() => $"line {Line}: {Text}";
}

public sealed record PtxParam(string Name, PtxType Type);

public sealed record PtxSharedVariable(string Name, int Offset, int Bytes);

/// <summary>One <c>.entry</c>: parameters, declared registers, shared variables and the instruction list.</summary>
public sealed class PtxKernel
{
    public required string Name { get; init; }
    public required IReadOnlyList<PtxParam> Params { get; init; }
    public required IReadOnlyList<PtxType> RegisterTypes { get; init; }
    public required IReadOnlyList<string> RegisterNames { get; init; }
    public required IReadOnlyList<PtxSharedVariable> Shared { get; init; }
    public required IReadOnlyList<PtxInstruction> Instructions { get; init; }
    public int SharedBytes => Shared.Count == 0 ? 0 : Shared.Max(s => s.Offset + s.Bytes);
}

/// <summary>A parsed PTX module: its header and entries by name.</summary>
public sealed class PtxModule
{
    public required string Version { get; init; }
    public required string Target { get; init; }
    public required IReadOnlyDictionary<string, PtxKernel> Kernels { get; init; }

    public PtxKernel this[string name] => Kernels.TryGetValue(name, out var k)
        ? k : throw new PtxException($"no .entry named {name}; the module has {string.Join(", ", Kernels.Keys)}");
}
