using System.Buffers.Binary;

namespace GpuConv.Tests.Ptx;

/// <summary>A launch shape: grid (blocks) and block (threads) sizes in x, y, z.</summary>
public readonly record struct PtxDim3(int X, int Y = 1, int Z = 1)
{
    public long Count => (long)X * Y * Z;
}

/// <summary>
/// Runs a parsed kernel over a simulated grid on the CPU. Blocks run one after another. Inside a block
/// the threads run one at a time, each until it reaches bar.sync or returns; when every thread waits at
/// the barrier the next phase starts — so shared memory and barriers behave as on the GPU for
/// barrier-correct code, and a thread that returns while others wait at a barrier is reported as an error.
/// Registers hold raw bits (ulong); each instruction interprets them at its own type, as PTX does.
/// Stricter than a GPU where a GPU would only be unlucky: reading a register no instruction has written
/// is an error (a GPU reads garbage), and every global access must land inside the buffer that the
/// pointer parameter it was derived from points to (from the pointer passed to the end of that
/// allocation), not merely inside some allocation. Provenance follows the pointer through mov, cvta,
/// add, sub, mad and selp; a global access through a value derived from no pointer parameter fails.
/// </summary>
public sealed class PtxInterpreter(IPtxMemory memory)
{
    /// <summary>Upper bound on executed instructions per launch: a runaway loop fails instead of hanging.</summary>
    public long InstructionBudget { get; set; } = 2_000_000_000;

    public long InstructionsExecuted { get; private set; }

    /// <summary>Executions per instruction of the last launch's kernel (index = position in its instruction list; guarded-off ones count, as they issue on a GPU).</summary>
    long[] _executedAt = [];
    PtxKernel? _lastKernel;

    /// <summary>
    /// Executed instructions of the last launch by opcode with modifiers ("div.u64", "mul.hi.u32", …), for
    /// cost comparisons: one PTX div/rem is one entry here but tens of machine instructions on a GPU.
    /// </summary>
    public IReadOnlyDictionary<string, long> ExecutedByOpcode()
    {
        var result = new SortedDictionary<string, long>(StringComparer.Ordinal);
        if (_lastKernel is null) return result;
        for (int i = 0; i < _executedAt.Length; i++)
        {
            if (_executedAt[i] == 0) continue;
            string text = _lastKernel.Instructions[i].Text;
            int space = text.IndexOf(' ');
            string opcode = space < 0 ? text : text[..space];
            result[opcode] = result.GetValueOrDefault(opcode) + _executedAt[i];
        }
        return result;
    }

    /// <summary>The instruction being executed, for error messages.</summary>
    PtxInstruction? _current;

    sealed class ThreadState(int registers)
    {
        public readonly ulong[] Regs = new ulong[registers];
        public readonly bool[] Written = new bool[registers];
        /// <summary>Per register: index into the launch's pointer buffers it was derived from, or -1.</summary>
        public readonly int[] Provenance = Enumerable.Repeat(-1, registers).ToArray();
        public int Pc;
        public bool Done;
        public int Tx, Ty, Tz;
    }

    /// <summary>
    /// Launches <paramref name="kernel"/>. Arguments map to the .param list in order: .u64/.s64 take
    /// ulong or long (device pointers are ulong), .u32/.s32/.b32 take uint or int, .f32 takes float.
    /// </summary>
    public void Launch(PtxKernel kernel, PtxDim3 grid, PtxDim3 block, params object[] args)
    {
        var param = BindParams(kernel, args);
        var buffers = PointerBuffers(kernel, param);
        if (grid.Count < 1 || block.Count < 1 || block.Count > 1024)
            throw new PtxException($"bad launch shape grid {grid} block {block}");
        InstructionsExecuted = 0;
        _lastKernel = kernel;
        _executedAt = new long[kernel.Instructions.Count];
        for (int bz = 0; bz < grid.Z; bz++)
        for (int by = 0; by < grid.Y; by++)
        for (int bx = 0; bx < grid.X; bx++)
            RunBlock(kernel, grid, block, (bx, by, bz), param, buffers);
    }

    /// <summary>A pointer parameter's buffer: from the pointer passed to the end of the allocation holding it.</summary>
    sealed record PointerBuffer(string Param, ulong Start, ulong End);

    /// <summary>The buffer of every 64-bit integer parameter that points into an allocation (null and plain counts have none).</summary>
    Dictionary<string, int> PointerBuffersByParam { get; } = [];

    List<PointerBuffer> PointerBuffers(PtxKernel kernel, Dictionary<string, ulong> param)
    {
        var result = new List<PointerBuffer>();
        PointerBuffersByParam.Clear();
        foreach (var p in kernel.Params)
        {
            if (p.Type.Bits() != 64 || p.Type.IsFloat()) continue;
            ulong value = param[p.Name];
            if (memory.AllocationContaining(value) is not { } allocation) continue;
            PointerBuffersByParam[p.Name] = result.Count;
            result.Add(new PointerBuffer(p.Name, value, allocation.Start + (ulong)allocation.Bytes));
        }
        return result;
    }

    static Dictionary<string, ulong> BindParams(PtxKernel kernel, object[] args)
    {
        if (args.Length != kernel.Params.Count)
            throw new PtxException($"{kernel.Name} takes {kernel.Params.Count} parameters, got {args.Length}");
        var result = new Dictionary<string, ulong>();
        for (int i = 0; i < args.Length; i++)
        {
            var p = kernel.Params[i];
            result[p.Name] = (p.Type.Bits(), p.Type.IsFloat(), args[i]) switch
            {
                (64, false, ulong u) => u,
                (64, false, long l) => (ulong)l,
                (32, false, uint u) => u,
                (32, false, int n) => (uint)n,
                (32, true, float f) => BitConverter.SingleToUInt32Bits(f),
                _ => throw new PtxException($"parameter {i} ({p.Name}, .{p.Type.ToString().ToLowerInvariant()}) got {args[i]?.GetType().Name ?? "null"}"),
            };
        }
        return result;
    }

    void RunBlock(PtxKernel kernel, PtxDim3 grid, PtxDim3 block, (int X, int Y, int Z) ctaid, Dictionary<string, ulong> param, List<PointerBuffer> buffers)
    {
        // Shared memory starts as all-ones bytes (a NaN as f32), as on a GPU it starts as garbage, not zero.
        var shared = new byte[Math.Max(1, kernel.SharedBytes)];
        shared.AsSpan().Fill(0xFF);
        var threads = new List<ThreadState>();
        for (int z = 0; z < block.Z; z++)
        for (int y = 0; y < block.Y; y++)
        for (int x = 0; x < block.X; x++)
            threads.Add(new ThreadState(kernel.RegisterTypes.Count) { Tx = x, Ty = y, Tz = z });
        var context = new BlockContext(kernel, grid, block, ctaid, param, shared, buffers, PointerBuffersByParam);

        while (true)
        {
            int waiting = 0, done = 0;
            foreach (var t in threads)
            {
                if (!t.Done) RunUntilBarrier(context, t);
                if (t.Done) done++; else waiting++;
            }
            if (waiting == 0) return;
            if (done > 0)
                throw new PtxException($"{kernel.Name}: block {ctaid}: {done} thread(s) returned while {waiting} wait at bar.sync (deadlock on a GPU)");
        }
    }

    sealed record BlockContext(PtxKernel Kernel, PtxDim3 Grid, PtxDim3 Block, (int X, int Y, int Z) Ctaid,
        Dictionary<string, ulong> Params, byte[] Shared, List<PointerBuffer> Buffers, Dictionary<string, int> BufferOfParam);

    /// <summary>Executes one thread until it returns (Done) or passes a bar.sync (Pc after it).</summary>
    void RunUntilBarrier(BlockContext c, ThreadState t)
    {
        var code = c.Kernel.Instructions;
        var r = t.Regs;
        while (true)
        {
            if (t.Pc >= code.Count) throw new PtxException($"{c.Kernel.Name}: fell off the end without ret");
            if (++InstructionsExecuted > InstructionBudget)
                throw new PtxException($"{c.Kernel.Name}: more than {InstructionBudget} instructions executed (runaway loop?)");
            _executedAt[t.Pc]++;
            var ins = code[t.Pc++];
            _current = ins;
            if (ins.GuardRegister >= 0 && (ReadRegister(c, t, ins.GuardRegister, ins) != 0) == ins.GuardNegated) continue;
            var o = ins.Operands;
            var type = ins.Type;
            switch (ins.Op)
            {
                case PtxOp.Ret: t.Done = true; return;
                case PtxOp.BarSync: return;
                case PtxOp.Bra: t.Pc = o[0].Target; break;
                case PtxOp.Add: Set(r, o[0], type, Arith.Add(type, Read(c, t, o[1]), Read(c, t, o[2]))); break;
                case PtxOp.Sub: Set(r, o[0], type, Arith.Sub(type, Read(c, t, o[1]), Read(c, t, o[2]))); break;
                case PtxOp.Min: Set(r, o[0], type, Arith.MinMax(type, Read(c, t, o[1]), Read(c, t, o[2]), max: false)); break;
                case PtxOp.Max: Set(r, o[0], type, Arith.MinMax(type, Read(c, t, o[1]), Read(c, t, o[2]), max: true)); break;
                case PtxOp.Div: Set(r, o[0], type, Arith.DivRem(type, Read(c, t, o[1]), Read(c, t, o[2]), rem: false, ins)); break;
                case PtxOp.Rem: Set(r, o[0], type, Arith.DivRem(type, Read(c, t, o[1]), Read(c, t, o[2]), rem: true, ins)); break;
                case PtxOp.Mul:
                {
                    var (d, product) = Arith.Mul(type, ins.MulMode, Read(c, t, o[1]), Read(c, t, o[2]));
                    Set(r, o[0], d, product);
                    break;
                }
                case PtxOp.Mad:
                {
                    var (d, product) = Arith.Mul(type, ins.MulMode, Read(c, t, o[1]), Read(c, t, o[2]));
                    Set(r, o[0], d, Arith.Add(d, product, Read(c, t, o[3])));
                    break;
                }
                case PtxOp.Fma:
                    Set(r, o[0], type, Arith.F32Bits(MathF.FusedMultiplyAdd(Arith.F32(Read(c, t, o[1])), Arith.F32(Read(c, t, o[2])), Arith.F32(Read(c, t, o[3])))));
                    break;
                case PtxOp.Neg: Set(r, o[0], type, Arith.Neg(type, Read(c, t, o[1]))); break;
                // sqrt.rn.f32: IEEE's correctly rounded square root, as MathF.Sqrt (sqrtss) is.
                case PtxOp.Sqrt: Set(r, o[0], type, Arith.F32Bits(MathF.Sqrt(Arith.F32(Read(c, t, o[1]))))); break;
                case PtxOp.And: Set(r, o[0], type, Read(c, t, o[1]) & Read(c, t, o[2])); break;
                case PtxOp.Or: Set(r, o[0], type, Read(c, t, o[1]) | Read(c, t, o[2])); break;
                case PtxOp.Xor: Set(r, o[0], type, Read(c, t, o[1]) ^ Read(c, t, o[2])); break;
                case PtxOp.Not: Set(r, o[0], type, type == PtxType.Pred ? Read(c, t, o[1]) ^ 1 : ~Read(c, t, o[1])); break;
                case PtxOp.Shl: Set(r, o[0], type, Arith.Shl(type, Read(c, t, o[1]), (uint)Read(c, t, o[2]))); break;
                case PtxOp.Shr: Set(r, o[0], type, Arith.Shr(type, Read(c, t, o[1]), (uint)Read(c, t, o[2]))); break;
                case PtxOp.Setp: Set(r, o[0], PtxType.Pred, Arith.Compare(type, ins.Compare, Read(c, t, o[1]), Read(c, t, o[2])) ? 1UL : 0UL); break;
                case PtxOp.Selp: Set(r, o[0], type, Read(c, t, o[3]) != 0 ? Read(c, t, o[1]) : Read(c, t, o[2])); break;
                case PtxOp.Mov: Set(r, o[0], type, Read(c, t, o[1])); break;
                case PtxOp.Cvt: Set(r, o[0], type, Arith.Convert(type, ins.SourceType, Read(c, t, o[1]))); break;
                case PtxOp.Cvta: Set(r, o[0], type, Read(c, t, o[1])); break; // global addresses are generic addresses here
                case PtxOp.Ld: Set(r, o[0], type, Load(c, t, ins)); break;
                case PtxOp.St: Store(c, t, ins); break;
                default: throw new PtxException($"{ins}: no executor for {ins.Op}");
            }
            if (ins.Op != PtxOp.St && o.Length > 0 && o[0].Kind == PtxOperandKind.Register)
            {
                t.Written[o[0].Register] = true;
                t.Provenance[o[0].Register] = DerivedProvenance(c, t, ins);
            }
        }
    }

    /// <summary>
    /// Which pointer parameter's buffer the instruction's result points into: a parameter load gives its
    /// own; mov, cvta, add, sub, mad and selp pass on the one provenance among their register sources
    /// (two different ones, as in a pointer difference, give none); everything else gives none.
    /// </summary>
    static int DerivedProvenance(BlockContext c, ThreadState t, PtxInstruction ins)
    {
        var o = ins.Operands;
        if (ins.Op == PtxOp.Ld)
            return ins.Space == PtxSpace.Param && c.BufferOfParam.TryGetValue(o[1].Symbol!, out int b) ? b : -1;
        if (ins.Op is not (PtxOp.Mov or PtxOp.Cvta or PtxOp.Add or PtxOp.Sub or PtxOp.Mad or PtxOp.Selp)) return -1;
        int found = -1;
        for (int i = 1; i < o.Length; i++)
        {
            if (o[i].Kind != PtxOperandKind.Register || (ins.Op == PtxOp.Selp && i == 3)) continue;
            int p = t.Provenance[o[i].Register];
            if (p < 0) continue;
            if (found >= 0 && found != p) return -1;
            found = p;
        }
        return found;
    }

    static ulong ReadRegister(BlockContext c, ThreadState t, int register, PtxInstruction ins)
    {
        if (!t.Written[register])
            throw new PtxException($"{c.Kernel.Name}: {ins} reads {c.Kernel.RegisterNames[register]} before anything wrote it (thread {(t.Tx, t.Ty, t.Tz)}, block {c.Ctaid})");
        return t.Regs[register];
    }

    /// <summary>Writes a result, truncated to the destination width (32-bit values are kept zero-extended).</summary>
    static void Set(ulong[] regs, PtxOperand d, PtxType type, ulong value) =>
        regs[d.Register] = type.Bits() switch { 64 => value, 32 => value & 0xFFFF_FFFFUL, _ => value & 1UL };

    ulong Read(BlockContext c, ThreadState t, PtxOperand o) => o.Kind switch
    {
        PtxOperandKind.Register => ReadRegister(c, t, o.Register, _current!),
        PtxOperandKind.Immediate => o.Bits,
        PtxOperandKind.Special => (ulong)Special(c, t, o),
        PtxOperandKind.Symbol => (ulong)SharedOffset(c, o.Symbol!),
        _ => throw new PtxException($"operand {o} cannot be read as a value"),
    };

    static int Special(BlockContext c, ThreadState t, PtxOperand o) => (o.Special, o.Dim) switch
    {
        (PtxSpecial.Tid, 0) => t.Tx, (PtxSpecial.Tid, 1) => t.Ty, (PtxSpecial.Tid, _) => t.Tz,
        (PtxSpecial.Ntid, 0) => c.Block.X, (PtxSpecial.Ntid, 1) => c.Block.Y, (PtxSpecial.Ntid, _) => c.Block.Z,
        (PtxSpecial.Ctaid, 0) => c.Ctaid.X, (PtxSpecial.Ctaid, 1) => c.Ctaid.Y, (PtxSpecial.Ctaid, _) => c.Ctaid.Z,
        (PtxSpecial.Nctaid, 0) => c.Grid.X, (PtxSpecial.Nctaid, 1) => c.Grid.Y, _ => c.Grid.Z,
    };

    static int SharedOffset(BlockContext c, string name) =>
        c.Kernel.Shared.FirstOrDefault(s => s.Name == name)?.Offset ?? throw new PtxException($"unknown shared variable {name}");

    static ulong Address(BlockContext c, ThreadState t, PtxOperand a, PtxInstruction ins) =>
        (a.Symbol is null ? ReadRegister(c, t, a.Register, ins) : 0UL) + (ulong)a.Offset;

    /// <summary>A global address, checked against the buffer of the pointer parameter its register was derived from.</summary>
    static ulong GlobalAddress(BlockContext c, ThreadState t, PtxOperand a, int bytes, PtxInstruction ins)
    {
        if (a.Symbol is not null) throw new PtxException($"{c.Kernel.Name}: {ins}: a global access through a symbol is not supported");
        ulong address = Address(c, t, a, ins);
        int p = t.Provenance[a.Register];
        if (p < 0)
            throw new PtxException($"{c.Kernel.Name}: {ins}: global address 0x{address:X} in {c.Kernel.RegisterNames[a.Register]} is derived from no pointer parameter (thread {(t.Tx, t.Ty, t.Tz)}, block {c.Ctaid})");
        var b = c.Buffers[p];
        if (address < b.Start || address + (ulong)bytes > b.End)
            throw new PtxException($"{c.Kernel.Name}: {ins}: global address 0x{address:X} ({bytes} bytes) is outside the buffer {b.Param} points to [0x{b.Start:X}, 0x{b.End:X}) (thread {(t.Tx, t.Ty, t.Tz)}, block {c.Ctaid})");
        return address;
    }

    ulong Load(BlockContext c, ThreadState t, PtxInstruction ins)
    {
        var a = ins.Operands[1];
        int bytes = ins.Type.Bits() / 8;
        switch (ins.Space)
        {
            case PtxSpace.Param:
                if (a.Offset != 0) throw new PtxException($"{ins}: offsets into a parameter are not supported");
                return c.Params[a.Symbol!];
            case PtxSpace.Global:
                return memory.Load(GlobalAddress(c, t, a, bytes, ins), bytes);
            default:
                ulong address = a.Symbol is null ? Address(c, t, a, ins) : (ulong)(SharedOffset(c, a.Symbol) + a.Offset);
                var s = SharedSpan(c, address, bytes, ins);
                return bytes == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(s) : BinaryPrimitives.ReadUInt64LittleEndian(s);
        }
    }

    void Store(BlockContext c, ThreadState t, PtxInstruction ins)
    {
        var a = ins.Operands[0];
        ulong value = Read(c, t, ins.Operands[1]);
        int bytes = ins.Type.Bits() / 8;
        if (ins.Space == PtxSpace.Global)
        {
            memory.Store(GlobalAddress(c, t, a, bytes, ins), bytes, value);
            return;
        }
        ulong address = a.Symbol is null ? Address(c, t, a, ins) : (ulong)(SharedOffset(c, a.Symbol) + a.Offset);
        var s = SharedSpan(c, address, bytes, ins);
        if (bytes == 4) BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)value);
        else BinaryPrimitives.WriteUInt64LittleEndian(s, value);
    }

    static Span<byte> SharedSpan(BlockContext c, ulong address, int bytes, PtxInstruction ins)
    {
        if (address % (ulong)bytes != 0 || address + (ulong)bytes > (ulong)c.Kernel.SharedBytes)
            throw new PtxException($"{ins}: illegal shared address 0x{address:X} (shared size {c.Kernel.SharedBytes})");
        return c.Shared.AsSpan((int)address, bytes);
    }
}
