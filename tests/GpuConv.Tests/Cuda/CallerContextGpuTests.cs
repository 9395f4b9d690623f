using System.Runtime.InteropServices;
using GpuConv.Conv;
using GpuConv.Cuda;
using GpuConv.Cuda.Discovery;
using GpuConv.Cuda.Native;
using GpuConv.Planning;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Faults;
using GpuConv.Tests.NativeFakes;

namespace GpuConv.Tests.Cuda;

/// <summary>
/// An application that uses its own CUDA context on a thread (another library's, a second device's) still has it
/// current after every GpuConv call on that thread, including a call that throws; a thread with no context current
/// has none afterwards. The application's context is made with cuCtxCreate_v2 (bound here, not by GpuConv). Against
/// the native fakes the fake driver also refuses, and counts, every call that needed GpuConv's primary context but
/// ran in the application's: that count must not move. On a real GPU the same checks run without the faults.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public sealed unsafe class CallerContextGpuTests
{
    static readonly ConvSpec Spec = new([3, 3], stride: [1, 1], padBegin: [1, 1]);
    static readonly HostTensor X = HostTensor.Random(new TensorShape(2, 4, 7, 7), 21);
    static readonly HostTensor W = HostTensor.Random(new TensorShape(6, 4, 3, 3), 22);
    // fp32 against the float64 reference (cuDNN's transform algorithms are held to 1e-4).
    const double Tolerance = 1e-4;

    delegate* unmanaged<nint*, uint, int, int> _create;
    delegate* unmanaged<nint, int> _destroy;

    static bool UnderFakes => NativeFakeLibraries.Folder is not null;

    [OneTimeSetUp]
    public void Bind()
    {
        var status = CudaDiscovery.Probe();
        if (!status.IsAvailable) Assert.Ignore($"GPU unavailable: {status.Reason}");
        // The driver discovery loaded (same soname, so the same instance): cuCtxCreate_v2(CUcontext*, unsigned int, CUdevice)
        // and cuCtxDestroy_v2(CUcontext) as CUDA 12's cuda.h declares them; CUDA 13's driver keeps them for older programs.
        nint driver = NativeLibrary.Load(UnderFakes ? Path.Join(NativeFakeLibraries.Folder, "libcuda.so.1") : "libcuda.so.1");
        _create = (delegate* unmanaged<nint*, uint, int, int>)NativeLibrary.GetExport(driver, "cuCtxCreate_v2");
        _destroy = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(driver, "cuCtxDestroy_v2");
    }

    /// <summary>An application context of device 0, current on the calling thread until disposed (then destroyed).</summary>
    nint CreateAppContext()
    {
        nint ctx;
        int status = _create(&ctx, 0, 0);
        Assert.That(status, Is.EqualTo(0), "cuCtxCreate_v2");
        return ctx;
    }

    static nint Current()
    {
        Assert.That(CudaDriver.cuCtxGetCurrent(out var ctx), Is.EqualTo(CuResult.Success), "cuCtxGetCurrent");
        return ctx;
    }

    static long WrongContextCalls() => UnderFakes ? ((delegate* unmanaged<long>)NativeFakeLibraries.Export<nint>("gpuconv_fake_wrong_context_calls"))() : 0;

    static ConvEngineOptions Gpu(string? backend = null) => new() { Device = DeviceKind.Gpu, Backend = backend, PersistPlans = false, Warning = _ => { } };

    static void AssertClose(HostTensor got, double[] reference, string what)
    {
        var error = ErrorMetrics.Compare(got.Data, reference);
        Assert.That(error.MaxRelative, Is.LessThan(Tolerance), $"{what}: {error}");
    }

    [Test]
    public void EveryEngineCallLeavesTheApplicationsContextCurrent([Values("cudnn", "ptx")] string backend)
    {
        long wrongBefore = WrongContextCalls();
        nint app = CreateAppContext();
        try
        {
            void Expect(string after) => Assert.That(Current(), Is.EqualTo(app), $"the application's context is current after {after}");
            using (var engine = ConvEngine.Open(Gpu(backend)))
            {
                Expect("ConvEngine.Open");
                Assert.That(engine.CudaContextHandle, Is.Not.EqualTo(app).And.Not.EqualTo((nint)0), "the engine works in the primary context, not the application's");
                var problem = ConvProblem.Create(Spec, X.Shape, W.Shape, ConvOp.Forward);
                var forwardRef = ReferenceConv.Run(problem, X.Data, W.Data, [], []);

                var y = engine.Forward(Spec, X, W);
                Expect("Forward (host tensors)");
                AssertClose(y, forwardRef, "Forward (host tensors)");

                using var x = engine.Upload(X);
                Expect("Upload");
                using var w = engine.Upload(W);
                using var yd = engine.Forward(Spec, x, w);
                Expect("Forward (device tensors)");
                var dy = HostTensor.Random(problem.YShape, 23);
                using var dyd = engine.Upload(dy);
                using var dxd = engine.BackwardData(Spec, dyd, w, X.Shape);
                Expect("BackwardData (device tensors)");
                var dx = engine.BackwardData(Spec, dy, W, X.Shape);
                Expect("BackwardData (host tensors)");
                AssertClose(engine.Download(yd), forwardRef, "Forward (device tensors)");
                Expect("Download");
                // The element-wise and pooling ops: kernels of their own, launched inside the same scope.
                using var relu = engine.Relu(yd);
                Expect("Relu");
                using var pooled = engine.MaxPool(new PoolSpec([2, 2]), relu);
                Expect("MaxPool");
                using var mean = engine.GlobalAvgPool(pooled);
                Expect("GlobalAvgPool");
                engine.AddScaled(relu, -1f, yd);
                Expect("AddScaled");
                var backwardRef = ReferenceConv.Run(ConvProblem.Create(Spec, X.Shape, W.Shape, ConvOp.BackwardData), [], W.Data, dy.Data, []);
                AssertClose(dx, backwardRef, "BackwardData (host tensors)");
                AssertClose(engine.DownloadAsync(dxd).GetAwaiter().GetResult(), backwardRef, "BackwardData (device tensors)");
                Expect("DownloadAsync");
                engine.Synchronize();
                Expect("Synchronize");
            }
            Expect("Dispose");
        }
        finally
        {
            Assert.That(_destroy(app), Is.EqualTo(0), "cuCtxDestroy_v2");
        }
        Assert.That(WrongContextCalls(), Is.EqualTo(wrongBefore), "no call that needed GpuConv's context ran in the application's (the fake's wrong_context count)");
    }

    [Test]
    public void AThreadWithNoContextHasNoneAfterEngineCalls()
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                Assert.That(Current(), Is.EqualTo((nint)0), "a new thread starts with no context");
                using var engine = ConvEngine.Open(Gpu());
                using var x = engine.Upload(X);
                using var w = engine.Upload(W);
                using var y = engine.Forward(Spec, x, w);
                engine.Download(y);
                Assert.That(Current(), Is.EqualTo((nint)0), "GpuConv left its context current on a thread that had none");
            }
            catch (Exception e) { failure = e; }
        });
        thread.Start();
        thread.Join();
        if (failure is not null) throw failure;
    }

    /// <summary>
    /// A warm device-resident call from a thread with no context switches context once in and once out: the engine holds
    /// one scope for the whole call, so the driver steps inside find the context current. Counted by the fake driver.
    /// </summary>
    // NativeFakesOnly: needs the fakes (counts / fault injection); gpu-check.sh leaves it out on a GPU host, where it could only skip.
    [Test, Category("NativeFakesOnly")]
    public void AWarmCallSwitchesContextOnceInAndOnceOut()
    {
        if (!UnderFakes) Assert.Ignore("counts the native fakes' cuCtxSetCurrent calls (gpuconv_fake_set_current_calls)");
        var setCurrent = (delegate* unmanaged<long>)NativeFakeLibraries.Export<nint>("gpuconv_fake_set_current_calls");
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var engine = ConvEngine.Open(Gpu("cudnn"));
                using var x = engine.Upload(X);
                using var w = engine.Upload(W);
                using var bias = engine.Upload(HostTensor.Random(new TensorShape(W.Shape[0]), 25));
                using var y = engine.Forward(Spec, x, w, bias); // planned: later calls reuse the plans
                using var dx = engine.BackwardData(Spec, y, w, X.Shape);
                using var dw = engine.BackwardFilter(Spec, x, y, W.Shape);
                var host = new float[y.Shape.ElementCountInt];
                engine.Synchronize();
                var calls = new (string Name, Action Call)[]
                {
                    ("Forward with bias", () => engine.Forward(Spec, x, w, bias, output: y)),
                    ("BackwardData", () => engine.BackwardData(Spec, y, w, X.Shape, output: dx)),
                    ("BackwardFilter", () => engine.BackwardFilter(Spec, x, y, W.Shape, output: dw)),
                    ("Upload into a tensor", () => engine.Upload(X.Data, x)),
                    ("Download", () => engine.Download(y, host)),
                };
                foreach (var (name, call) in calls)
                {
                    long before = setCurrent();
                    call();
                    Assert.That(setCurrent() - before, Is.EqualTo(2), $"cuCtxSetCurrent calls for a warm {name} (one in, one out)");
                }
                Assert.That(Current(), Is.EqualTo((nint)0));
            }
            catch (Exception e) { failure = e; }
        });
        thread.Start();
        thread.Join();
        if (failure is not null) throw failure;
    }

    /// <summary>Calls that throw half-way (a failed copy, cuDNN failing every algorithm, an out-of-memory allocation) put the application's context back too.</summary>
    // NativeFakesOnly: needs the fakes (counts / fault injection); gpu-check.sh leaves it out on a GPU host, where it could only skip.
    [Test, Category("NativeFakesOnly")]
    public void ACallThatThrowsStillRestoresTheApplicationsContext()
    {
        if (!UnderFakes) Assert.Ignore("needs the native fakes' fault injection (GPUCONV_FAKE_FAULTS)");
        nint app = CreateAppContext();
        try
        {
            using var engine = ConvEngine.Open(Gpu("cudnn"));
            using var x = engine.Upload(X);
            using var w = engine.Upload(W);
            using var y = engine.Forward(Spec, x, w); // planned: later calls reuse the plan
            void Throws<T>(string faults, Action call, string what) where T : Exception
            {
                FakeFaults.Set(faults);
                try { Assert.Throws(Is.InstanceOf<T>(), call, what); }
                finally { FakeFaults.Set(""); }
                Assert.That(Current(), Is.EqualTo(app), $"the application's context is current after {what} threw");
            }
            Throws<CudaException>("cuMemcpyHtoDAsync_v2@*=999", () => engine.Upload(X.Data, x), "Upload (the copy fails)");
            Throws<CudaException>("cuMemcpyDtoHAsync_v2@*=999", () => engine.Download(y), "Download (the copy fails)");
            Throws<CudnnException>("cudnnConvolutionForward@*=4000", () => engine.Forward(Spec, x, w, output: y), "Forward (cuDNN fails)");
            using var dy = engine.Upload(HostTensor.Random(y.Shape, 24));
            using var dx = engine.Allocate(X.Shape);
            Throws<CudnnException>("cudnnConvolutionBackwardData@*=4000", () => engine.BackwardData(Spec, dy, w, X.Shape, output: dx), "BackwardData (cuDNN fails)");
            Throws<DeviceOutOfMemoryException>("cuMemAlloc_v2@*=2", () => engine.Allocate(new TensorShape(1 << 22)), "Allocate (out of device memory)");
            // The faults were not sticky: the engine still works, in its own context.
            var reference = ReferenceConv.Run(ConvProblem.Create(Spec, X.Shape, W.Shape, ConvOp.Forward), X.Data, W.Data, [], []);
            AssertClose(engine.Download(engine.Forward(Spec, x, w, output: y)), reference, "after the faults");
            Assert.That(Current(), Is.EqualTo(app));
        }
        finally
        {
            Assert.That(_destroy(app), Is.EqualTo(0), "cuCtxDestroy_v2");
        }
    }
}
