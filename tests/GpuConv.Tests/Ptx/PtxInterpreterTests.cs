namespace GpuConv.Tests.Ptx;

/// <summary>
/// The interpreter itself, on tiny hand-written PTX with expected values worked out by hand, so that
/// the kernel comparisons built on it can be trusted.
/// </summary>
public class PtxInterpreterTests
{
    const string Header = ".version 7.0\n.target sm_70\n.address_size 64\n";

    /// <summary>Wraps a body as kernel "k(out)" whose first lines load the out pointer into %out.</summary>
    static PtxKernel Kernel(string regs, string body) => PtxParser.Parse(Header + $$"""
        .visible .entry k(.param .u64 k_out)
        {
            .reg .b64 %out, %addr;
            {{regs}}
            ld.param.u64 %out, [k_out];
            cvta.to.global.u64 %out, %out;
            {{body}}
            ret;
        }
        """)["k"];

    static uint[] RunU32(PtxKernel k, int outputs, PtxDim3? grid = null, PtxDim3? block = null)
    {
        var mem = new PtxGlobalMemory();
        ulong p = mem.AllocatePoisoned(outputs);
        new PtxInterpreter(mem).Launch(k, grid ?? new(1), block ?? new(1), p);
        return mem.Download(p, outputs).Select(BitConverter.SingleToUInt32Bits).ToArray();
    }

    static string StoreU32(int slot, string reg) => $"st.global.u32 [%out+{slot * 4}], {reg};";

    [Test]
    public void IntegerArithmeticWrapsAndRoundsTowardZero()
    {
        var k = Kernel(".reg .b32 %a, %b, %d; .reg .b64 %w;", $"""
            mov.u32 %a, 0xFFFFFFFF;
            add.u32 %d, %a, 2;              {StoreU32(0, "%d")}
            mov.s32 %b, -7;
            div.s32 %d, %b, 2;              {StoreU32(1, "%d")}
            rem.s32 %d, %b, 2;              {StoreU32(2, "%d")}
            div.u32 %d, 7, 2;               {StoreU32(3, "%d")}
            shr.s32 %d, %b, 1;              {StoreU32(4, "%d")}
            shr.u32 %d, %b, 28;             {StoreU32(5, "%d")}
            shl.b32 %d, 3, 4;               {StoreU32(6, "%d")}
            mad.lo.s32 %d, %b, 3, 100;      {StoreU32(7, "%d")}
            mul.wide.s32 %w, %b, 65536;
            shr.s64 %w, %w, 16;
            cvt.u32.u64 %d, %w;             {StoreU32(8, "%d")}
            mul.wide.u32 %w, %a, %a;
            shr.u64 %w, %w, 32;
            cvt.u32.u64 %d, %w;             {StoreU32(9, "%d")}
            min.s32 %d, %b, 3;              {StoreU32(10, "%d")}
            min.u32 %d, %b, 3;              {StoreU32(11, "%d")}
            and.b32 %d, 12, 10;             {StoreU32(12, "%d")}
            or.b32 %d, 12, 10;              {StoreU32(13, "%d")}
            xor.b32 %d, 12, 10;             {StoreU32(14, "%d")}
            not.b32 %d, 0;                  {StoreU32(15, "%d")}
            """);
        var r = RunU32(k, 16);
        Assert.That(r[0], Is.EqualTo(1u), "0xFFFFFFFF + 2 wraps to 1");
        Assert.That((int)r[1], Is.EqualTo(-3), "-7 / 2 truncates toward zero");
        Assert.That((int)r[2], Is.EqualTo(-1), "-7 % 2 takes the dividend's sign");
        Assert.That(r[3], Is.EqualTo(3u));
        Assert.That((int)r[4], Is.EqualTo(-4), "arithmetic shift of -7 right by 1 is floor(-3.5)");
        Assert.That(r[5], Is.EqualTo(0xFu), "logical shift of 0xFFFFFFF9 right by 28");
        Assert.That(r[6], Is.EqualTo(48u));
        Assert.That((int)r[7], Is.EqualTo(79), "-7*3 + 100");
        Assert.That((int)r[8], Is.EqualTo(-7), "(-7 * 65536 as s64) >> 16");
        Assert.That(r[9], Is.EqualTo(0xFFFFFFFEu), "high word of (2^32-1)^2 = 2^64 - 2^33 + 1");
        Assert.That((int)r[10], Is.EqualTo(-7));
        Assert.That(r[11], Is.EqualTo(3u), "unsigned min sees -7 as 0xFFFFFFF9");
        Assert.That(r[12..16], Is.EqualTo(new uint[] { 8, 14, 6, 0xFFFFFFFF }));
    }

    [Test]
    public void MulHiKeepsTheHighHalfOfTheDoubleWidthProduct()
    {
        var k = Kernel(".reg .b32 %a, %b, %d; .reg .b64 %w, %v;", $"""
            mov.u32 %a, 0xFFFFFFFF;
            mul.hi.u32 %d, %a, %a;          {StoreU32(0, "%d")}
            mul.hi.s32 %d, %a, %a;          {StoreU32(1, "%d")}
            mov.s32 %b, -7;
            mul.hi.s32 %d, %b, 0x40000000;  {StoreU32(2, "%d")}
            mul.hi.u32 %d, %b, 0x40000000;  {StoreU32(3, "%d")}
            mad.hi.u32 %d, %a, %a, 5;       {StoreU32(4, "%d")}
            mad.hi.u32 %d, %a, 3, %a;       {StoreU32(5, "%d")}
            mov.u64 %w, 0xFFFFFFFFFFFFFFFF;
            mul.hi.u64 %v, %w, %w;
            cvt.u32.u64 %d, %v;             {StoreU32(6, "%d")}
            shr.u64 %v, %v, 32;
            cvt.u32.u64 %d, %v;             {StoreU32(7, "%d")}
            mul.hi.s64 %v, %w, %w;
            cvt.u32.u64 %d, %v;             {StoreU32(8, "%d")}
            """);
        var r = RunU32(k, 9);
        Assert.That(r[0], Is.EqualTo(0xFFFFFFFEu), "(2^32-1)^2 = 2^64 - 2^33 + 1: high word 2^32 - 2");
        Assert.That(r[1], Is.EqualTo(0u), "as .s32 the operands are -1: (-1)(-1) = 1, high word 0");
        Assert.That((int)r[2], Is.EqualTo(-2), "-7 * 2^30 = -7.5 * 2^32 as s64: high word floor(-1.75) = -2");
        Assert.That(r[3], Is.EqualTo(0x3FFFFFFEu), "0xFFFFFFF9 * 2^30 >> 32 = 0x3FFFFFFE (unsigned)");
        Assert.That(r[4], Is.EqualTo(3u), "mad.hi adds to the high half: 0xFFFFFFFE + 5 wraps to 3");
        Assert.That(r[5], Is.EqualTo(1u), "hi((2^32-1)*3) = 2, plus 2^32-1 wraps at 32 bits to 1");
        Assert.That(r[6..8], Is.EqualTo(new uint[] { 0xFFFFFFFE, 0xFFFFFFFF }), "(2^64-1)^2: high half 2^64 - 2");
        Assert.That(r[8], Is.EqualTo(0u), "as .s64 the operands are -1: high half 0");
    }

    [Test]
    public void SetpSelpAndPredicatedBranchesRunALoop()
    {
        // sum = 1 + 2 + … + 10 via a backward branch; then selp/negated guards pick constants.
        var k = Kernel(".reg .b32 %i, %sum, %d; .reg .pred %p, %q;", $"""
            mov.u32 %i, 1;
            mov.u32 %sum, 0;
            $LOOP:
            add.u32 %sum, %sum, %i;
            add.u32 %i, %i, 1;
            setp.le.u32 %p, %i, 10;
            @%p bra $LOOP;
            {StoreU32(0, "%sum")}
            setp.lt.s32 %p, -1, 0;
            setp.lt.u32 %q, -1, 0;
            selp.b32 %d, 111, 222, %p;      {StoreU32(1, "%d")}
            selp.b32 %d, 111, 222, %q;      {StoreU32(2, "%d")}
            mov.u32 %d, 5;
            @!%p mov.u32 %d, 6;             {StoreU32(3, "%d")}
            @!%q mov.u32 %d, 7;             {StoreU32(4, "%d")}
            and.pred %p, %p, %q;
            selp.b32 %d, 1, 0, %p;          {StoreU32(5, "%d")}
            not.pred %p, %p;
            selp.b32 %d, 1, 0, %p;          {StoreU32(6, "%d")}
            """);
        var r = RunU32(k, 7);
        Assert.That(r, Is.EqualTo(new uint[] { 55, 111, 222, 5, 7, 0, 1 }));
    }

    [Test]
    public void ConversionsExtendTruncateAndRound()
    {
        var k = Kernel(".reg .b32 %a, %d; .reg .b64 %w; .reg .f32 %f;", $"""
            mov.u32 %a, 0xFFFFFFFF;
            cvt.u64.u32 %w, %a;
            shr.u64 %w, %w, 4;
            cvt.u32.u64 %d, %w;             {StoreU32(0, "%d")}
            cvt.s64.s32 %w, %a;
            shr.u64 %w, %w, 4;
            cvt.u32.u64 %d, %w;             {StoreU32(1, "%d")}
            mov.s32 %a, -3;
            cvt.rn.f32.s32 %f, %a;          st.global.f32 [%out+8], %f;
            mov.u32 %a, 16777217;
            cvt.rn.f32.u32 %f, %a;          st.global.f32 [%out+12], %f;
            mov.f32 %f, 0fC02CCCCD;
            cvt.rzi.s32.f32 %d, %f;         {StoreU32(4, "%d")}
            mov.f32 %f, 0f7F800000;
            cvt.rzi.s32.f32 %d, %f;         {StoreU32(5, "%d")}
            """);
        var r = RunU32(k, 6);
        Assert.That(r[0], Is.EqualTo(0x0FFFFFFFu), "zero-extension: 0x00000000_FFFFFFFF >> 4 shifts zeros into the low word");
        Assert.That(r[1], Is.EqualTo(0xFFFFFFFFu), "sign-extension: 0xFFFFFFFF_FFFFFFFF >> 4 shifts ones into the low word");
        Assert.That(BitConverter.UInt32BitsToSingle(r[2]), Is.EqualTo(-3f));
        Assert.That(BitConverter.UInt32BitsToSingle(r[3]), Is.EqualTo(16777216f), "2^24 + 1 rounds to even 2^24");
        Assert.That((int)r[4], Is.EqualTo(-2), "-2.7 truncates to -2");
        Assert.That((int)r[5], Is.EqualTo(int.MaxValue), "+inf saturates");
    }

    [Test]
    public void FmaRoundsOnceWhileMulThenAddRoundsTwice()
    {
        // a = 1 + 2^-23, b = 1 - 2^-23: a*b = 1 - 2^-46 exactly. mul.rn rounds it to 1 (the spacing
        // below 1 is 2^-24), so mul then add of -1 gives 0; fma keeps -2^-46 (0xA8800000).
        var k = Kernel(".reg .f32 %a, %b, %c, %d;", """
            mov.f32 %a, 0f3F800001;
            mov.f32 %b, 0f3F7FFFFE;
            mov.f32 %c, 0fBF800000;
            fma.rn.f32 %d, %a, %b, %c;      st.global.f32 [%out], %d;
            mul.rn.f32 %d, %a, %b;
            add.rn.f32 %d, %d, %c;          st.global.f32 [%out+4], %d;
            max.f32 %d, %c, 0f7FC00000;     st.global.f32 [%out+8], %d;
            sub.rn.f32 %d, %c, %a;          st.global.f32 [%out+12], %d;
            """);
        var r = RunU32(k, 4);
        Assert.That(r[0], Is.EqualTo(0xA8800000u), "fma result is -2^-46");
        Assert.That(r[1], Is.EqualTo(0u), "two roundings lose it");
        Assert.That(BitConverter.UInt32BitsToSingle(r[2]), Is.EqualTo(-1f), "max with NaN returns the other operand");
        Assert.That(BitConverter.UInt32BitsToSingle(r[3]), Is.EqualTo(-2f - MathF.Pow(2, -23)), "-1 - (1 + 2^-23) is exact");
    }

    [Test]
    public void SqrtIsIeeesCorrectlyRoundedSquareRoot()
    {
        // sqrt(2) = 1.41421354 (0x3FB504F3, correctly rounded); sqrt(-0) = -0; sqrt(-1) = NaN; sqrt(+inf) = +inf;
        // the smallest subnormal 2^-149 has sqrt 2^-74.5 (a normal float), as MathF.Sqrt gives it.
        var k = Kernel(".reg .f32 %d;", """
            sqrt.rn.f32 %d, 0f40000000;     st.global.f32 [%out], %d;
            sqrt.rn.f32 %d, 0f80000000;     st.global.f32 [%out+4], %d;
            sqrt.rn.f32 %d, 0fBF800000;     st.global.f32 [%out+8], %d;
            sqrt.rn.f32 %d, 0f7F800000;     st.global.f32 [%out+12], %d;
            sqrt.rn.f32 %d, 0f00000001;     st.global.f32 [%out+16], %d;
            """);
        var r = RunU32(k, 5);
        Assert.That(r[0], Is.EqualTo(0x3FB504F3u), "sqrt(2)");
        Assert.That(r[1], Is.EqualTo(0x80000000u), "sqrt(-0) = -0");
        Assert.That(float.IsNaN(BitConverter.UInt32BitsToSingle(r[2])), "sqrt(-1) is NaN");
        Assert.That(r[3], Is.EqualTo(0x7F800000u), "sqrt(+inf)");
        Assert.That(r[4], Is.EqualTo(0x1A3504F3u), "sqrt of the smallest subnormal");
    }

    [Test]
    public void SpecialRegistersNumberEveryThreadOfA2dGrid()
    {
        // out[flat] = flat + 1000·tid.y where flat = (ctaid.x·ntid.x + tid.x) + 6·… — grid 3 blocks of (2, 2).
        var k = Kernel(".reg .b32 %tx, %ty, %bx, %nx, %flat, %v;", """
            mov.u32 %tx, %tid.x;
            mov.u32 %ty, %tid.y;
            mov.u32 %bx, %ctaid.x;
            mov.u32 %nx, %ntid.x;
            mad.lo.u32 %flat, %bx, %nx, %tx;
            mad.lo.u32 %flat, %ty, 6, %flat;
            mad.lo.u32 %v, %ty, 1000, %flat;
            mul.wide.u32 %addr, %flat, 4;
            add.u64 %addr, %addr, %out;
            st.global.u32 [%addr], %v;
            """);
        var r = RunU32(k, 12, grid: new PtxDim3(3), block: new PtxDim3(2, 2));
        Assert.That(r, Is.EqualTo(new uint[] { 0, 1, 2, 3, 4, 5, 1006, 1007, 1008, 1009, 1010, 1011 }));
    }

    [Test]
    public void BarrierPhasesMakeSharedMemoryVisibleToTheWholeBlock()
    {
        // Each thread stores tid+1 to shared[tid]; after bar.sync it reads shared[ntid-1-tid]. Without real
        // barrier phases, thread 0 would read a slot no one had written yet (0).
        var k = Kernel(".reg .b32 %t, %n, %s, %v, %base; .shared .align 4 .b32 buf[8];", """
            mov.u32 %t, %tid.x;
            mov.u32 %n, %ntid.x;
            mov.u32 %base, buf;
            shl.b32 %s, %t, 2;
            add.u32 %s, %s, %base;
            add.u32 %v, %t, 1;
            st.shared.u32 [%s], %v;
            bar.sync 0;
            sub.u32 %s, %n, %t;
            sub.u32 %s, %s, 1;
            shl.b32 %s, %s, 2;
            add.u32 %s, %s, %base;
            ld.shared.u32 %v, [%s];
            mul.wide.u32 %addr, %t, 4;
            add.u64 %addr, %addr, %out;
            st.global.u32 [%addr], %v;
            """);
        Assert.That(RunU32(k, 8, block: new PtxDim3(8)), Is.EqualTo(new uint[] { 8, 7, 6, 5, 4, 3, 2, 1 }));
    }

    [TestCase("atom.global.add.f32 %f, [%out], %f;", "unsupported instruction")]
    [TestCase("add.f32 %f, %f, %f;", ".rn")]
    [TestCase("add.u32 %f, %f, 1;", "not usable as .u32")]
    [TestCase("add.u32 %nope, %nope, 1;", "undeclared register")]
    [TestCase("mov.f32 %f, 1.5;", "0fXXXXXXXX")]
    [TestCase("ld.global.f32 %f, [%r];", "64-bit")]
    [TestCase("setp.lt.u32.and %p, %r, 1;", "not supported")]
    [TestCase("bra $NOWHERE;", "undefined label")]
    [TestCase("cvt.f32.s32 %f, %r;", ".rn")]
    [TestCase("mul.hi.f32 %f, %f, %f;", "integer type")]
    [TestCase("mul.hi.u64 %r, %r, %r;", "not usable as .u64")]
    [TestCase("mul.u32 %r, %r, %r;", ".lo, .hi or .wide")]
    [TestCase("sqrt.approx.f32 %f, %f;", "sqrt needs .rn")]
    [TestCase("sqrt.rn.u32 %r, %r;", "f32 only")]
    public void UnsupportedOrIllTypedPtxIsRejectedAtParseTime(string line, string why)
    {
        var ex = Assert.Throws<PtxException>(() => Kernel(".reg .b32 %r; .reg .f32 %f; .reg .pred %p;", line));
        Assert.That(ex!.Message, Does.Contain(why));
    }

    [Test]
    public void NonAsciiTextIsRejectedEvenInComments()
    {
        var ex = Assert.Throws<PtxException>(() => Kernel("", "// x\u00b7y"));
        Assert.That(ex!.Message, Does.Contain("non-ASCII"));
    }

    [Test]
    public void OutOfBoundsStoreFaults()
    {
        var k = Kernel(".reg .b32 %r;", "st.global.u32 [%out+4], 1;");
        var ex = Assert.Throws<PtxException>(() => RunU32(k, 1));
        Assert.That(ex!.Message, Does.Contain("outside the buffer k_out points to"));
    }

    /// <summary>k(out, other): two pointer parameters, so an access can stray from one buffer into the other.</summary>
    static PtxKernel TwoBufferKernel(string body) => PtxParser.Parse(Header + $$"""
        .visible .entry k(.param .u64 k_out, .param .u64 k_other)
        {
            .reg .b64 %out, %other, %addr, %n;
            .reg .b32 %r;
            ld.param.u64 %out, [k_out];
            ld.param.u64 %other, [k_other];
            {{body}}
            ret;
        }
        """)["k"];

    static PtxException RunTwoBuffers(string body, out float[] other)
    {
        var mem = new PtxGlobalMemory();
        ulong outPtr = mem.AllocatePoisoned(4), otherPtr = mem.AllocatePoisoned(4);
        Assert.That(otherPtr - outPtr, Is.EqualTo(256UL), "the two buffers are adjacent 256-byte allocations");
        var ex = Assert.Throws<PtxException>(() => new PtxInterpreter(mem).Launch(TwoBufferKernel(body), new(1), new(1), outPtr, otherPtr))!;
        other = mem.Download(otherPtr, 4);
        return ex;
    }

    [Test]
    public void AStoreThroughOnePointerIntoAnotherBufferFaults()
    {
        // out + 256 is other's first element: a real allocation, but not the one out points to.
        var ex = RunTwoBuffers("st.global.u32 [%out+256], 1;", out var other);
        Assert.That(ex.Message, Does.Contain("outside the buffer k_out points to"));
        Assert.That(float.IsNaN(other[0]), "the stray store did not land");
        ex = RunTwoBuffers("add.s64 %addr, %out, 260; ld.global.u32 %r, [%addr];", out _);
        Assert.That(ex.Message, Does.Contain("outside the buffer k_out points to"));
    }

    [Test]
    public void AnAddressDerivedFromNoPointerParameterFaults()
    {
        // The other buffer's address typed in as a number: it is valid memory, but no parameter points there.
        var ex = RunTwoBuffers("mov.u64 %addr, 512; st.global.u32 [%addr], 1;", out var other);
        Assert.That(ex.Message, Does.Contain("derived from no pointer parameter"));
        Assert.That(float.IsNaN(other[0]));
        // A pointer difference is a number, not a pointer into either buffer.
        ex = RunTwoBuffers("sub.s64 %n, %other, %out; st.global.u32 [%n], 1;", out _);
        Assert.That(ex.Message, Does.Contain("derived from no pointer parameter"));
    }

    [Test]
    public void AccessBelowThePointerPassedFaults()
    {
        // The pointer passed is 8 bytes into its allocation: the 8 bytes before it are not the kernel's to touch.
        var k = Kernel("", "sub.s64 %addr, %out, 4; st.global.u32 [%addr], 1;");
        var mem = new PtxGlobalMemory();
        ulong p = mem.AllocatePoisoned(4);
        var ex = Assert.Throws<PtxException>(() => new PtxInterpreter(mem).Launch(k, new(1), new(1), p + 8))!;
        Assert.That(ex.Message, Does.Contain("outside the buffer k_out points to"));
    }

    [Test]
    public void PointerProvenanceFollowsArithmetic()
    {
        // mad.wide, add, selp and mov all keep the buffer; a store through each lands where expected.
        var k = Kernel(".reg .b32 %i; .reg .b64 %a, %b; .reg .pred %p;", """
            mov.u32 %i, 2;
            mad.wide.u32 %a, %i, 4, %out;
            st.global.u32 [%a], 7;
            setp.eq.u32 %p, %i, 2;
            add.s64 %b, %out, 12;
            selp.b64 %a, %b, %out, %p;
            mov.b64 %b, %a;
            st.global.u32 [%b], 9;
            """);
        Assert.That(RunU32(k, 4).Skip(2), Is.EqualTo(new uint[] { 7, 9 }));
    }

    [TestCase("add.u32 %d, %a, 1;", "%a")]
    [TestCase("@%p add.u32 %d, %d, 1;", "%p")]
    [TestCase("mov.u32 %a, 1; add.u32 %d, %a, %d;", "%d")]
    [TestCase("st.global.u32 [%addr], 1;", "%addr")]
    public void ReadingAnUnwrittenRegisterIsAnError(string body, string register)
    {
        // On a GPU the register would hold whatever was there; here it is an error that names it.
        var k = Kernel(".reg .b32 %a, %d; .reg .pred %p;", body);
        var ex = Assert.Throws<PtxException>(() => RunU32(k, 1))!;
        Assert.That(ex.Message, Does.Contain($"reads {register} before anything wrote it"));
    }

    [Test]
    public void ReturningWhileOthersWaitAtABarrierIsReported()
    {
        var k = Kernel(".reg .b32 %t; .reg .pred %p;", """
            mov.u32 %t, %tid.x;
            setp.eq.u32 %p, %t, 0;
            @%p bra $OUT;
            bar.sync 0;
            $OUT:
            """);
        var ex = Assert.Throws<PtxException>(() => RunU32(k, 1, block: new PtxDim3(4)));
        Assert.That(ex!.Message, Does.Contain("bar.sync"));
    }

    [Test]
    public void RunawayLoopHitsTheInstructionBudget()
    {
        var k = Kernel("", "$SPIN: bra $SPIN;");
        var mem = new PtxGlobalMemory();
        ulong p = mem.Allocate(4);
        var interp = new PtxInterpreter(mem) { InstructionBudget = 10_000 };
        Assert.Throws<PtxException>(() => interp.Launch(k, new(1), new(1), p));
    }
}
