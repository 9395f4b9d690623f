using GpuConv.Tensors;
using GpuConv.Tests.Elementwise;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Upsampling;

/// <summary>
/// On a GPU host: Upsample and UpsampleBackward on a device engine (kernels/upsample.ptx through cuLaunchKernel on the
/// engine's stream) against the CPU engine bit for bit (NaN as NaN), every mode and rank; and the U-Net decoder step
/// (bilinear ×2, then into a given output) against the float64 reference. Skipped with discovery's reason when no GPU is
/// usable. Under the native fakes the kernels run in the PTX interpreter, so there this proves the launches (arguments,
/// pointers, stream order), not the device's arithmetic.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class UpsampleGpuTests : GpuAgainstCpuEngines
{
    public static IEnumerable<TestCaseData> Cases() => RandomUpsampleProblems.Cases(seeds: 2);

    [TestCaseSource(nameof(Cases))]
    public void UpsampleAndItsGradientMatchTheCpuEngine(UpsampleMode mode, int rank, int seed)
    {
        Assert.That(gpu.Memory.Kind, Is.EqualTo(MemoryKind.Device));
        var (spec, input) = RandomUpsampleProblems.Create(seed + 300, mode, rank);
        var x = new HostTensor(input, ElementwiseKernelTests.Values(input.ElementCountInt, seed + 1));
        var outShape = spec.OutputShape(input);
        var dy = new HostTensor(outShape, ElementwiseKernelTests.Values(outShape.ElementCountInt, seed + 2));
        using var gx = gpu.Upload(x);
        using var gdy = gpu.Upload(dy);
        using (var g = gpu.Upsample(spec, gx))
            Assert.That(Bits(gpu.Download(g).Data), Is.EqualTo(Bits(cpu.Download(cpu.Upsample(spec, cpu.Upload(x))).Data)), $"upsample {spec} on {input}");
        using (var g = gpu.UpsampleBackward(spec, gdy, input))
            Assert.That(Bits(gpu.Download(g).Data), Is.EqualTo(Bits(cpu.Download(cpu.UpsampleBackward(spec, cpu.Upload(dy), input)).Data)), $"backward {spec} on {input}");
    }

    [Test]
    public void ADecoderStepMatchesTheReference()
    {
        var spec = UpsampleSpec.ByScale(UpsampleMode.Bilinear, [2.0, 2.0]);
        var input = new TensorShape(2, 8, 12, 10);
        var x = HostTensor.Random(input, 1);
        using var gx = gpu.Upload(x);
        using var y = gpu.Allocate(spec.OutputShape(input));
        gpu.Upsample(spec, gx, y);
        var e = ErrorMetrics.Compare(gpu.Download(y).Data, ReferenceUpsample.Forward(spec, input, x.Data));
        Assert.That(e.MaxRelative, Is.LessThan(1e-6), e.ToString());
        var dy = HostTensor.Random(y.Shape, 2);
        using var gdy = gpu.Upload(dy);
        using var dx = gpu.UpsampleBackward(spec, gdy, input);
        var b = ErrorMetrics.Compare(gpu.Download(dx).Data, ReferenceUpsample.Backward(spec, input, dy.Data));
        Assert.That(b.MaxRelative, Is.LessThan(1e-6), b.ToString());
    }
}
