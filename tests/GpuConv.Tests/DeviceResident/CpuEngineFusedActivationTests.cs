using GpuConv.Conv;
using GpuConv.Cpu.Elementwise;
using GpuConv.Tensors;
using GpuConv.Tests.Allocation;
using GpuConv.Tests.Cpu;

namespace GpuConv.Tests.DeviceResident;

/// <summary>
/// The CPU engine's ForwardBiasActivation runs the activation inside the convolution (the cpu backend fuses it): no
/// separate element-wise pass is issued (<see cref="ConvEngine.SeparateActivationPasses"/> stays put), except for
/// transposed layers (backward-data runs, which the backend does not fuse), and the output has the bits of Forward
/// followed by the element-wise op — residual form (accumulate) included, on every layer of the CPU allocation list.
/// </summary>
[TestFixture, NonParallelizable]
public class CpuEngineFusedActivationTests
{
    [Test]
    public void ForwardBiasActivationIssuesNoSeparatePassAndKeepsTheBits([Values(false, true)] bool constantWeights)
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = 2 });
        var failures = new List<string>();
        int calls = 0;
        foreach (var layer in CpuConvolutionAllocationTests.Layers)
        {
            var shape = ConvProblem.Create(layer.Spec, layer.X, layer.W, ConvOp.Forward);
            int biasLength = shape.BiasLength;
            var outputShape = shape.OutputShape;
            using var x = engine.Upload(HostTensor.Random(layer.X, 1));
            using var w = engine.Upload(HostTensor.Random(layer.W, 2));
            var hb = HostTensor.Random(new TensorShape(biasLength), 3);
            for (int i = 0; i < hb.Data.Length; i++) hb.Data[i] *= 6f;
            using var b = engine.Upload(hb);
            var skip = HostTensor.Random(outputShape, 4);
            using var plain = engine.Allocate(outputShape);
            using var fused = engine.Allocate(outputShape);
            foreach (bool accumulate in new[] { false, true })
                foreach (var act in new[] { Activation.Relu, Activation.Relu6, Activation.Silu, Activation.Hardswish, Activation.Sigmoid, Activation.Hardsigmoid, Activation.Gelu, Activation.GeluTanh })
                {
                    if (accumulate) { engine.Upload(skip.Data, plain); engine.Upload(skip.Data, fused); }
                    engine.Forward(layer.Spec, x, w, b, plain, constantWeights, accumulate);
                    var expected = engine.Download(plain).Data;
                    CpuElementwise.Run(ConvEngine.ActivationOp(act), expected, default, 0f, expected);
                    long before = engine.SeparateActivationPasses;
                    engine.ForwardBiasActivation(layer.Spec, x, w, b, act, fused, constantWeights, accumulate);
                    long passes = engine.SeparateActivationPasses - before;
                    calls++;
                    string name = $"{layer.Name} {(accumulate ? "accumulate " : "")}{act}";
                    long expectedPasses = layer.Spec.Transposed ? 1 : 0;
                    if (passes != expectedPasses) failures.Add($"{name}: {passes} separate passes, expected {expectedPasses}");
                    int at = CpuFusedActivationTests.FirstDifference(engine.Download(fused).Data, expected);
                    if (at >= 0) failures.Add($"{name}: element {at} differs from Forward then {act}");
                }
        }
        Assert.That(calls, Is.EqualTo(CpuConvolutionAllocationTests.Layers.Length * 16));
        Assert.That(failures, Is.Empty);
    }

    /// <summary>The HostTensor overload takes the same fused run: no separate pass, the same bits as Forward then the op.</summary>
    [Test]
    public void TheHostOverloadFusesToo([Values(Activation.Relu, Activation.Relu6, Activation.Silu, Activation.Hardswish, Activation.Sigmoid, Activation.Hardsigmoid,
        Activation.Gelu, Activation.GeluTanh)] Activation act)
    {
        using var engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, CpuThreads = 2 });
        var layer = CpuConvolutionAllocationTests.Layers[2];
        var x = HostTensor.Random(layer.X, 1);
        var w = HostTensor.Random(layer.W, 2);
        var b = HostTensor.Random(new TensorShape(layer.W[0]), 3);
        var expected = engine.Forward(layer.Spec, x, w, b).Data;
        CpuElementwise.Run(ConvEngine.ActivationOp(act), expected, default, 0f, expected);
        long before = engine.SeparateActivationPasses;
        var y = engine.ForwardBiasActivation(layer.Spec, x, w, b, act);
        Assert.That(engine.SeparateActivationPasses - before, Is.Zero);
        Assert.That(CpuFusedActivationTests.FirstDifference(y.Data, expected), Is.EqualTo(-1));
    }
}
