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
/// </summary>
public sealed class PtxInterpreter(PtxGlobalMemory memory)
{
    /// <summary>Upper bound on executed instructions per launch: a runaway loop fails instead of hanging.</summary>
    public long InstructionBudget { get; set; } = 2_000_000_000;

    public long InstructionsExecuted { get; private set; }

    sealed class ThreadState(int registers)
    {
        public readonly ulong[] Regs = new ulong[registers];
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
        if (grid.Count < 1 || block.Count < 1 || block.Count > 1024)
            throw new PtxException($"bad launch shape grid {grid} block {block}");
        InstructionsExecuted = 0;
        for (int bz = 0; bz < grid.Z; bz++)
        for (int by = 0; by < grid.Y; by++)
        for (int bx = 0; bx < grid.X; bx++)
            RunBlock(kernel, grid, block, (bx, by, bz), param);
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

    void RunBlock(PtxKernel kernel, PtxDim3 grid, PtxDim3 block, (int X, int Y, int Z) ctaid, Dictionary<string, ulong> param)
    {
        // Shared memory starts as all-ones bytes (a NaN as f32), as on a GPU it starts as garbage, not zero.
        var shared = new byte[Math.Max(1, kernel.SharedBytes)];
        shared.AsSpan().Fill(0xFF);
        var threads = new List<ThreadState>();
        for (int z = 0; z < block.Z; z++)
        for (int y = 0; y < block.Y; y++)
        for (int x = 0; x < block.X; x++)
            threads.Add(new ThreadState(kernel.RegisterTypes.Count) { Tx = x, Ty = y, Tz = z });
        var context = new BlockContext(kernel, grid, block, ctaid, param, shared);

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
        Dictionary<string, ulong> Params, byte[] Shared);

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
            var ins = code[t.Pc++];
            if (ins.GuardRegister >= 0 && (r[ins.GuardRegister] != 0) == ins.GuardNegated) continue;
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
        }
    }

    /// <summary>Writes a result, truncated to the destination width (32-bit values are kept zero-extended).</summary>
    static void Set(ulong[] regs, PtxOperand d, PtxType type, ulong value) =>
        regs[d.Register] = type.Bits() switch { 64 => value, 32 => value & 0xFFFF_FFFFUL, _ => value & 1UL };

    static ulong Read(BlockContext c, ThreadState t, PtxOperand o) => o.Kind switch
    {
        PtxOperandKind.Register => t.Regs[o.Register],
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

    static ulong Address(BlockContext c, ThreadState t, PtxOperand a) =>
        (a.Symbol is null ? t.Regs[a.Register] : 0UL) + (ulong)a.Offset;

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
                return memory.Load(Address(c, t, a), bytes);
            default:
                ulong address = a.Symbol is null ? Address(c, t, a) : (ulong)(SharedOffset(c, a.Symbol) + a.Offset);
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
            memory.Store(Address(c, t, a), bytes, value);
            return;
        }
        ulong address = a.Symbol is null ? Address(c, t, a) : (ulong)(SharedOffset(c, a.Symbol) + a.Offset);
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
