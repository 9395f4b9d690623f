using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Elementwise;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Padding;

/// <summary>
/// On a GPU host: Pad and PadBackward on a device engine (kernels/pad.ptx through cuLaunchKernel on the engine's
/// stream) against the CPU engine bit for bit (NaN as NaN), every mode and rank; and each mode's convolutions (forward
/// with bias and ReLU, backward-data accumulating, backward-filter) against the float64 reference. Skipped with
/// discovery's reason when no GPU is usable. Under the native fakes the kernels run in the PTX interpreter, so there
/// this proves the launches (arguments, pointers, stream order), not the device's arithmetic.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class PadGpuTests : GpuAgainstCpuEngines
{
    public static IEnumerable<TestCaseData> Cases() => PadKernelTests.Cases().Where((_, i) => i % 2 == 0);

    [TestCaseSource(nameof(Cases))]
    public void PadAndItsGradientMatchTheCpuEngine(PadMode mode, int rank, int seed)
    {
        Assert.That(gpu.Memory.Kind, Is.EqualTo(MemoryKind.Device));
        var (spec, input) = RandomPaddedProblems.CreatePad(seed + 300, mode, rank);
        var x = new HostTensor(input, ElementwiseKernelTests.Values(input.ElementCountInt, seed + 1));
        var outShape = spec.OutputShape(input);
        var dy = new HostTensor(outShape, ElementwiseKernelTests.Values(outShape.ElementCountInt, seed + 2));
        var held = HostTensor.Random(input, seed + 3);
        using var gx = gpu.Upload(x);
        using var gdy = gpu.Upload(dy);
        using var gheld = gpu.Upload(held);
        using (var g = gpu.Pad(spec, gx))
            Assert.That(Bits(gpu.Download(g).Data), Is.EqualTo(Bits(cpu.Download(cpu.Pad(spec, cpu.Upload(x))).Data)), $"pad {spec} on {input}");
        using (var g = gpu.PadBackward(spec, gdy, input))
            Assert.That(Bits(gpu.Download(g).Data), Is.EqualTo(Bits(cpu.Download(cpu.PadBackward(spec, cpu.Upload(dy), input)).Data)), $"backward {spec} on {input}");
        gpu.PadBackward(spec, gdy, input, gheld, accumulate: true);
        var cheld = cpu.Upload(held);
        cpu.PadBackward(spec, cpu.Upload(dy), input, cheld, accumulate: true);
        Assert.That(Bits(gpu.Download(gheld).Data), Is.EqualTo(Bits(cpu.Download(cheld).Data)), $"backward accumulate {spec} on {input}");
    }

    [TestCase(PaddingMode.Reflect, 2)]
    [TestCase(PaddingMode.Replicate, 3)]
    [TestCase(PaddingMode.Circular, 1)]
    [TestCase(PaddingMode.Circular, 2)]
    public void ConvolutionsWithAPaddingModeMatchTheReference(PaddingMode mode, int rank)
    {
        for (int seed = 0; seed < 3; seed++)
        {
            var p = RandomPaddedProblems.Create(seed + 700, mode, rank);
            var x = HostTensor.Random(p.XShape, seed + 1);
            var w = HostTensor.Random(p.WShape, seed + 2);
            var dy = HostTensor.Random(p.YShape, seed + 3);
            var bias = HostTensor.Random(new TensorShape(p.K), seed + 4);
            var held = HostTensor.Random(p.XShape, seed + 5);
            using var gx = gpu.Upload(x);
            using var gw = gpu.Upload(w);
            using var gdy = gpu.Upload(dy);
            using var gb = gpu.Upload(bias);
            using var gheld = gpu.Upload(held);
            using var y = gpu.ForwardBiasActivation(p.Spec, gx, gw, gb, Activation.Relu);
            gpu.BackwardData(p.Spec, gdy, gw, p.XShape, output: gheld, accumulate: true);
            using var dw = gpu.BackwardFilter(p.Spec, gx, gdy, p.WShape);
            Near(gpu.Download(y).Data, [.. ReferenceConv.Forward(p, x.Data, w.Data, bias.Data).Select(v => Math.Max(v, 0))], $"{p} forward + ReLU");
            var dxRef = ReferenceConv.BackwardData(p.WithOp(ConvOp.BackwardData), dy.Data, w.Data);
            Near(gpu.Download(gheld).Data, [.. dxRef.Select((v, i) => v + held.Data[i])], $"{p} backward-data accumulate");
            Near(gpu.Download(dw).Data, ReferenceConv.BackwardFilter(p.WithOp(ConvOp.BackwardFilter), x.Data, dy.Data), $"{p} backward-filter");
            // The HostTensor overloads take the same path through staged copies.
            Near(gpu.Forward(p.Spec, x, w, bias).Data, ReferenceConv.Forward(p, x.Data, w.Data, bias.Data), $"{p} host forward");
        }
    }

    static void Near(float[] actual, double[] expected, string what)
    {
        var e = ErrorMetrics.Compare(actual, expected);
        // TF32 is not allowed by default (ConvPrecision.Strict): fp32 throughout.
        Assert.That(e.MaxRelative, Is.LessThan(1e-4), $"{what}: {e}");
    }
}
