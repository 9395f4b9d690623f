using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Padding;

/// <summary>
/// <see cref="ConvSpec.PaddingMode"/>: PyTorch's rules refused before any work with the field and values named
/// (transposed takes zeros only; reflect pad &lt; size; circular pad ≤ size), and the mode in equality, hash and text.
/// </summary>
public class PaddingModeSpecTests
{
    [Test]
    public void ATransposedConvolutionTakesZerosOnly()
    {
        ExpectArgument.Throws(() => new ConvSpec([3], padBegin: [1], transposed: true, paddingMode: PaddingMode.Reflect), "paddingMode", "Reflect", "transposed", "zeros");
        var reflect = new ConvSpec([3, 3], [2, 2], padBegin: [1], paddingMode: PaddingMode.Replicate);
        ExpectArgument.Throws(() => reflect.AsTransposed(), "paddingMode", "Replicate");
        Assert.That(new ConvSpec([3], transposed: true).PaddingMode, Is.EqualTo(PaddingMode.Zeros));
        ExpectArgument.Throws(() => new ConvSpec([3], paddingMode: (PaddingMode)5), "paddingMode", "5");
    }

    [Test]
    public void TheInputMustBeLargeEnoughForTheMode()
    {
        var w = new TensorShape(2, 1, 3, 3);
        // Reflect: pad < size (pad 3 on a size-3 dimension is refused, 2 is fine).
        var reflect = new ConvSpec([3, 3], padBegin: [1, 3], padEnd: [1, 0], paddingMode: PaddingMode.Reflect);
        ExpectArgument.Throws(() => ConvProblem.Create(reflect, new TensorShape(1, 1, 8, 3), w), "input", "Reflect", "padBegin[1] = 3", "size 3");
        Assert.That(ConvProblem.Create(reflect, new TensorShape(1, 1, 8, 4), w).YShape, Is.EqualTo(new TensorShape(1, 2, 8, 5)));
        // Circular: pad <= size.
        var circular = new ConvSpec([3], padBegin: [4], padEnd: [2], paddingMode: PaddingMode.Circular);
        ExpectArgument.Throws(() => ConvProblem.Create(circular, new TensorShape(1, 1, 3), new TensorShape(1, 1, 3)), "input", "Circular", "size 3");
        Assert.That(ConvProblem.Create(circular, new TensorShape(1, 1, 4), new TensorShape(1, 1, 3)).YShape, Is.EqualTo(new TensorShape(1, 1, 8)));
        // Replicate: any size, even 1 with a large pad.
        var replicate = new ConvSpec([3], padBegin: [7], paddingMode: PaddingMode.Replicate);
        Assert.That(ConvProblem.Create(replicate, new TensorShape(1, 1, 1), new TensorShape(1, 1, 3)).YShape, Is.EqualTo(new TensorShape(1, 1, 13)));

        // Through the engine, the engine's argument names.
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var x = HostTensor.Random(new TensorShape(1, 1, 8, 3), 1);
        ExpectArgument.Throws(() => engine.Forward(reflect, x, HostTensor.Random(w, 2)), "x", "Reflect", "size 3");
        ExpectArgument.Throws(() => engine.BackwardData(reflect, HostTensor.Random(new TensorShape(1, 2, 8, 5), 3), HostTensor.Random(w, 2), x.Shape), "inputShape", "Reflect");
        ExpectArgument.Throws(() => engine.BackwardFilter(reflect, x, HostTensor.Random(new TensorShape(1, 2, 8, 5), 3), w), "x", "Reflect");
    }

    [Test]
    public void TheModeIsPartOfEqualityHashAndText()
    {
        var zeros = new ConvSpec([3, 3], padBegin: [1]);
        var reflect = zeros.WithPaddingMode(PaddingMode.Reflect);
        Assert.That(reflect, Is.Not.EqualTo(zeros));
        Assert.That(reflect.GetHashCode(), Is.Not.EqualTo(zeros.GetHashCode()));
        Assert.That(reflect, Is.EqualTo(new ConvSpec([3, 3], padBegin: [1], paddingMode: PaddingMode.Reflect)));
        Assert.That(reflect.ToString(), Is.EqualTo(zeros + " mode=reflect"));
        Assert.That(zeros.ToString(), Does.Not.Contain("mode"));
        Assert.That(reflect.WithPaddingMode(PaddingMode.Zeros), Is.EqualTo(zeros));
        Assert.That(ConvSpec.Same([3, 3]).WithPaddingMode(PaddingMode.Circular).PadBegin, Is.EqualTo(new[] { 1, 1 }));

        var x = new TensorShape(1, 2, 9, 9);
        var w = new TensorShape(3, 2, 3, 3);
        var pz = ConvProblem.Create(zeros, x, w);
        var pr = ConvProblem.Create(reflect, x, w);
        Assert.That(pr, Is.Not.EqualTo(pz));
        Assert.That(pr.ToString(), Does.Contain("mode=reflect"));
        Assert.That(pr.WithOp(ConvOp.BackwardData).Spec.PaddingMode, Is.EqualTo(PaddingMode.Reflect));
        Assert.That(pr.WithBatch(3).Spec.PaddingMode, Is.EqualTo(PaddingMode.Reflect));
        Assert.That(pz.ExplicitlyPadded, Is.SameAs(pz), "zeros needs no explicit pad");
        Assert.That(pr.ExplicitlyPadded.XShape, Is.EqualTo(new TensorShape(1, 2, 11, 11)));
        // A stride that cannot matter is cut down on the moded problem too, and the mode stays.
        var bigStride = ConvProblem.Create(new ConvSpec([3], [1000], padBegin: [1], paddingMode: PaddingMode.Replicate), new TensorShape(1, 1, 4), new TensorShape(1, 1, 3));
        Assert.That(bigStride.Spec.PaddingMode, Is.EqualTo(PaddingMode.Replicate));
    }
}
