using GpuConv.Conv;
using GpuConv.Cuda;
using GpuConv.Cuda.Discovery;
using GpuConv.Cuda.Native;
using GpuConv.Tensors;

namespace GpuConv.Tests.DeviceResident;

/// <summary>
/// On a GPU host: a chain of device-resident convolutions against the same chain through host tensors
/// (both on the GPU plans; tolerance max rel 1e-5, strict FP32), and memory plus a stream made outside
/// GpuConv with the driver API in the primary context. Skipped with discovery's reason when no GPU is usable.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public unsafe class DeviceResidentGpuTests
{
    ConvEngine engine = null!;

    [OneTimeSetUp]
    public void Open()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"skipped: no usable GPU: {status.Reason}");
        engine = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, PersistPlans = false });
    }

    [OneTimeTearDown]
    public void Close() => engine?.Dispose();

    static readonly ConvSpec Stem = new([3, 3], stride: [2, 2], padBegin: [1]);
    static readonly ConvSpec Depthwise = new([3, 3], padBegin: [1], groups: 16);
    static readonly ConvSpec Pointwise = new([1, 1]);
    static readonly ConvSpec Up = new([2, 2], stride: [2, 2], transposed: true);

    static double MaxRel(float[] a, float[] b)
    {
        double worst = 0, scale = b.Max(v => Math.Abs((double)v));
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(a[i] - (double)b[i]));
        return worst / Math.Max(scale, 1e-30);
    }

    [Test]
    public void Chain_OnDevice_MatchesTheChainThroughHostTensors()
    {
        var x = HostTensor.Random(new TensorShape(2, 3, 32, 32), 1);
        var w1 = HostTensor.Random(new TensorShape(16, 3, 3, 3), 2);
        var b1 = HostTensor.Random(new TensorShape(16), 3);
        var w2 = HostTensor.Random(new TensorShape(16, 1, 3, 3), 4);
        var w3 = HostTensor.Random(new TensorShape(24, 16, 1, 1), 5);
        var w4 = HostTensor.Random(new TensorShape(24, 8, 2, 2), 6);

        var h1 = engine.ForwardBiasActivation(Stem, x, w1, b1, Activation.Relu);
        var viaHost = engine.Forward(Up, engine.Forward(Pointwise, engine.Forward(Depthwise, h1, w2), w3), w4);

        Assert.That(engine.Memory.Kind, Is.EqualTo(MemoryKind.Device));
        using var dx = engine.Upload(x);
        using var dw1 = engine.Upload(w1);
        using var db1 = engine.Upload(b1);
        using var dw2 = engine.Upload(w2);
        using var dw3 = engine.Upload(w3);
        using var dw4 = engine.Upload(w4);
        using var d1 = engine.ForwardBiasActivation(Stem, dx, dw1, db1, Activation.Relu);
        using var d2 = engine.Forward(Depthwise, d1, dw2);
        using var d3 = engine.Forward(Pointwise, d2, dw3);
        using var d4 = engine.Allocate(viaHost.Shape);
        engine.Forward(Up, d3, dw4, output: d4);
        Assert.That(d4, Is.InstanceOf<DeviceTensor>());
        var onDevice = engine.Download(d4);

        Assert.That(MaxRel(onDevice.Data, viaHost.Data), Is.LessThan(1e-5));

        // Backward on the device against the host overloads.
        var dy = HostTensor.Random(d3.Shape, 7);
        using var ddy = engine.Upload(dy);
        Assert.That(MaxRel(engine.Download(engine.BackwardData(Pointwise, ddy, dw3, d2.Shape)).Data,
            engine.BackwardData(Pointwise, dy, w3, d2.Shape).Data), Is.LessThan(1e-5));
        var h2 = engine.Download(d2);
        Assert.That(MaxRel(engine.Download(engine.BackwardFilter(Pointwise, d2, ddy, w3.Shape)).Data,
            engine.BackwardFilter(Pointwise, h2, dy, w3.Shape).Data), Is.LessThan(1e-5));
        Assert.That(MaxRel(engine.Download(engine.BackwardBias(ddy)).Data, engine.BackwardBias(dy).Data), Is.LessThan(1e-5));
    }

    [Test]
    public void MemoryAndStreamFromOutside_AreUsed_AndTheMemoryIsNotFreed()
    {
        var x = HostTensor.Random(new TensorShape(1, 16, 12, 12), 11);
        var w = HostTensor.Random(new TensorShape(24, 16, 1, 1), 12);
        var expected = engine.Forward(Pointwise, x, w);

        // Another CUDA user of the process: it allocates with the driver API in the primary context.
        Assert.That(engine.CudaContextHandle, Is.Not.EqualTo((nint)0));
        CudaDriver.Check(CudaDriver.cuCtxSetCurrent(engine.CudaContextHandle), "cuCtxSetCurrent");
        CudaDriver.Check(CudaDriver.cuMemAlloc_v2(out ulong px, (nuint)(x.Data.Length * 4)), "cuMemAlloc_v2");
        CudaDriver.Check(CudaDriver.cuMemAlloc_v2(out ulong py, (nuint)(expected.Data.Length * 4)), "cuMemAlloc_v2");
        CudaDriver.Check(CudaDriver.cuStreamCreate(out nint stream, CuFlags.StreamNonBlocking), "cuStreamCreate");
        try
        {
            fixed (float* p = x.Data)
                CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2(px, p, (nuint)(x.Data.Length * 4), stream), "cuMemcpyHtoDAsync_v2");
            CudaDriver.Check(CudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
            engine.UseStream(stream);
            Assert.That(engine.CudaStreamHandle, Is.EqualTo(stream));
            using var w1 = engine.Upload(w);
            using (var tx = engine.Wrap(px, x.Data.Length, x.Shape))
            using (var ty = engine.Wrap(py, expected.Data.Length, expected.Shape))
                engine.Forward(Pointwise, tx, w1, output: ty);
            // The application's stream is ordered after the engine's work: synchronising it is enough.
            CudaDriver.Check(CudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
            var got = new float[expected.Data.Length];
            fixed (float* p = got)
                {
                CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync_v2(p, py, (nuint)(got.Length * 4), stream), "cuMemcpyDtoHAsync_v2");
                CudaDriver.Check(CudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
            }
            Assert.That(MaxRel(got, expected.Data), Is.LessThan(1e-5));
        }
        finally
        {
            engine.UseStream(0);
            CudaDriver.Check(CudaDriver.cuCtxSetCurrent(engine.CudaContextHandle), "cuCtxSetCurrent");
            // Freeing succeeds exactly once: GpuConv did not free the wrapped memory.
            Assert.That(CudaDriver.cuMemFree_v2(px), Is.EqualTo(CuResult.Success));
            Assert.That(CudaDriver.cuMemFree_v2(py), Is.EqualTo(CuResult.Success));
            CudaDriver.cuStreamDestroy_v2(stream);
        }
    }

    [Test]
    public void HostTensor_IsRefusedByTheDeviceOverload()
    {
        var e = Assert.Throws<ArgumentException>(() => engine.Forward(Pointwise, (Tensor)new HostTensor(1, 16, 4, 4), engine.Allocate(new TensorShape(24, 16, 1, 1))));
        Assert.That(e!.ParamName, Is.EqualTo("x"));
        Assert.That(e.Message, Does.Contain("Upload"));
    }
}
