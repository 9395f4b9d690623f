using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Backends;

/// <summary>Tensor/problem mismatches are caught by ConvTensors.Validate and ReferenceConv before any work.</summary>
public class ConvTensorsValidationTests
{
    /// <summary>A tensor that claims to live on a device, to test memory-kind checks without a GPU.</summary>
    sealed class FakeDeviceTensor(TensorShape shape) : Tensor(shape)
    {
        public override MemoryKind Memory => MemoryKind.Device;
    }

    static readonly ConvProblem Forward = ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1], groups: 2), new TensorShape(2, 4, 5, 5), new TensorShape(6, 2, 3, 3));

    static ConvTensors Tensors(ConvProblem p, Tensor? bias = null) =>
        new(new HostTensor(p.XShape), new HostTensor(p.WShape), new HostTensor(p.YShape), bias);

    [Test]
    public void ValidTensorsPassForEveryOp()
    {
        Assert.DoesNotThrow(() => Tensors(Forward, new HostTensor(6)).Validate(Forward, MemoryKind.Host));
        var bd = Forward.WithOp(ConvOp.BackwardData);
        Assert.DoesNotThrow(() => Tensors(bd, new HostTensor(4)).Validate(bd, MemoryKind.Host));
        var bf = Forward.WithOp(ConvOp.BackwardFilter);
        Assert.DoesNotThrow(() => Tensors(bf).Validate(bf, MemoryKind.Host));
    }

    [Test]
    public void WrongXShape() =>
        ExpectArgument.Throws(() => new ConvTensors(new HostTensor(2, 4, 5, 6), new HostTensor(Forward.WShape), new HostTensor(Forward.YShape)).Validate(Forward, MemoryKind.Host),
            "X", "tensor X has shape [2, 4, 5, 6]", "expected [2, 4, 5, 5]");

    [Test]
    public void WrongFilterShape() =>
        ExpectArgument.Throws(() => new ConvTensors(new HostTensor(Forward.XShape), new HostTensor(6, 4, 3, 3), new HostTensor(Forward.YShape)).Validate(Forward, MemoryKind.Host),
            "W", "tensor W has shape [6, 4, 3, 3]", "expected [6, 2, 3, 3]");

    [Test]
    public void WrongYShape() =>
        ExpectArgument.Throws(() => new ConvTensors(new HostTensor(Forward.XShape), new HostTensor(Forward.WShape), new HostTensor(2, 6, 5, 5, 1)).Validate(Forward, MemoryKind.Host),
            "Y", "tensor Y has shape [2, 6, 5, 5, 1]", "expected [2, 6, 5, 5]");

    [Test]
    public void MissingTensor() =>
        ExpectArgument.Throws(() => new ConvTensors(new HostTensor(Forward.XShape), null!, new HostTensor(Forward.YShape)).Validate(Forward, MemoryKind.Host),
            "W", "needs tensor W of shape [6, 2, 3, 3], got null");

    [Test]
    public void ForwardBiasLengthMismatch() =>
        ExpectArgument.Throws(() => Tensors(Forward, new HostTensor(4)).Validate(Forward, MemoryKind.Host),
            "Bias", "bias has 4 elements", "Forward output has 6 channels");

    [Test]
    public void BackwardDataBiasIsPerInputChannel() =>
        ExpectArgument.Throws(() => Tensors(Forward, new HostTensor(6)).Validate(Forward.WithOp(ConvOp.BackwardData), MemoryKind.Host),
            "Bias", "bias has 6 elements", "BackwardData output has 4 channels");

    [Test]
    public void BackwardFilterTakesNoBias() =>
        ExpectArgument.Throws(() => Tensors(Forward, new HostTensor(6)).Validate(Forward.WithOp(ConvOp.BackwardFilter), MemoryKind.Host),
            "Bias", "not used by backward-filter");

    [Test]
    public void TensorInTheWrongMemory() =>
        ExpectArgument.Throws(() => new ConvTensors(new HostTensor(Forward.XShape), new FakeDeviceTensor(Forward.WShape), new HostTensor(Forward.YShape)).Validate(Forward, MemoryKind.Host),
            "W", "tensor W is in Device memory", "Host memory");

    [Test]
    public void BiasInTheWrongMemory() =>
        ExpectArgument.Throws(() => Tensors(Forward, new FakeDeviceTensor(new TensorShape(6))).Validate(Forward, MemoryKind.Host),
            "Bias", "tensor Bias is in Device memory");

    [Test]
    public void ReferenceForwardBiasLengthMismatch()
    {
        var x = new float[Forward.XShape.ElementCount];
        var w = new float[Forward.WShape.ElementCount];
        ExpectArgument.Throws(() => ReferenceConv.Forward(Forward, x, w, new float[5]), "bias", "bias has 5 elements", "6 channels");
    }

    [Test]
    public void ReferenceBackwardDataBiasLengthMismatch()
    {
        var dy = new float[Forward.YShape.ElementCount];
        var w = new float[Forward.WShape.ElementCount];
        ExpectArgument.Throws(() => ReferenceConv.BackwardData(Forward, dy, w, new float[6]), "bias", "bias has 6 elements", "4 channels");
    }

    [TestCase("x")]
    [TestCase("w")]
    public void ReferenceForwardDataLengthMismatch(string which)
    {
        var x = new float[Forward.XShape.ElementCount + (which == "x" ? 1 : 0)];
        var w = new float[Forward.WShape.ElementCount - (which == "w" ? 1 : 0)];
        ExpectArgument.Throws(() => ReferenceConv.Forward(Forward, x, w), which, $"{which} has");
    }

    [Test]
    public void ReferenceBackwardFilterDyLengthMismatch() =>
        ExpectArgument.Throws(() => ReferenceConv.BackwardFilter(Forward, new float[Forward.XShape.ElementCount], new float[3]), "dy",
            "dy has 3 elements", $"needs {Forward.YShape.ElementCount}");

    [Test]
    public void ReferenceBiasGradientLengthMismatch() =>
        ExpectArgument.Throws(() => ReferenceConv.BiasGradient(new TensorShape(2, 3, 4), new float[23]), "dy", "dy has 23 elements", "needs 24");

    [Test]
    public void ReferenceBackendRunsAndValidates()
    {
        using var backend = new ReferenceBackend();
        var algorithm = backend.GetAlgorithms(Forward, ConvPrecision.Strict).Single();
        var x = HostTensor.Random(Forward.XShape, 1);
        var w = HostTensor.Random(Forward.WShape, 2);
        var b = HostTensor.Random(new TensorShape(6), 3);
        var y = new HostTensor(Forward.YShape);
        backend.Run(Forward, algorithm, new ConvTensors(x, w, y, b));
        var expected = ReferenceConv.Forward(Forward, x.Data, w.Data, b.Data);
        Assert.That(y.Data, Is.EqualTo(expected.Select(v => (float)v).ToArray()));
        ExpectArgument.Throws(() => backend.Run(Forward, algorithm, new ConvTensors(x, w, new HostTensor(2, 6, 5, 4))), "Y", "tensor Y has shape [2, 6, 5, 4]");
    }
}
