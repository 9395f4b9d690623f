using System.Globalization;

namespace GpuConv.Tests.Ptx;

/// <summary>
/// Parses the subset of PTX our kernels are written in into <see cref="PtxModule"/>: the module header
/// (.version, .target, .address_size 64), <c>[.visible] .entry</c> with scalar .param lists, and bodies of
/// .reg / .shared declarations, labels and instructions. Every instruction is decoded and type-checked
/// here (operand widths and kinds as ptxas would check them), so the executor never guesses.
/// Anything outside the subset throws <see cref="PtxException"/> naming the line.
/// </summary>
public sealed class PtxParser
{
    static readonly HashSet<string> SpecialNames = ["%tid", "%ntid", "%ctaid", "%nctaid", "%laneid", "%warpid", "%smid", "%clock", "%clock64", "%gridid"];

    readonly List<PtxToken> _tokens;
    int _pos;

    PtxParser(string text) => _tokens = PtxTokenizer.Tokenize(text);

    public static PtxModule Parse(string text) => new PtxParser(text).ParseModule();

    PtxModule ParseModule()
    {
        string? version = null, target = null, addressSize = null;
        var kernels = new Dictionary<string, PtxKernel>();
        while (!AtEnd)
        {
            var t = Next();
            switch (t.Text)
            {
                case ".version": version = Expect(PtxTokenKind.Number).Text; break;
                case ".target": target = Expect(PtxTokenKind.Word).Text; break;
                case ".address_size": addressSize = Expect(PtxTokenKind.Number).Text; break;
                case ".visible":
                    ExpectText(".entry");
                    var k = ParseEntry();
                    kernels.Add(k.Name, k);
                    break;
                case ".entry":
                    var k2 = ParseEntry();
                    kernels.Add(k2.Name, k2);
                    break;
                default: throw Error(t, "unsupported module-level statement");
            }
        }
        if (version is null || target is null) throw new PtxException("module lacks .version or .target");
        if (addressSize != "64") throw new PtxException($".address_size must be 64 (device pointers are 64-bit), got {addressSize ?? "none"}");
        return new PtxModule { Version = version, Target = target, Kernels = kernels };
    }

    // ---- entry, declarations, labels ----

    sealed class Body
    {
        public readonly Dictionary<string, int> Registers = [];
        public readonly List<PtxType> RegisterTypes = [];
        public readonly List<string> RegisterNames = [];
        public readonly Dictionary<string, PtxParam> Params = [];
        public readonly Dictionary<string, PtxSharedVariable> Shared = [];
        public readonly Dictionary<string, int> Labels = [];
        public readonly List<(PtxInstruction Instruction, List<(int Operand, string Label, PtxToken Token)> Fixups)> Pending = [];
    }

    PtxKernel ParseEntry()
    {
        string name = Expect(PtxTokenKind.Word).Text;
        var body = new Body();
        var parameters = new List<PtxParam>();
        ExpectText("(");
        if (Peek.Text != ")")
        {
            do
            {
                ExpectText(".param");
                var typeTok = Expect(PtxTokenKind.Word);
                var type = ParseType(typeTok);
                if (type == PtxType.Pred) throw Error(typeTok, "a .pred parameter is not allowed");
                var p = new PtxParam(Expect(PtxTokenKind.Word).Text, type);
                parameters.Add(p);
                body.Params.Add(p.Name, p);
            } while (TryText(","));
        }
        ExpectText(")");
        ExpectText("{");
        while (Peek.Text != "}")
        {
            var t = Peek;
            if (t.Text == ".reg") { Next(); ParseRegisters(body); }
            else if (t.Text == ".shared") { Next(); ParseShared(body); }
            else if (t.Kind == PtxTokenKind.Word && PeekAt(1).Text == ":") { Next(); Next(); AddLabel(body, t); }
            else ParseInstruction(body);
        }
        ExpectText("}");

        // Resolve branch targets now that every label is known.
        var instructions = new List<PtxInstruction>();
        foreach (var (ins, fixups) in body.Pending)
        {
            var ops = ins.Operands;
            foreach (var (index, label, tok) in fixups)
            {
                if (!body.Labels.TryGetValue(label, out int target)) throw Error(tok, $"branch to undefined label {label}");
                ops[index] = ops[index] with { Target = target };
            }
            instructions.Add(ins);
        }
        return new PtxKernel
        {
            Name = name, Params = parameters, RegisterTypes = body.RegisterTypes, RegisterNames = body.RegisterNames,
            Shared = [.. body.Shared.Values], Instructions = instructions,
        };
    }

    void AddLabel(Body body, PtxToken t)
    {
        if (!body.Labels.TryAdd(t.Text, body.Pending.Count)) throw Error(t, "label defined twice");
    }

    void ParseRegisters(Body body)
    {
        var type = ParseType(Expect(PtxTokenKind.Word));
        do
        {
            var nameTok = Expect(PtxTokenKind.Word);
            if (!nameTok.Text.StartsWith('%')) throw Error(nameTok, "register names start with %");
            if (SpecialNames.Contains(nameTok.Text)) throw Error(nameTok, "register name collides with a special register");
            if (TryText("<"))
            {
                // %r<N> declares %r0 … %r(N-1).
                int count = int.Parse(Expect(PtxTokenKind.Number).Text, CultureInfo.InvariantCulture);
                ExpectText(">");
                for (int i = 0; i < count; i++) Declare(nameTok.Text + i, nameTok);
            }
            else Declare(nameTok.Text, nameTok);
        } while (TryText(","));
        ExpectText(";");

        void Declare(string name, PtxToken tok)
        {
            if (!body.Registers.TryAdd(name, body.RegisterTypes.Count)) throw Error(tok, $"register {name} declared twice");
            body.RegisterTypes.Add(type);
            body.RegisterNames.Add(name);
        }
    }

    void ParseShared(Body body)
    {
        int align = 1;
        if (TryText(".align")) align = int.Parse(Expect(PtxTokenKind.Number).Text, CultureInfo.InvariantCulture);
        var typeTok = Expect(PtxTokenKind.Word);
        var type = ParseType(typeTok);
        if (type == PtxType.Pred) throw Error(typeTok, "shared .pred is not allowed");
        var nameTok = Expect(PtxTokenKind.Word);
        int count = 1;
        if (TryText("["))
        {
            count = int.Parse(Expect(PtxTokenKind.Number).Text, CultureInfo.InvariantCulture);
            ExpectText("]");
        }
        ExpectText(";");
        int size = type.Bits() / 8;
        align = Math.Max(align, size);
        int end = body.Shared.Count == 0 ? 0 : body.Shared.Values.Max(s => s.Offset + s.Bytes);
        int offset = (end + align - 1) / align * align;
        if (!body.Shared.TryAdd(nameTok.Text, new PtxSharedVariable(nameTok.Text, offset, size * count)))
            throw Error(nameTok, "shared variable declared twice");
    }

    // ---- instructions ----

    void ParseInstruction(Body body)
    {
        int guard = -1;
        bool negated = false;
        if (TryText("@"))
        {
            negated = TryText("!");
            var g = Expect(PtxTokenKind.Word);
            guard = RegisterIndex(body, g);
            if (body.RegisterTypes[guard] != PtxType.Pred) throw Error(g, "guard must be a .pred register");
        }
        var opTok = Expect(PtxTokenKind.Word);
        var rawOperands = new List<List<PtxToken>>();
        if (Peek.Text != ";")
        {
            do
            {
                var operand = new List<PtxToken>();
                int depth = 0;
                while (depth > 0 || (Peek.Text != "," && Peek.Text != ";"))
                {
                    var t = Next();
                    if (t.Text == "[") depth++;
                    if (t.Text == "]") depth--;
                    operand.Add(t);
                }
                rawOperands.Add(operand);
            } while (TryText(","));
        }
        ExpectText(";");
        string text = opTok.Text + " " + string.Join(", ", rawOperands.Select(o => string.Concat(o.Select(t => t.Text))));
        new InstructionDecoder(this, body, opTok, rawOperands, guard, negated, text).Decode();
    }

    /// <summary>Decodes one instruction: modifiers, operand kinds and register widths.</summary>
    sealed class InstructionDecoder(PtxParser parser, Body body, PtxToken opTok, List<List<PtxToken>> raw, int guard, bool negated, string text)
    {
        readonly string[] _parts = opTok.Text.Split('.');
        int _part = 1;
        readonly List<(int, string, PtxToken)> _fixups = [];

        bool Modifier(string m)
        {
            if (_part < _parts.Length && _parts[_part] == m) { _part++; return true; }
            return false;
        }

        PtxType TypeModifier()
        {
            if (_part >= _parts.Length) throw Fail("missing type modifier");
            return PtxTypes.Parse(_parts[_part++], opTok.Line);
        }

        PtxException Fail(string why) => new($"line {opTok.Line}: {why} in '{text}'");

        public void Decode()
        {
            string op = _parts[0];
            PtxInstruction ins = op switch
            {
                "add" or "sub" => Arith(op == "add" ? PtxOp.Add : PtxOp.Sub, floatNeedsRn: true),
                "min" or "max" => Arith(op == "min" ? PtxOp.Min : PtxOp.Max, floatNeedsRn: false),
                "div" or "rem" => IntArith(op == "div" ? PtxOp.Div : PtxOp.Rem),
                "mul" => Mul(),
                "mad" => Mad(),
                "fma" => Fma(),
                "neg" => Neg(),
                "sqrt" => Sqrt(),
                "and" or "or" or "xor" => Logic(op switch { "and" => PtxOp.And, "or" => PtxOp.Or, _ => PtxOp.Xor }),
                "not" => Not(),
                "shl" or "shr" => Shift(op == "shl" ? PtxOp.Shl : PtxOp.Shr),
                "setp" => Setp(),
                "selp" => Selp(),
                "mov" => Mov(),
                "cvt" => Cvt(),
                "cvta" => Cvta(),
                "ld" => Load(),
                "st" => Store(),
                "bar" => Bar(),
                "bra" => Bra(),
                "ret" or "exit" => Make(PtxOp.Ret, PtxType.B32, Operands()),
                _ => throw Fail($"unsupported instruction '{op}'"),
            };
            if (_part != _parts.Length) throw Fail($"unsupported modifier .{_parts[_part]}");
            body.Pending.Add((ins, _fixups));
        }

        PtxInstruction Make(PtxOp op, PtxType type, PtxOperand[] operands, PtxType sourceType = PtxType.B32,
            PtxCompare cmp = PtxCompare.Eq, PtxSpace space = PtxSpace.None, PtxMulMode mul = PtxMulMode.None,
            PtxCvtRounding rounding = PtxCvtRounding.None) =>
            new(op, type, operands, opTok.Line, text, sourceType, cmp, space, mul, rounding, guard, negated);

        PtxOperand[] Operands(params (PtxType Type, string Kinds)[] expected)
        {
            if (raw.Count != expected.Length) throw Fail($"expected {expected.Length} operands, got {raw.Count}");
            var result = new PtxOperand[expected.Length];
            for (int i = 0; i < expected.Length; i++) result[i] = Operand(i, expected[i].Type, expected[i].Kinds);
            return result;
        }

        // Kinds: r = register, i = immediate, s = special register, a = address, l = label, v = variable (symbol).
        PtxOperand Operand(int index, PtxType type, string kinds)
        {
            var toks = raw[index];
            var t0 = toks[0];
            if (t0.Text == "[")
            {
                if (!kinds.Contains('a')) throw Fail($"operand {index} may not be an address");
                return Address(toks);
            }
            if (toks.Count == 1 && t0.Kind == PtxTokenKind.Word && t0.Text.StartsWith('%'))
            {
                int dot = t0.Text.IndexOf('.');
                if (dot > 0 && SpecialNames.Contains(t0.Text[..dot]))
                {
                    if (!kinds.Contains('s')) throw Fail($"operand {index} may not be a special register");
                    if (type.Bits() != 32 || type.IsFloat()) throw Fail("special registers are read as 32-bit integers");
                    var special = t0.Text[..dot] switch
                    {
                        "%tid" => PtxSpecial.Tid, "%ntid" => PtxSpecial.Ntid, "%ctaid" => PtxSpecial.Ctaid, "%nctaid" => PtxSpecial.Nctaid,
                        _ => throw Fail($"unsupported special register {t0.Text}"),
                    };
                    int dim = t0.Text[(dot + 1)..] switch { "x" => 0, "y" => 1, "z" => 2, _ => throw Fail($"bad special register {t0.Text}") };
                    return new PtxOperand(PtxOperandKind.Special, Special: special, Dim: dim);
                }
                if (!kinds.Contains('r')) throw Fail($"operand {index} may not be a register");
                int reg = parser.RegisterIndex(body, t0);
                CheckRegister(reg, type, index);
                return new PtxOperand(PtxOperandKind.Register, Register: reg);
            }
            if (t0.Kind == PtxTokenKind.Number || t0.Text == "-")
            {
                if (!kinds.Contains('i')) throw Fail($"operand {index} may not be an immediate");
                return new PtxOperand(PtxOperandKind.Immediate, Bits: Immediate(toks, type));
            }
            if (toks.Count == 1 && t0.Kind == PtxTokenKind.Word)
            {
                if (kinds.Contains('l'))
                {
                    _fixups.Add((index, t0.Text, t0));
                    return new PtxOperand(PtxOperandKind.Label, Symbol: t0.Text);
                }
                if (kinds.Contains('v') && body.Shared.ContainsKey(t0.Text))
                {
                    if (type.IsFloat() || type == PtxType.Pred) throw Fail("a variable's address is an integer");
                    return new PtxOperand(PtxOperandKind.Symbol, Symbol: t0.Text);
                }
            }
            throw Fail($"unsupported operand {index} '{string.Concat(toks.Select(t => t.Text))}'");
        }

        PtxOperand Address(List<PtxToken> toks)
        {
            if (toks[^1].Text != "]" || toks.Count < 3) throw Fail("malformed address");
            var inner = toks.GetRange(1, toks.Count - 2);
            long offset = 0;
            if (inner.Count == 3 && inner[1].Text is "+" or "-")
            {
                offset = (long)ParseInteger(inner[2]);
                if (inner[1].Text == "-") offset = -offset;
            }
            else if (inner.Count != 1) throw Fail("address must be [base] or [base+imm]");
            var baseTok = inner[0];
            if (baseTok.Text.StartsWith('%'))
            {
                int reg = parser.RegisterIndex(body, baseTok);
                var rt = body.RegisterTypes[reg];
                if (rt == PtxType.Pred || rt.IsFloat()) throw Fail("an address register must be an integer register");
                return new PtxOperand(PtxOperandKind.Address, Register: reg, Offset: offset);
            }
            if (body.Params.ContainsKey(baseTok.Text) || body.Shared.ContainsKey(baseTok.Text))
                return new PtxOperand(PtxOperandKind.Address, Symbol: baseTok.Text, Offset: offset);
            throw Fail($"unknown address base {baseTok.Text}");
        }

        ulong Immediate(List<PtxToken> toks, PtxType type)
        {
            bool negative = toks[0].Text == "-";
            if (toks.Count != (negative ? 2 : 1)) throw Fail("malformed immediate");
            var tok = toks[^1];
            if (type.IsFloat())
            {
                // Only the exact hex form 0fXXXXXXXX: decimal float literals would need PTX's rounding rules.
                if (negative || !tok.Text.StartsWith("0f", StringComparison.OrdinalIgnoreCase) || tok.Text.Length != 10)
                    throw Fail($"f32 immediates must be written 0fXXXXXXXX, got {tok.Text}");
                return uint.Parse(tok.Text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
            ulong v = ParseInteger(tok);
            if (negative) v = unchecked(0 - v);
            return type.Bits() == 32 ? v & 0xFFFF_FFFFUL : v;
        }

        ulong ParseInteger(PtxToken tok)
        {
            string s = tok.Text.TrimEnd('U', 'u');
            if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
                return ulong.Parse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (s.Length > 1 && s[0] == '0') throw Fail($"octal literal {tok.Text} is not supported");
            return ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw Fail($"bad integer literal {tok.Text}");
        }

        /// <summary>ptxas's operand rule: same width; a .bN instruction takes any register, .uN/.sN take integer registers, .f32 takes .f32 or .b32.</summary>
        void CheckRegister(int reg, PtxType want, int index)
        {
            var have = body.RegisterTypes[reg];
            bool ok = want == PtxType.Pred
                ? have == PtxType.Pred
                : have != PtxType.Pred && have.Bits() == want.Bits() &&
                  (want.IsBits() || (want.IsFloat() ? have is PtxType.F32 || have.IsBits() : !have.IsFloat()));
            if (!ok) throw Fail($"operand {index} is register {body.RegisterNames[reg]} of type .{have.ToString().ToLowerInvariant()}, not usable as .{want.ToString().ToLowerInvariant()}");
        }

        static PtxType Wide(PtxType t) => t switch
        {
            PtxType.U32 => PtxType.U64,
            PtxType.S32 => PtxType.S64,
            _ => throw new PtxException($".wide needs .u32 or .s32, got .{t}"),
        };

        static bool IsInt(PtxType t) => t is PtxType.U32 or PtxType.S32 or PtxType.U64 or PtxType.S64;

        PtxInstruction Arith(PtxOp op, bool floatNeedsRn)
        {
            bool rn = Modifier("rn");
            var t = TypeModifier();
            if (t.IsFloat() ? (floatNeedsRn && !rn) : (rn || !IsInt(t)))
                throw Fail(t.IsFloat() ? "f32 add/sub must carry .rn (without it ptxas may contract into fma)" : "expected an integer type (.u32/.s32/.u64/.s64)");
            return Make(op, t, Operands((t, "r"), (t, "ri"), (t, "ri")));
        }

        PtxInstruction IntArith(PtxOp op)
        {
            // div.rn.f32: IEEE division rounded once (pool.ptx's averages); no rem for floats, no approximate forms.
            if (op == PtxOp.Div && Modifier("rn"))
            {
                var f = TypeModifier();
                if (!f.IsFloat()) throw Fail("div.rn is for f32");
                return Make(PtxOp.Div, f, Operands((f, "r"), (f, "ri"), (f, "ri")));
            }
            var t = TypeModifier();
            if (!IsInt(t)) throw Fail("div/rem are supported for integer types only");
            return Make(op, t, Operands((t, "r"), (t, "ri"), (t, "ri")));
        }

        PtxInstruction Mul()
        {
            if (Modifier("rn"))
            {
                var f = TypeModifier();
                if (!f.IsFloat()) throw Fail("mul.rn is for f32");
                return Make(PtxOp.Mul, f, Operands((f, "r"), (f, "ri"), (f, "ri")));
            }
            var mode = Modifier("lo") ? PtxMulMode.Lo : Modifier("hi") ? PtxMulMode.Hi : Modifier("wide") ? PtxMulMode.Wide : throw Fail("integer mul needs .lo, .hi or .wide (f32 mul needs .rn)");
            var t = TypeModifier();
            if (!IsInt(t)) throw Fail("expected an integer type");
            var d = mode == PtxMulMode.Wide ? Wide(t) : t;
            return Make(PtxOp.Mul, t, Operands((d, "r"), (t, "ri"), (t, "ri")), mul: mode);
        }

        PtxInstruction Mad()
        {
            var mode = Modifier("lo") ? PtxMulMode.Lo : Modifier("hi") ? PtxMulMode.Hi : Modifier("wide") ? PtxMulMode.Wide : throw Fail("mad needs .lo, .hi or .wide (use fma.rn.f32 for floats)");
            var t = TypeModifier();
            if (!IsInt(t)) throw Fail("expected an integer type");
            var d = mode == PtxMulMode.Wide ? Wide(t) : t;
            return Make(PtxOp.Mad, t, Operands((d, "r"), (t, "ri"), (t, "ri"), (d, "ri")), mul: mode);
        }

        PtxInstruction Fma()
        {
            if (!Modifier("rn")) throw Fail("fma needs .rn");
            var t = TypeModifier();
            if (!t.IsFloat()) throw Fail("fma is supported for f32 only");
            return Make(PtxOp.Fma, t, Operands((t, "r"), (t, "ri"), (t, "ri"), (t, "ri")));
        }

        PtxInstruction Neg()
        {
            var t = TypeModifier();
            if (t is not (PtxType.S32 or PtxType.S64 or PtxType.F32)) throw Fail("neg needs .s32, .s64 or .f32");
            return Make(PtxOp.Neg, t, Operands((t, "r"), (t, "ri")));
        }

        PtxInstruction Sqrt()
        {
            if (!Modifier("rn")) throw Fail("sqrt needs .rn (sqrt.approx is not IEEE's square root)");
            var t = TypeModifier();
            if (!t.IsFloat()) throw Fail("sqrt is supported for f32 only");
            return Make(PtxOp.Sqrt, t, Operands((t, "r"), (t, "ri")));
        }

        PtxInstruction Logic(PtxOp op)
        {
            var t = TypeModifier();
            if (!(t.IsBits() || t == PtxType.Pred)) throw Fail("logic ops need .b32, .b64 or .pred");
            return Make(op, t, Operands((t, "r"), (t, "ri"), (t, "ri")));
        }

        PtxInstruction Not()
        {
            var t = TypeModifier();
            if (!(t.IsBits() || t == PtxType.Pred)) throw Fail("not needs .b32, .b64 or .pred");
            return Make(PtxOp.Not, t, Operands((t, "r"), (t, "ri")));
        }

        PtxInstruction Shift(PtxOp op)
        {
            var t = TypeModifier();
            bool ok = op == PtxOp.Shl ? t.IsBits() : (t.IsBits() || IsInt(t));
            if (!ok) throw Fail(op == PtxOp.Shl ? "shl needs .b32 or .b64" : "shr needs .b/.u/.s 32 or 64");
            return Make(op, t, Operands((t, "r"), (t, "ri"), (PtxType.U32, "ri")));
        }

        PtxInstruction Setp()
        {
            if (_part >= _parts.Length) throw Fail("setp needs a comparison");
            string c = _parts[_part++];
            var t = TypeModifier();
            bool unsignedOnly = c is "lo" or "ls" or "hi" or "hs";
            if (unsignedOnly && (t.IsSigned() || t.IsFloat())) throw Fail($".{c} is for unsigned types");
            var cmp = c switch
            {
                "eq" => PtxCompare.Eq, "ne" => PtxCompare.Ne,
                "lt" or "lo" => PtxCompare.Lt, "le" or "ls" => PtxCompare.Le,
                "gt" or "hi" => PtxCompare.Gt, "ge" or "hs" => PtxCompare.Ge,
                _ => throw Fail($"unsupported comparison .{c}"),
            };
            if (t == PtxType.Pred) throw Fail("setp compares values, not predicates");
            if (t.IsBits() && cmp is not (PtxCompare.Eq or PtxCompare.Ne)) throw Fail("ordered comparisons need a .u/.s/.f type");
            if (_part < _parts.Length) throw Fail($"setp modifier .{_parts[_part]} (e.g. .and/.ftz) is not supported");
            return Make(PtxOp.Setp, t, Operands((PtxType.Pred, "r"), (t, "ri"), (t, "ri")), cmp: cmp);
        }

        PtxInstruction Selp()
        {
            var t = TypeModifier();
            if (t == PtxType.Pred) throw Fail("selp needs a value type");
            return Make(PtxOp.Selp, t, Operands((t, "r"), (t, "ri"), (t, "ri"), (PtxType.Pred, "r")));
        }

        PtxInstruction Mov()
        {
            var t = TypeModifier();
            return Make(PtxOp.Mov, t, Operands((t, "r"), (t, t == PtxType.Pred ? "r" : "risv")));
        }

        PtxInstruction Cvt()
        {
            var rounding = Modifier("rn") ? PtxCvtRounding.Rn : Modifier("rzi") ? PtxCvtRounding.Rzi : PtxCvtRounding.None;
            var d = TypeModifier();
            var s = TypeModifier();
            if (d == PtxType.Pred || s == PtxType.Pred) throw Fail("cvt does not take .pred");
            if (d.IsFloat() && s.IsFloat()) throw Fail("f32 to f32 cvt is not supported");
            if (d.IsFloat() && rounding != PtxCvtRounding.Rn) throw Fail("integer to f32 cvt needs .rn");
            if (s.IsFloat() && rounding != PtxCvtRounding.Rzi) throw Fail("f32 to integer cvt needs .rzi");
            if (!d.IsFloat() && !s.IsFloat() && rounding != PtxCvtRounding.None) throw Fail("integer to integer cvt takes no rounding");
            if (d.IsBits() || s.IsBits()) throw Fail("cvt needs .u/.s/.f types");
            return Make(PtxOp.Cvt, d, Operands((d, "r"), (s, "r")), sourceType: s, rounding: rounding);
        }

        PtxInstruction Cvta()
        {
            if (!Modifier("to") || !Modifier("global")) throw Fail("only cvta.to.global is supported");
            var t = TypeModifier();
            if (t != PtxType.U64) throw Fail("cvta.to.global needs .u64");
            return Make(PtxOp.Cvta, t, Operands((t, "r"), (t, "r")));
        }

        PtxSpace Space(bool load)
        {
            if (Modifier("global")) return PtxSpace.Global;
            if (Modifier("shared")) return PtxSpace.Shared;
            if (load && Modifier("param")) return PtxSpace.Param;
            throw Fail("state space must be " + (load ? ".param, .global or .shared" : ".global or .shared"));
        }

        PtxInstruction Load()
        {
            var space = Space(load: true);
            // .nc (read-only data path) changes caching, not values: executed as a plain load.
            if (space == PtxSpace.Global) Modifier("nc");
            var t = TypeModifier();
            if (t == PtxType.Pred) throw Fail("cannot load a .pred");
            var ops = Operands((t, "r"), (t, "a"));
            CheckAddress(ops[1], space);
            return Make(PtxOp.Ld, t, ops, space: space);
        }

        PtxInstruction Store()
        {
            var space = Space(load: false);
            var t = TypeModifier();
            if (t == PtxType.Pred) throw Fail("cannot store a .pred");
            var ops = Operands((t, "a"), (t, "ri"));
            CheckAddress(ops[0], space);
            return Make(PtxOp.St, t, ops, space: space);
        }

        void CheckAddress(PtxOperand a, PtxSpace space)
        {
            if (a.Symbol is not null)
            {
                bool isParam = body.Params.ContainsKey(a.Symbol);
                if (space == PtxSpace.Param != isParam) throw Fail($"symbol {a.Symbol} is not in the .{space.ToString().ToLowerInvariant()} space");
                if (space == PtxSpace.Global) throw Fail("global addresses must come from a register");
            }
            else if (space == PtxSpace.Param) throw Fail("ld.param needs a parameter name");
            else if (space == PtxSpace.Global && body.RegisterTypes[a.Register].Bits() != 64)
                throw Fail("global addresses are 64-bit (.address_size 64)");
        }

        PtxInstruction Bar()
        {
            if (!Modifier("sync")) throw Fail("only bar.sync is supported");
            var ops = Operands((PtxType.U32, "i"));
            if (ops[0].Bits != 0) throw Fail("only barrier 0 is supported");
            return Make(PtxOp.BarSync, PtxType.B32, ops);
        }

        PtxInstruction Bra()
        {
            Modifier("uni");
            return Make(PtxOp.Bra, PtxType.B32, Operands((PtxType.B32, "l")));
        }
    }

    // ---- token helpers ----

    int RegisterIndex(Body body, PtxToken t) =>
        body.Registers.TryGetValue(t.Text, out int r) ? r : throw Error(t, $"undeclared register {t.Text}");

    static PtxType ParseType(PtxToken t)
    {
        if (!t.Text.StartsWith('.')) throw Error(t, "expected a type such as .u32");
        return PtxTypes.Parse(t.Text[1..], t.Line);
    }

    bool AtEnd => _pos >= _tokens.Count;
    PtxToken Peek => PeekAt(0);
    PtxToken PeekAt(int k) => _pos + k < _tokens.Count ? _tokens[_pos + k] : throw new PtxException("unexpected end of PTX text");
    PtxToken Next() { var t = Peek; _pos++; return t; }

    PtxToken Expect(PtxTokenKind kind)
    {
        var t = Next();
        return t.Kind == kind ? t : throw Error(t, $"expected a {kind.ToString().ToLowerInvariant()}");
    }

    void ExpectText(string text)
    {
        var t = Next();
        if (t.Text != text) throw Error(t, $"expected '{text}'");
    }

    bool TryText(string text)
    {
        if (!AtEnd && Peek.Text == text) { _pos++; return true; }
        return false;
    }

    static PtxException Error(PtxToken t, string why) => new($"line {t.Line}: {why} at {t}");
}
