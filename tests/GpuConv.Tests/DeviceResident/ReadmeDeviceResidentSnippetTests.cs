using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv.Tests.DeviceResident;

/// <summary>The device-resident snippet at the top of README.md's library section, kept here so it cannot silently break.</summary>
public class ReadmeDeviceResidentSnippetTests
{
    [Test]
    public void DeviceResidentSnippet_RunsAndMatchesTheHostTensorChain()
    {
        // --- README snippet (keep identical) ---
        using var engine = ConvEngine.Open();                                // GPU if usable, else CPU: same code
        var conv3x3 = new ConvSpec(kernel: [3, 3], padBegin: [1]);           // F.conv2d(padding=1)
        var input = HostTensor.Random(new TensorShape(1, 3, 64, 64), seed: 1);
        using var x = engine.Upload(input);                                  // into engine.Memory (GPU or host)
        using var w1 = engine.Upload(HostTensor.Random(new TensorShape(16, 3, 3, 3), seed: 2));
        using var b1 = engine.Upload(HostTensor.Random(new TensorShape(16), seed: 3));
        using var w2 = engine.Upload(HostTensor.Random(new TensorShape(8, 16, 3, 3), seed: 4));
        using var h = engine.ForwardBiasActivation(conv3x3, x, w1, b1, Activation.Relu, constantWeights: true);
        using var y = engine.Allocate(new TensorShape(1, 8, 64, 64));
        engine.Forward(conv3x3, h, w2, output: y, constantWeights: true);   // no host wait between the calls
        HostTensor result = engine.Download(y);                              // waits for the work, copies back once
        // --- end of snippet ---

        var viaHost = engine.Forward(conv3x3,
            engine.ForwardBiasActivation(conv3x3, input, HostTensor.Random(new TensorShape(16, 3, 3, 3), seed: 2),
                HostTensor.Random(new TensorShape(16), seed: 3), Activation.Relu),
            HostTensor.Random(new TensorShape(8, 16, 3, 3), seed: 4));
        Assert.That(result.Shape, Is.EqualTo(viaHost.Shape));
        double scale = viaHost.Data.Max(v => Math.Abs((double)v)), worst = 0;
        for (int i = 0; i < result.Data.Length; i++) worst = Math.Max(worst, Math.Abs(result.Data[i] - (double)viaHost.Data[i]));
        Assert.That(worst / scale, Is.LessThan(1e-5));
    }
}
