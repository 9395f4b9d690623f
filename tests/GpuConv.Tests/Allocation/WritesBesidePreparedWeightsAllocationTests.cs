using GpuConv.Backends;

namespace GpuConv.Tests.Allocation;

/// <summary>
/// Every engine op that writes a host tensor asks the CPU backend whether it holds that tensor's array prepared as
/// constant weights (ConvEngine.WrittenTensors.cs). With a constant W prepared beside it, so the quick "nothing was ever
/// prepared" answer does not apply and each write looks its array up, the warm calls that write other tensors still
/// allocate 0 B (bound and measurement as <see cref="WarmCallAllocationTests"/>).
/// </summary>
public class WritesBesidePreparedWeightsAllocationTests
{
    const int Warm = 200, Calls = 1000;

    ConvEngine engine = null!;
    WarmCalls calls = null!;

    [OneTimeSetUp]
    public void Open()
    {
        engine = ConvEngine.Open(WarmEngine.Cpu.Options);
        calls = new WarmCalls(engine, WarmEngine.Cpu.Spec, WarmEngine.Cpu.X, WarmEngine.Cpu.W);
        calls.Call(WarmOp.ForwardConstantWeights)();
    }

    [OneTimeTearDown]
    public void Close()
    {
        calls?.Dispose();
        engine?.Dispose();
    }

    [TestCase(WarmOp.Add)]
    [TestCase(WarmOp.Relu)]
    [TestCase(WarmOp.Scale)]
    [TestCase(WarmOp.AddScaled)]
    [TestCase(WarmOp.MaxPool)]
    [TestCase(WarmOp.GlobalAvgPool)]
    [TestCase(WarmOp.AvgPoolBackward)]
    [TestCase(WarmOp.Forward)]
    [TestCase(WarmOp.ForwardBiasRelu)]
    [TestCase(WarmOp.BackwardFilter)]
    [TestCase(WarmOp.BackwardFilterAccumulate)]
    [TestCase(WarmOp.BackwardBias)]
    [TestCase(WarmOp.UploadInto)]
    [TestCase(WarmOp.ForwardConstantWeights)]
    public void AWarmWriteAllocatesNothing_WithConstantWeightsPrepared(WarmOp op)
    {
        Assert.That(engine.Backends.OfType<CpuBackend>().Single().MarkedArrays, Is.GreaterThan(0),
            "no array is marked prepared, so the writes take the quick path and the case measures nothing new");
        string? failure = WarmCallAllocationTests.Check(WarmEngine.Cpu, calls, op, Warm, Calls);
        Assert.That(failure, Is.Null, failure);
    }
}
