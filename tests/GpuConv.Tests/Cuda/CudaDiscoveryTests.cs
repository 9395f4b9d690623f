using GpuConv.Cuda;
using GpuConv.Cuda.Discovery;
using GpuConv.Cuda.Native;

namespace GpuConv.Tests.Cuda;

public class CudaDiscoveryTests
{
    FakeProbeEnvironment _env = null!;
    LibraryLocator _locator = null!;

    [SetUp]
    public void SetUp()
    {
        _env = new FakeProbeEnvironment();
        _locator = new LibraryLocator(_env);
    }

    [TearDown] public void TearDown() => _env.Dispose();

    GpuStatus Probe(FakeGpu gpu) => CudaDiscovery.Probe(_locator.Locate, gpu, _locator);

    void InstallDriver() => _env.SystemLoaderHas.Add("libcuda.so.1");

    [Test]
    public void NoDriverLibraryMeansUnavailableWithTheTriedPaths()
    {
        var status = Probe(new FakeGpu());
        Assert.That(status.IsAvailable, Is.False);
        Assert.That(status.Reason, Does.StartWith("libcuda.so.1 not found: tried libcuda.so.1 via the system loader"));
        Assert.That(status.Attempts, Is.Not.Empty);
    }

    [Test]
    public void NoDeviceFromCuInit()
    {
        InstallDriver();
        var status = Probe(new FakeGpu { InitResult = CuResult.ErrorNoDevice });
        Assert.That(status.IsAvailable, Is.False);
        Assert.That(status.Reason, Is.EqualTo("no CUDA device: cuInit reported CUDA_ERROR_NO_DEVICE (fake text)"));
        Assert.That(status.DriverPath, Is.EqualTo("libcuda.so.1"));
    }

    [Test]
    public void OtherCuInitFailures()
    {
        InstallDriver();
        var status = Probe(new FakeGpu { InitResult = CuResult.ErrorSystemDriverMismatch });
        Assert.That(status.Reason, Is.EqualTo("cuInit failed: CUDA_ERROR_SYSTEM_DRIVER_MISMATCH (fake text)"));
    }

    [Test]
    public void DriverTooOld()
    {
        InstallDriver();
        var status = Probe(new FakeGpu { Version = 10020 });
        Assert.That(status.IsAvailable, Is.False);
        Assert.That(status.Reason, Is.EqualTo("driver too old: it supports CUDA 10.2, GpuConv needs 11.0 or newer"));
        Assert.That(status.DriverVersion, Is.EqualTo(10020));
    }

    [Test]
    public void ZeroDevices()
    {
        InstallDriver();
        Assert.That(Probe(new FakeGpu { Count = 0 }).Reason, Is.EqualTo("no CUDA device: the driver reports 0 devices"));
    }

    [Test]
    public void AvailableWithDevicesAndLibraryVersions()
    {
        InstallDriver();
        _env.Variables["LD_LIBRARY_PATH"] = _env.Dir("lib");
        _env.Touch("lib/libcublas.so.13");
        _env.Touch("lib/libcudnn.so.9");

        var status = Probe(new FakeGpu { Count = 2 });

        Assert.That(status.IsAvailable, Is.True);
        Assert.That(status.Reason, Is.EqualTo("available"));
        Assert.That(status.Devices.Select(d => d.Name), Is.EqualTo(new[] { "Fake H100 #0", "Fake H100 #1" }));
        Assert.That(status.DriverVersion, Is.EqualTo(13000));
        Assert.That(status.CublasVersion, Is.EqualTo("13.0.2"));
        Assert.That(status.CudnnVersion, Is.EqualTo("9.13.0"));
        Assert.That(status.CublasAvailable && status.CudnnAvailable, Is.True);
        Assert.That(status.Describe(), Does.Contain("GPU 1: Fake H100 #1, compute 9.0, 132 SMs, 79.6 GiB"));
    }

    [Test]
    public void MissingCudnnIsReportedSeparatelyFromTheGpu()
    {
        InstallDriver();
        _env.Variables["LD_LIBRARY_PATH"] = _env.Dir("lib");
        _env.Touch("lib/libcublas.so.13");

        var status = Probe(new FakeGpu());

        Assert.That(status.IsAvailable, Is.True);
        Assert.That(status.CublasAvailable, Is.True);
        Assert.That(status.CudnnAvailable, Is.False);
        Assert.That(status.CudnnReason, Does.StartWith("libcudnn.so.9 / libcudnn.so.8 not found: tried"));
    }

    [Test]
    public void ALibraryThatLoadsButCannotAnswerIsReported()
    {
        InstallDriver();
        _env.Variables["LD_LIBRARY_PATH"] = _env.Dir("lib");
        var cudnn = _env.Touch("lib/libcudnn.so.9");
        var status = Probe(new FakeGpu { CudnnThrows = true });
        Assert.That(status.CudnnVersion, Is.Null);
        Assert.That(status.CudnnReason, Is.EqualTo($"cuDNN loaded from {cudnn} but does not answer: symbol missing"));
    }

    [Test]
    public void AThrowingQueryNeverEscapes()
    {
        InstallDriver();
        var status = Probe(new FakeGpu { DeviceThrows = true });
        Assert.That(status.IsAvailable, Is.False);
        Assert.That(status.Reason, Does.StartWith("discovery failed unexpectedly: CudaException"));
    }

    [Test]
    public void DriverVersionFormatting()
    {
        Assert.That(GpuStatus.FormatDriverVersion(13000), Is.EqualTo("13.0"));
        Assert.That(GpuStatus.FormatDriverVersion(12060), Is.EqualTo("12.6"));
        Assert.That(GpuStatus.FormatDriverVersion(0), Is.EqualTo("unknown"));
    }

    sealed class FakeGpu : IGpuQueries
    {
        public CuResult InitResult { get; init; } = CuResult.Success;
        public int Version { get; init; } = 13000;
        public int Count { get; init; } = 1;
        public bool DeviceThrows { get; init; }
        public bool CudnnThrows { get; init; }

        public CuResult Init() => InitResult;
        public CuResult DriverVersion(out int version) { version = Version; return CuResult.Success; }
        public CuResult DeviceCount(out int count) { count = Count; return CuResult.Success; }

        public CudaDeviceInfo Device(int ordinal) => DeviceThrows
            ? throw new CudaException(CuResult.ErrorInvalidDevice, "cuDeviceGet", "fake")
            : new CudaDeviceInfo(ordinal, $"Fake H100 #{ordinal}", 9, 0, 132, 85_450_784_768);

        public string DescribeDriverStatus(CuResult status) =>
            $"CUDA_ERROR_{GpuConv.Cuda.Native.NativeText.UpperSnake(status.ToString().Replace("Error", ""))} (fake text)";

        public string CublasVersion() => "13.0.2";
        public string CudnnVersion() => CudnnThrows ? throw new EntryPointNotFoundException("symbol missing") : "9.13.0";
    }
}
