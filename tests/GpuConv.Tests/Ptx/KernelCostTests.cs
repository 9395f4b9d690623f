using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Ptx;

/// <summary>
/// Speed evidence without a GPU: the interpreter counts the PTX instructions each index path executes per
/// element on a ResNet-50 3x3 layer (64 channels, 14x14, pad 1, one image) with the backend's launch shape
/// (256-thread blocks, one thread per element; for im2col's 32-bit path one per output position, for
/// depthwise's one per 4 outputs of a row; costs are per element, i.e. per output for depthwise). The
/// 64-bit path is the kernels' previous loop unchanged, launched as before, so it stands for "before". A PTX div/rem is one instruction here but many on a GPU, so the comparison
/// weighs them as the GPU's emulation does (about 70 machine instructions for div.u64, 20 for a 32-bit
/// div or rem; ptxas 11.8, sm_90), ld.param as 0 (a constant-bank operand in machine code) and everything
/// else as 1. Printed per kernel; kernels/README.md records the numbers.
/// </summary>
public class KernelCostTests
{
    const int Block = 256;

    /// <summary>Per element: PTX instructions, of them div/rem, and the weighted (machine-instruction-like) cost.</summary>
    internal readonly record struct Cost(double Ptx, double Divisions, double Weighted)
    {
        public override string ToString() => $"{Ptx:0.0} PTX, {Divisions:0.00} div/rem, {Weighted:0.0} weighted";
    }

    static Cost Measure(PtxInterpreter interpreter, long elements)
    {
        double divisions = 0, weighted = 0;
        foreach (var (opcode, count) in interpreter.ExecutedByOpcode())
        {
            int weight = opcode switch
            {
                // Parameters are constant-bank operands in machine code (cuobjdump shows no load for them).
                _ when opcode.StartsWith("ld.param", StringComparison.Ordinal) => 0,
                "div.u64" or "rem.u64" or "div.s64" or "rem.s64" => 70,
                _ when opcode.StartsWith("div.", StringComparison.Ordinal) || opcode.StartsWith("rem.", StringComparison.Ordinal) => 20,
                _ => 1,
            };
            if (weight > 1) divisions += count;
            weighted += (double)weight * count;
        }
        return new Cost((double)interpreter.InstructionsExecuted / elements, divisions / elements, weighted / elements);
    }

    static PtxDim3 GridFor(long elements) => new((int)((elements + Block - 1) / Block));

    static readonly ConvProblem Layer = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(1, 64, 14, 14), new TensorShape(64, 64, 3, 3));
    static readonly ConvProblem DepthwiseLayer = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1], groups: 64), new TensorShape(1, 64, 14, 14), new TensorShape(64, 1, 3, 3));

    internal static (Cost Fast, Cost Wide) Im2Col()
    {
        var rng = new Random(11);
        long count = PtxConvBackend.ColumnBytesPerImage(Layer) / sizeof(float);
        var mem = new PtxGlobalMemory();
        ulong x = mem.Upload(RandomConvProblems.RandomData(rng, Layer.XShape.ElementCount)), col = mem.AllocatePoisoned((int)count);
        return (Run(false), Run(true));

        Cost Run(bool force64)
        {
            var interpreter = new PtxInterpreter(mem);
            // The 32-bit path as the backend launches it (a thread per output position), the 64-bit one as
            // the previous backend did (a thread per column element).
            var grid = GridFor(force64 ? count : PtxKernelArguments.Im2ColThreads(Layer, 1));
            interpreter.Launch(ShippedKernels.Get("im2col.ptx", "im2col_f32"), grid, new(Block), PtxKernelArguments.Im2Col(Layer, x, col, 1, force64));
            return Measure(interpreter, count);
        }
    }

    internal static (Cost Fast, Cost Wide) Col2Im()
    {
        var rng = new Random(12);
        var p = Layer.WithOp(ConvOp.BackwardData);
        long count = p.XShape.ElementCount;
        var mem = new PtxGlobalMemory();
        ulong col = mem.Upload(RandomConvProblems.RandomData(rng, PtxConvBackend.ColumnBytesPerImage(p) / sizeof(float))), dx = mem.AllocatePoisoned((int)count);
        return (Run(false), Run(true));

        Cost Run(bool force64)
        {
            var interpreter = new PtxInterpreter(mem);
            interpreter.Launch(ShippedKernels.Get("col2im.ptx", "col2im_f32"), GridFor(count), new(Block), PtxKernelArguments.Col2Im(p, col, dx, 1, force64));
            return Measure(interpreter, count);
        }
    }

    internal static (Cost Fast, Cost Wide) Depthwise() => Depthwise(DepthwiseLayer);

    /// <summary>
    /// depthwise_fwd_f32 per output on <paramref name="p"/>: the 32-bit path as the backend launches it (a
    /// thread per row group of 4 outputs), the 64-bit path one thread per output (the kernel's first version).
    /// </summary>
    internal static (Cost Fast, Cost Wide) Depthwise(ConvProblem p, PtxKernel? kernel = null, Func<ConvProblem, ulong, ulong, ulong, ulong, bool, object[]>? arguments = null, long? fastThreads = null)
    {
        var rng = new Random(13);
        long count = p.YShape.ElementCount;
        var mem = new PtxGlobalMemory();
        ulong x = mem.Upload(RandomConvProblems.RandomData(rng, p.XShape.ElementCount)), w = mem.Upload(RandomConvProblems.RandomData(rng, p.WShape.ElementCount));
        ulong bias = mem.Upload(RandomConvProblems.RandomData(rng, p.K)), y = mem.AllocatePoisoned((int)count);
        kernel ??= ShippedKernels.Get("depthwise.ptx", "depthwise_fwd_f32");
        arguments ??= PtxKernelArguments.Depthwise;
        return (Run(false), Run(true));

        Cost Run(bool force64)
        {
            var interpreter = new PtxInterpreter(mem);
            var grid = GridFor(force64 ? count : fastThreads ?? PtxKernelArguments.DepthwiseThreads(p));
            interpreter.Launch(kernel, grid, new(Block), arguments(p, x, w, bias, y, force64));
            return Measure(interpreter, count);
        }
    }

    /// <summary>MobileNetV2's depthwise layer shapes (3x3, pad 1, batch 1), channels cut: per-output costs do not depend on them.</summary>
    internal static readonly (string Name, ConvProblem Problem)[] MobileNetLayers =
    [
        ("112x112 s1", DepthwiseOf(4, 112, 1)),
        ("112x112 s2", DepthwiseOf(4, 112, 2)),
        ("28x28 s1", DepthwiseOf(16, 28, 1)),
        ("14x14 s1", DepthwiseOf(64, 14, 1)),
        ("14x14 s2", DepthwiseOf(64, 14, 2)),
        ("7x7 s1", DepthwiseOf(96, 7, 1)),
    ];

    static ConvProblem DepthwiseOf(int c, int size, int stride) => ConvProblem.Create(
        new ConvSpec([3, 3], stride: [stride], padBegin: [1], groups: c), new TensorShape(1, c, size, size), new TensorShape(c, 1, 3, 3));

    /// <summary>
    /// The 32-bit path of the previous depthwise kernel (one thread per output) measured 300 PTX and 264
    /// weighted instructions per output on <see cref="DepthwiseLayer"/> (kernels/README.md); with 4 outputs
    /// per thread the index setup, filter loads and (for 3-wide rows) most input loads are shared.
    /// </summary>
    [Test]
    public void DepthwiseFourOutputsPerThreadCostUnderFortyPercentOfOneOutputPerThread()
    {
        const double PreviousWeighted = 264;
        foreach (var (name, p) in MobileNetLayers)
        {
            var (fast, wide) = Depthwise(p);
            TestContext.Out.WriteLine($"depthwise {name,-11} 32-bit path: {fast}; 64-bit path (one output per thread): {wide}");
            Assert.That(fast.Divisions, Is.Zero, name);
            Assert.That(fast.Weighted, Is.LessThan(PreviousWeighted * 0.4), $"{name}: {fast}");
        }
    }

    [Test]
    public void The32BitPathDividesByMultiplyingAndCostsAFractionOfThe64BitOne()
    {
        foreach (var (name, (fast, wide), atMost) in new[]
        {
            // Bounds with headroom over the measured ratios (kernels/README.md), so a regression shows.
            ("im2col", Im2Col(), 0.15),
            ("col2im", Col2Im(), 0.5),
            ("depthwise", Depthwise(), 0.2),
        })
        {
            TestContext.Out.WriteLine($"{name,-10} 32-bit path: {fast}; 64-bit path (the previous loop): {wide}; weighted ratio {fast.Weighted / wide.Weighted:0.00}");
            Assert.That(fast.Divisions, Is.Zero, $"{name}: no div/rem on the 32-bit path");
            Assert.That(wide.Divisions, Is.GreaterThan(0), $"{name}: the 64-bit path still divides");
            Assert.That(fast.Weighted, Is.LessThan(atMost * wide.Weighted), $"{name}: {fast} vs {wide}");
        }
    }
}
