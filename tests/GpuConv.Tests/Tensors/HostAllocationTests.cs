using GpuConv.Tensors;

namespace GpuConv.Tests.Tensors;

/// <summary>
/// New host outputs are not zeroed (<see cref="HostAllocation"/>); the test run poisons them so that code reading one
/// before writing it fails. These check that the poison is on and reaches what the engine hands out, and that an op's
/// new output is still written whole.
/// </summary>
public class HostAllocationTests
{
    [Test]
    public void TheTestRunPoisonsNewHostOutputs()
    {
        Assert.That(HostAllocation.Poison, Is.True, "PoisonedHostAllocations sets it for every test");
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var t = (HostTensor)engine.Allocate(new TensorShape(2, 3, 40, 40));
        Assert.That(t.Data, Has.All.NaN, "ConvEngine.Allocate on the host: contents unspecified, NaN under the poison");
        Assert.That(new HostTensor(new TensorShape(2, 3, 4, 4)).Data, Has.All.Zero, "the public constructor still zeroes");
    }

    [Test]
    public void AnOpsNewOutputIsWrittenWholeOverThePoison()
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var x = HostTensor.Random(new TensorShape(1, 8, 20, 20), seed: 3);
        var w = HostTensor.Random(new TensorShape(16, 8, 3, 3), seed: 4);
        var y = engine.Forward(new GpuConv.Conv.ConvSpec(kernel: [3, 3], padBegin: [1]), x, w);
        Assert.That(y.Data, Has.None.NaN);
        var relu = (HostTensor)engine.Relu(y);
        Assert.That(relu.Data, Has.None.NaN.And.All.GreaterThanOrEqualTo(0f));
    }
}
