using GpuConv.Cuda;
using GpuConv.Cuda.Discovery;
using GpuConv.Cuda.Native;
using GpuConv.Tensors;

namespace GpuConv.Tests.Cuda;

/// <summary>The CUDA layer on a real GPU; skipped with discovery's reason where there is none.</summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public unsafe class CudaGpuTests
{
    CudaContext _ctx = null!;

    [OneTimeSetUp]
    public void OpenDevice()
    {
        var status = CudaDiscovery.Probe();
        TestContext.Progress.WriteLine(status.Describe(withAttempts: true));
        if (!status.IsAvailable) Assert.Ignore($"GPU unavailable: {status.Reason}");
        _ctx = CudaContext.Open();
    }

    [OneTimeTearDown]
    public void CloseDevice() => _ctx?.Dispose();

    [Test]
    public void DeviceFound()
    {
        var status = CudaDiscovery.Probe();
        Assert.That(status.Devices, Is.Not.Empty);
        Assert.That(status.DriverVersion, Is.GreaterThanOrEqualTo(CudaDiscovery.MinimumDriverVersion));
        var d = _ctx.Device;
        Assert.That(d.Name, Is.Not.Empty);
        Assert.That(d.ComputeMajor, Is.GreaterThanOrEqualTo(7), "sm_70 PTX needs Volta or newer");
        Assert.That(d.MultiprocessorCount, Is.GreaterThan(0));
        Assert.That(d.TotalMemoryBytes, Is.GreaterThan(1L << 30));
        var (free, total) = _ctx.MemoryInfo();
        Assert.That(total, Is.EqualTo(d.TotalMemoryBytes).Within(d.TotalMemoryBytes / 10));
        Assert.That(free, Is.InRange(1L, total));
        TestContext.Out.WriteLine(d);
    }

    [Test]
    public void RandomDataRoundTripsExactly()
    {
        var host = HostTensor.Random(new TensorShape(3, 7, 211, 229), seed: 42);
        using var t = _ctx.Upload(host);
        Assert.That(t.Download(), Is.EqualTo(host.Data));
    }

    [Test]
    public void AsyncRoundTripThroughPinnedBuffersOnAStream()
    {
        const int n = 1 << 20;
        var rng = new Random(9);
        using var stream = _ctx.CreateStream();
        using var src = _ctx.AllocatePinned(n);
        using var dst = _ctx.AllocatePinned(n);
        for (int i = 0; i < n; i++) src.Span[i] = (float)(rng.NextDouble() * 2 - 1);
        using var t = _ctx.Allocate(new TensorShape(n));
        t.CopyFrom(src, stream);
        t.CopyTo(dst, stream);
        stream.Synchronize();
        Assert.That(dst.Span.SequenceEqual(src.Span), Is.True);
    }

    [Test]
    public void CopiesAreOrderedWithKernelsOnTheContextStream()
    {
        // 128 MB on a GPU: large enough that a copy on another stream would still be in flight when the kernel runs.
        // Under the native fakes 16 KB (the PTX interpreter would take minutes over 128 MB): there the fake's stream-order
        // model refuses a misordered copy whatever its size, and this is the only test of the device-to-device copy.
        int n = NativeFakes.NativeFakeLibraries.Folder is null ? 32 << 20 : 4 << 10;
        var pattern = new float[n];
        for (int i = 0; i < n; i++) pattern[i] = i % 977;
        using var a = _ctx.Allocate(new TensorShape(n));
        using var b = _ctx.Allocate(new TensorShape(n));
        a.CopyFrom(pattern);                                   // pageable upload, no stream given
        b.CopyFrom(a);                                         // device to device, no stream given
        KernelLauncher.Fill(_ctx, b.Pointer, n / 2, -1f);      // on the context's stream
        var back = b.Download();
        Assert.That(back.Take(n / 2), Is.All.EqualTo(-1f), "the kernel ran after the copies landed");
        Assert.That(back.Skip(n / 2).SequenceEqual(pattern.Skip(n / 2)), Is.True, "the second half is the uploaded pattern");
    }

    [Test]
    public void FillKernelWritesExactlyCountElements()
    {
        const long count = 1_000_003;   // not a multiple of the block size
        const int guard = 517;
        var sentinel = Enumerable.Repeat(-7.5f, (int)count + guard).ToArray();
        using var t = _ctx.Allocate(new TensorShape((int)count + guard));
        t.CopyFrom(sentinel);
        KernelLauncher.Fill(_ctx, t.Pointer, count, 3.25f);
        _ctx.Stream.Synchronize();
        var back = t.Download();
        Assert.That(back.Take((int)count), Is.All.EqualTo(3.25f));
        Assert.That(back.Skip((int)count), Is.All.EqualTo(-7.5f), "no write past count");
    }

    [Test]
    public void GridStrideLoopCoversMoreThanOneThreadPerElement()
    {
        const int count = 100_000;
        using var t = _ctx.Allocate(new TensorShape(count));
        t.CopyFrom(new float[count]);
        var fn = _ctx.Kernels.GetFunction("fill.ptx", "fill_f32");
        using var args = new KernelArguments().Add(t.Pointer).Add(1.5f).Add((ulong)count);
        KernelLauncher.Launch(_ctx, fn, new Dim3(3), new Dim3(128), args); // 384 threads, ~260 iterations each
        _ctx.Stream.Synchronize();
        Assert.That(t.Download(), Is.All.EqualTo(1.5f));
    }

    [Test]
    public void BadPtxFailsWithTheJitLog()
    {
        // A driver's JIT (or the native fakes given GPUCONV_PTXAS) assembles the text and refuses the instruction.
        // Without ptxas the fakes check only the directives (tests/NativeFakes/fake_cuda.c), so there the same text
        // also lacks its .version: otherwise `dotnet test` on a machine without ptxas fails here.
        bool directivesOnly = NativeFakes.NativeFakeLibraries.Folder is not null &&
            !(Environment.GetEnvironmentVariable("GPUCONV_PTXAS") is { Length: > 0 } ptxas && File.Exists(ptxas));
        string text = (directivesOnly ? "" : ".version 7.0\n") + ".target sm_70\n.address_size 64\n.visible .entry broken_f32() { bogus.instruction; }\n\0";
        var bad = System.Text.Encoding.ASCII.GetBytes(text);
        var ex = Assert.Throws<CudaException>(() => _ctx.Kernels.Load("broken.ptx", bad));
        TestContext.Out.WriteLine(ex!.Message);
        Assert.That(ex.Call, Is.EqualTo("cuModuleLoadDataEx(broken.ptx)"));
        Assert.That(ex.Message, directivesOnly ? Does.Contain("no .version") : Does.Contain("bogus").Or.Contain("error"), "the JIT error log is in the message");
    }

    [Test]
    public void PooledAllocFreeDoesNotLeak()
    {
        _ctx.Synchronize();
        _ctx.Pool.Trim();
        var baseline = _ctx.Pool.Statistics;
        var (freeBefore, _) = _ctx.MemoryInfo();
        long[] sizes = [4, 1000, 65_536, 1 << 20, 3 << 20, 17 << 20];
        for (int i = 0; i < 10_000; i++)
        {
            using var a = _ctx.Pool.Rent(sizes[i % sizes.Length]);
            using var b = _ctx.Pool.Rent(sizes[(i * 7 + 3) % sizes.Length]);
        }
        var after = _ctx.Pool.Statistics;
        Assert.That((after.BlocksInUse, after.BytesInUse), Is.EqualTo((baseline.BlocksInUse, baseline.BytesInUse)));
        Assert.That(after.NativeAllocations - baseline.NativeAllocations, Is.LessThanOrEqualTo(2 * sizes.Length), "the cache serves repeats");
        _ctx.Pool.Trim();
        var (freeAfter, _) = _ctx.MemoryInfo();
        Assert.That(freeAfter, Is.EqualTo(freeBefore).Within(32L << 20), "device free memory back to where it was");
    }

    [Test]
    public void EventsTimeAKernel()
    {
        NativeFakes.NativeFakeLibraries.SkipUnderFakes("times a 256 MB kernel, over a minute in the PTX interpreter");
        const long count = 64L << 20;
        using var t = _ctx.Allocate(new TensorShape((int)count));
        using var start = _ctx.CreateEvent();
        using var end = _ctx.CreateEvent();
        start.Record(_ctx.Stream);
        for (int i = 0; i < 5; i++) KernelLauncher.Fill(_ctx, t.Pointer, count, i);
        end.Record(_ctx.Stream);
        float ms = CudaEvent.ElapsedMilliseconds(start, end);
        TestContext.Out.WriteLine($"5 fills of 256 MiB: {ms:F3} ms");
        Assert.That(ms, Is.GreaterThan(0f).And.LessThan(60_000f));
        Assert.That(t.Download()[^1], Is.EqualTo(4f));
    }

    [TestCase(67, 45, 129, false, false)]
    [TestCase(128, 256, 64, false, false)]
    [TestCase(33, 17, 90, true, false)]
    [TestCase(31, 65, 12, false, true)]
    public void CublasSgemmMatchesDoubleGemm(int m, int n, int k, bool transA, bool transB)
    {
        if (!CudaDiscovery.Probe().CublasAvailable) Assert.Ignore($"cuBLAS unavailable: {CudaDiscovery.Probe().CublasReason}");
        var a = HostTensor.Random(new TensorShape(m * k), seed: 1);
        var b = HostTensor.Random(new TensorShape(k * n), seed: 2);
        using var da = _ctx.Upload(a);
        using var db = _ctx.Upload(b);
        using var dc = _ctx.Allocate(new TensorShape(m * n));
        using var blas = CublasHandle.Create(_ctx);
        blas.GemmRowMajor(m, n, k, da.Pointer, db.Pointer, dc.Pointer, transposeA: transA, transposeB: transB);
        _ctx.Stream.Synchronize();
        var c = dc.Download();

        double maxErr = 0, maxRef = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    double av = transA ? a.Data[p * m + i] : a.Data[i * k + p];
                    double bv = transB ? b.Data[j * k + p] : b.Data[p * n + j];
                    sum += av * bv;
                }
                maxErr = Math.Max(maxErr, Math.Abs(sum - c[i * n + j]));
                maxRef = Math.Max(maxRef, Math.Abs(sum));
            }
        TestContext.Out.WriteLine($"m={m} n={n} k={k}: max abs error {maxErr:E3}, max |ref| {maxRef:F3}");
        Assert.That(maxErr / maxRef, Is.LessThan(1e-5), "strict FP32 (pedantic math, no TF32)");
    }

    [Test]
    public void CudnnHandleCreatesAndAnswers()
    {
        var status = CudaDiscovery.Probe();
        if (!status.CudnnAvailable) Assert.Ignore($"cuDNN unavailable: {status.CudnnReason}");
        TestContext.Out.WriteLine($"cuDNN {status.CudnnVersion} from {status.CudnnPath}");
        Assert.That((long)CuDnn.cudnnGetVersion(), Is.GreaterThanOrEqualTo(8000));
        using var handle = CudnnHandle.Create(_ctx);
        CuDnn.Check(CuDnn.cudnnGetConvolutionForwardAlgorithmMaxCount(handle.Raw, out int fwd), "cudnnGetConvolutionForwardAlgorithmMaxCount");
        Assert.That(fwd, Is.GreaterThan(0));

        // x [2,3,9,11], w [4,3,3,3], pad 1, stride 2 -> y [2,4,5,6]: exercises the descriptor bindings' argument order.
        using var x = new CudnnTensorDescriptor();
        using var w = new CudnnFilterDescriptor();
        using var conv = new CudnnConvolutionDescriptor();
        CuDnn.Check(CuDnn.cudnnSetTensor4dDescriptor(x.Raw, CudnnTensorFormat.Nchw, CudnnDataType.Float, 2, 3, 9, 11), "cudnnSetTensor4dDescriptor");
        CuDnn.Check(CuDnn.cudnnSetFilter4dDescriptor(w.Raw, CudnnDataType.Float, CudnnTensorFormat.Nchw, 4, 3, 3, 3), "cudnnSetFilter4dDescriptor");
        CuDnn.Check(CuDnn.cudnnSetConvolution2dDescriptor(conv.Raw, 1, 1, 2, 2, 1, 1, CudnnConvolutionMode.CrossCorrelation, CudnnDataType.Float),
            "cudnnSetConvolution2dDescriptor");
        int* dims = stackalloc int[4];
        CuDnn.Check(CuDnn.cudnnGetConvolutionNdForwardOutputDim(conv.Raw, x.Raw, w.Raw, 4, dims), "cudnnGetConvolutionNdForwardOutputDim");
        Assert.That(new[] { dims[0], dims[1], dims[2], dims[3] }, Is.EqualTo(new[] { 2, 4, 5, 6 }));

        using var y = new CudnnTensorDescriptor();
        CuDnn.Check(CuDnn.cudnnSetTensor4dDescriptor(y.Raw, CudnnTensorFormat.Nchw, CudnnDataType.Float, 2, 4, 5, 6), "cudnnSetTensor4dDescriptor");
        var perf = stackalloc CudnnConvolutionAlgoPerf[fwd];
        CuDnn.Check(CuDnn.cudnnGetConvolutionForwardAlgorithm_v7(handle.Raw, x.Raw, w.Raw, conv.Raw, y.Raw, fwd, out int returned, perf),
            "cudnnGetConvolutionForwardAlgorithm_v7");
        Assert.That(returned, Is.InRange(1, fwd));
        TestContext.Out.WriteLine(perf[0]);
        Assert.That(perf[0].Status, Is.EqualTo(CudnnStatus.Success));
        Assert.That(perf[0].Algo, Is.InRange(0, (int)CudnnConvolutionFwdAlgo.Count - 1));
    }

    [Test]
    public void CudnnErrorsComeBackAsCuDnn9Statuses()
    {
        if (!CudaDiscovery.Probe().CudnnAvailable) Assert.Ignore($"cuDNN unavailable: {CudaDiscovery.Probe().CudnnReason}");
        using var x = new CudnnTensorDescriptor();
        var ex = Assert.Throws<CudnnException>(() =>
            CuDnn.Check(CuDnn.cudnnSetTensor4dDescriptor(x.Raw, CudnnTensorFormat.Nchw, CudnnDataType.Float, -1, 3, 9, 11), "cudnnSetTensor4dDescriptor"));
        TestContext.Out.WriteLine(ex!.Message);
        Assert.That(ex.Category, Is.EqualTo(2), "a negative dimension is a BAD_PARAM (2xxx) in cuDNN 9");
        Assert.That(ex.Message, Does.StartWith("cudnnSetTensor4dDescriptor failed: CUDNN_STATUS_BAD_PARAM"));
    }

    [Test]
    public void ImpossibleAllocationIsAnOutOfMemoryException()
    {
        var ex = Assert.Throws<DeviceOutOfMemoryException>(() => _ctx.Pool.Rent(1L << 50));
        Assert.That(ex!.RequestedBytes, Is.GreaterThanOrEqualTo(1L << 50));
    }
}
