using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Upsampling;

/// <summary>
/// Bad input to UpsampleSpec and the engine's Upsample / UpsampleBackward: an ArgumentException naming the field and
/// quoting the values, before any work (no output allocated, the given output untouched).
/// </summary>
public class UpsampleValidationTests
{
    [Test]
    public void NonPositiveSizesAndFactorsAreRefused()
    {
        ExpectArgument.Throws(() => UpsampleSpec.ToSize(UpsampleMode.Nearest, [4, 0]), "size", "size[1] must be >= 1, got 0", "[4, 0]");
        ExpectArgument.Throws(() => UpsampleSpec.ToSize(UpsampleMode.Nearest, [-3]), "size", "size[0] must be >= 1, got -3");
        ExpectArgument.Throws(() => UpsampleSpec.ByScale(UpsampleMode.Nearest, [2.0, 0.0]), "scaleFactor", "scaleFactor[1] must be finite and > 0, got 0", "[2, 0]");
        ExpectArgument.Throws(() => UpsampleSpec.ByScale(UpsampleMode.Bilinear, [-1.5, 2.0]), "scaleFactor", "scaleFactor[0]", "-1.5");
        ExpectArgument.Throws(() => UpsampleSpec.ByScale(UpsampleMode.Linear, [double.NaN]), "scaleFactor", "NaN");
        ExpectArgument.Throws(() => UpsampleSpec.ByScale(UpsampleMode.Linear, [double.PositiveInfinity]), "scaleFactor", "Infinity");
    }

    [Test]
    public void RanksThatDoNotFitTheModeAreRefused()
    {
        ExpectArgument.Throws(() => UpsampleSpec.ToSize(UpsampleMode.Bilinear, [8]), "size", "mode Bilinear interpolates 2 spatial dimension(s)", "got 1 ([8])");
        ExpectArgument.Throws(() => UpsampleSpec.ByScale(UpsampleMode.Linear, [2.0, 2.0]), "scaleFactor", "mode Linear interpolates 1", "got 2 ([2, 2])");
        ExpectArgument.Throws(() => UpsampleSpec.ToSize(UpsampleMode.Trilinear, [2, 2]), "size", "mode Trilinear interpolates 3");
        ExpectArgument.Throws(() => UpsampleSpec.ToSize(UpsampleMode.Nearest, [1, 2, 3, 4]), "size", "1 to 3", "got 4 ([1, 2, 3, 4])");
        ExpectArgument.Throws(() => UpsampleSpec.ByScale(UpsampleMode.NearestExact, []), "scaleFactor", "1 to 3", "got 0");
        ExpectArgument.Throws(() => UpsampleSpec.ToSize((UpsampleMode)17, [2]), "mode", "mode 17 is not an UpsampleMode");
    }

    [Test]
    public void AlignCornersWithANearestModeIsRefused()
    {
        ExpectArgument.Throws(() => UpsampleSpec.ToSize(UpsampleMode.Nearest, [4], alignCorners: true), "alignCorners", "linear modes only", "Nearest");
        ExpectArgument.Throws(() => UpsampleSpec.ByScale(UpsampleMode.NearestExact, [2.0], alignCorners: true), "alignCorners", "NearestExact");
    }

    [Test]
    public void InputsThatDoNotFitTheSpecAreRefusedBeforeAnyWork()
    {
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var spec = UpsampleSpec.ByScale(UpsampleMode.Bilinear, [2.0, 2.0]);
        var x3 = HostTensor.Random(new TensorShape(1, 2, 5), 1);
        ExpectArgument.Throws(() => cpu.Upsample(spec, x3), "x", "x has shape [1, 2, 5]", "2 spatial dimension(s)");
        // A factor that empties a dimension: floor(3 * 0.3) = 0.
        var shrink = UpsampleSpec.ByScale(UpsampleMode.Nearest, [0.3]);
        ExpectArgument.Throws(() => cpu.Upsample(shrink, HostTensor.Random(new TensorShape(1, 1, 3), 2)), "x", "input size 3 and output size 0", "greater than 0");
        ExpectArgument.Throws(() => shrink.OutputShape(new TensorShape(1, 1, 3), "input"), "input", "output size 0");
        // The interpolating modes' extent limit.
        ExpectArgument.Throws(() => UpsampleSpec.ToSize(UpsampleMode.Linear, [UpsampleSpec.MaxInterpolatedExtent + 1]).OutputShape(new TensorShape(1, 1, 4)),
            "x", $"output size {UpsampleSpec.MaxInterpolatedExtent + 1}", "MaxInterpolatedExtent");
    }

    [Test]
    public void WrongOutputsAndGradientsAreRefused()
    {
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var spec = UpsampleSpec.ByScale(UpsampleMode.Nearest, [2.0, 2.0]);
        var x = HostTensor.Random(new TensorShape(1, 2, 3, 4), 1);
        var wrong = new HostTensor(new TensorShape(1, 2, 6, 7));
        wrong.Data[0] = 42f;
        ExpectArgument.Throws(() => cpu.Upsample(spec, x, wrong), "output", "output has shape [1, 2, 6, 7], expected [1, 2, 6, 8]");
        Assert.That(wrong.Data[0], Is.EqualTo(42f), "nothing written");
        ExpectArgument.Throws(() => cpu.Upsample(UpsampleSpec.ToSize(UpsampleMode.Nearest, [3, 4]), x, x), "output", "shares memory with x");
        var dyWrong = HostTensor.Random(new TensorShape(1, 2, 6, 9), 2);
        ExpectArgument.Throws(() => cpu.UpsampleBackward(spec, dyWrong, x.Shape), "dy", "dy has shape [1, 2, 6, 9], expected [1, 2, 6, 8]");
        ExpectArgument.Throws(() => cpu.UpsampleBackward(spec, dyWrong, new TensorShape(1, 2, 3)), "inputShape", "2 spatial dimension(s)");
        var dy = HostTensor.Random(new TensorShape(1, 2, 6, 8), 3);
        ExpectArgument.Throws(() => cpu.UpsampleBackward(spec, dy, x.Shape, new HostTensor(new TensorShape(1, 2, 3, 5))), "output", "expected [1, 2, 3, 4]");
        Assert.Throws<ArgumentNullException>(() => cpu.Upsample(null!, x));
        Assert.Throws<ArgumentNullException>(() => cpu.UpsampleBackward(spec, null!, x.Shape));
    }

    [Test]
    public void TheSpecDescribesItselfAndComparesByValue()
    {
        var a = UpsampleSpec.ByScale(UpsampleMode.Bilinear, [2.0, 1.5], alignCorners: true);
        Assert.That(a.ToString(), Is.EqualTo("bilinear scale=(2x1.5) align_corners"));
        Assert.That(UpsampleSpec.ToSize(UpsampleMode.Nearest, [7, 9]).ToString(), Is.EqualTo("nearest size=(7x9)"));
        Assert.That(a, Is.EqualTo(UpsampleSpec.ByScale(UpsampleMode.Bilinear, [2.0, 1.5], alignCorners: true)));
        Assert.That(a.GetHashCode(), Is.EqualTo(UpsampleSpec.ByScale(UpsampleMode.Bilinear, [2.0, 1.5], alignCorners: true).GetHashCode()));
        Assert.That(a, Is.Not.EqualTo(UpsampleSpec.ByScale(UpsampleMode.Bilinear, [2.0, 1.5])));
        Assert.That(a, Is.Not.EqualTo(UpsampleSpec.ByScale(UpsampleMode.Bilinear, [2.0, 1.5], alignCorners: true, recomputeScaleFactor: true)));
        Assert.That(UpsampleSpec.ToSize(UpsampleMode.Nearest, [2]), Is.Not.EqualTo(UpsampleSpec.ByScale(UpsampleMode.Nearest, [2.0])));
        Assert.That(a.Rank, Is.EqualTo(2));
        Assert.That(a.IndexScale(1), Is.EqualTo(1.5));
        Assert.That(UpsampleSpec.ByScale(UpsampleMode.Nearest, [1.5], recomputeScaleFactor: true).IndexScale(0), Is.Null);
        // PyTorch's output size: floor(in * factor) in float64.
        Assert.That(UpsampleSpec.ByScale(UpsampleMode.Nearest, [2.1, 0.6]).OutputShape(new TensorShape(1, 1, 5, 11)), Is.EqualTo(new TensorShape(1, 1, 10, 6)));
    }
}
