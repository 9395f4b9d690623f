using GpuConv.Cuda;
using GpuConv.Cuda.Discovery;
using GpuConv.Cuda.Native;

namespace GpuConv.Tests.Cuda;

/// <summary>
/// cuBLAS (and NVRTC) are paired with cuDNN's installation and bounded by the driver's CUDA version (LibraryLocator's
/// rule), on fake folder trees: a host with a system CUDA 12 toolkit and a venv of CUDA 13 wheels, the reverse, a
/// driver too old for cuBLAS 13, both wheel majors in one venv, and a cuDNN the user put on LD_LIBRARY_PATH. Before the
/// rule the first folder holding any cuBLAS soname won: a toolkit on LD_LIBRARY_PATH or CUDA_HOME gave cuBLAS 12 beside
/// the wheels' CUDA 13 cuDNN.
/// </summary>
public class CudnnPairingDiscoveryTests
{
    FakeProbeEnvironment _env = null!;
    string _site = null!;

    [SetUp]
    public void SetUp()
    {
        _env = new FakeProbeEnvironment { DriverVersion = 13000 };
        _site = _env.Dir("venv/lib/python3.12/site-packages");
        _env.SitePackages.Add(_site);
    }

    [TearDown] public void TearDown() => _env.Dispose();

    /// <summary>The CUDA 13 wheels (cuDNN 9 in nvidia/cudnn/lib, cuBLAS and NVRTC 13 in nvidia/cu13/lib) in the venv.</summary>
    (string Cudnn, string Cublas, string Nvrtc) InstallCuda13Wheels()
    {
        _env.Touch($"{Rel}/nvidia/cu13/lib/libcublasLt.so.13");
        var nvrtc = _env.Touch($"{Rel}/nvidia/cu13/lib/libnvrtc.so.13");
        return (_env.Touch($"{Rel}/nvidia/cudnn/lib/libcudnn.so.9"), _env.Touch($"{Rel}/nvidia/cu13/lib/libcublas.so.13"), nvrtc);
    }

    /// <summary>A CUDA 12 toolkit at sys/usr/local/cuda-12 (cuBLAS 12, NVRTC 12 in lib64).</summary>
    (string Folder, string Cublas) InstallToolkit(int major)
    {
        string lib = $"sys/usr/local/cuda-{major}/lib64";
        _env.Touch($"{lib}/libcublasLt.so.{major}");
        _env.Touch($"{lib}/libnvrtc.so.{major}");
        return (Path.Join(_env.Root, lib), _env.Touch($"{lib}/libcublas.so.{major}"));
    }

    string Rel => Path.GetRelativePath(_env.Root, _site);

    [Test]
    public void Toolkit12OnLdLibraryPath_AndCuda13Wheels_CublasComesFromTheWheelsBesideCudnn()
    {
        var (cudnn, cublas13, nvrtc13) = InstallCuda13Wheels();
        var (toolkit, _) = InstallToolkit(12);
        _env.Variables["LD_LIBRARY_PATH"] = toolkit;
        var locator = new LibraryLocator(_env);

        var cublas = locator.Locate(NativeLibrarySpec.Cublas);

        Assert.That(cublas.Path, Is.EqualTo(cublas13), "the toolkit's libcublas.so.12 comes first in the search order, but cuDNN is the wheels'");
        Assert.That(cublas.Choice, Does.StartWith($"from cuDNN's installation {Path.Join(_site, "nvidia")}"));
        Assert.That(locator.Locate(NativeLibrarySpec.Nvrtc).Path, Is.EqualTo(nvrtc13));
        Assert.That(locator.Locate(NativeLibrarySpec.Cudnn).Path, Is.EqualTo(cudnn));
        Assert.That(_env.Loads, Has.None.StartsWith(toolkit), "nothing of the CUDA 12 toolkit was loaded");
    }

    [Test]
    public void CudaHomeOnAToolkit12_AndCuda13Wheels_CublasComesFromTheWheels()
    {
        var (_, cublas13, _) = InstallCuda13Wheels();
        InstallToolkit(12);
        _env.Variables["CUDA_HOME"] = Path.Join(_env.Root, "sys/usr/local/cuda-12");

        Assert.That(new LibraryLocator(_env).Locate(NativeLibrarySpec.Cublas).Path, Is.EqualTo(cublas13));
    }

    [Test]
    public void Toolkit13OnLdLibraryPath_AndCuda12Wheels_CublasComesFromTheCuda12Wheel()
    {
        // CUDA 12 wheels: cuBLAS in nvidia/cublas/lib, cuDNN (built for CUDA 12) in nvidia/cudnn/lib.
        _env.Touch($"{Rel}/nvidia/cublas/lib/libcublasLt.so.12");
        var cublas12 = _env.Touch($"{Rel}/nvidia/cublas/lib/libcublas.so.12");
        _env.Touch($"{Rel}/nvidia/cudnn/lib/libcudnn.so.9");
        var (toolkit, _) = InstallToolkit(13);
        _env.Variables["LD_LIBRARY_PATH"] = toolkit;

        var cublas = new LibraryLocator(_env).Locate(NativeLibrarySpec.Cublas);

        Assert.That(cublas.Path, Is.EqualTo(cublas12), "cuDNN is the CUDA 12 wheel's: its cuBLAS 12, not the toolkit's 13");
        Assert.That(_env.Loads, Has.None.StartsWith(toolkit));
    }

    [Test]
    public void ADriverOlderThanCuda13_SkipsCublas13_AndSaysWhy()
    {
        _env.DriverVersion = 12080;
        var (_, cublas13, _) = InstallCuda13Wheels();
        var (_, cublas12) = InstallToolkit(12);
        var locator = new LibraryLocator(_env);

        var cublas = locator.Locate(NativeLibrarySpec.Cublas);

        Assert.That(cublas.Path, Is.EqualTo(cublas12), "cuBLAS 13 cannot work on a CUDA 12.8 driver; the toolkit's 12 can");
        Assert.That(cublas.Attempts, Has.Some.EqualTo(new LibraryAttempt("cuBLAS", cublas13, AttemptOutcome.Skipped,
            "cuBLAS for CUDA 13 needs a CUDA 13 driver; this driver supports CUDA 12.8")));
        Assert.That(cublas.Choice, Does.StartWith("first in the search order (none in cuDNN's installation").And.EndWith("driver CUDA 12.8 allows up to cuBLAS 12"));
        Assert.That(_env.Loads, Has.None.EqualTo(cublas13));
        Assert.That(new LibraryAttempt("cuBLAS", cublas13, AttemptOutcome.Skipped, "why").ToString(), Is.EqualTo($"{cublas13} (skipped: why)"));
    }

    [Test]
    public void BothWheelMajorsInOneVenv_TheNewestTheDriverAllowsWins()
    {
        var (_, cublas13, _) = InstallCuda13Wheels();
        _env.Touch($"{Rel}/nvidia/cublas/lib/libcublasLt.so.12");
        var cublas12 = _env.Touch($"{Rel}/nvidia/cublas/lib/libcublas.so.12");

        Assert.That(new LibraryLocator(_env).Locate(NativeLibrarySpec.Cublas).Path, Is.EqualTo(cublas13), "driver 13.0");
        _env.DriverVersion = 12040;
        Assert.That(new LibraryLocator(_env).Locate(NativeLibrarySpec.Cublas).Path, Is.EqualTo(cublas12), "driver 12.4");
    }

    [Test]
    public void ACudnnOnLdLibraryPath_BringsTheCublasBesideIt()
    {
        InstallCuda13Wheels();
        string mine = _env.Dir("opt/mycuda/lib64");
        _env.Touch("opt/mycuda/lib64/libcudnn.so.9");
        _env.Touch("opt/mycuda/lib64/libcublasLt.so.12");
        var cublas12 = _env.Touch("opt/mycuda/lib64/libcublas.so.12");
        _env.Variables["LD_LIBRARY_PATH"] = mine;

        var cublas = new LibraryLocator(_env).Locate(NativeLibrarySpec.Cublas);

        Assert.That(cublas.Path, Is.EqualTo(cublas12), "the user's explicit cuDNN folder wins, and its cuBLAS with it");
        Assert.That(cublas.Choice, Does.StartWith($"from cuDNN's installation {Path.Join(_env.Root, "opt/mycuda")}"));
    }

    [Test]
    public void WithoutCudnnOrDriverTheSearchOrderDecidesAsBefore()
    {
        _env.DriverVersion = 0;
        var (toolkit, cublas12) = InstallToolkit(12);
        _env.Touch($"{Rel}/nvidia/cu13/lib/libcublas.so.13");
        _env.Variables["LD_LIBRARY_PATH"] = toolkit;

        var cublas = new LibraryLocator(_env).Locate(NativeLibrarySpec.Cublas);

        Assert.That(cublas.Path, Is.EqualTo(cublas12));
        Assert.That(cublas.Choice, Is.EqualTo("first in the search order (no cuDNN to pair with); driver version unknown"));
    }

    [Test]
    public void InstallationsOfWheelAndToolkitFolders()
    {
        Assert.That(LibraryLocator.InstallationOf("/v/site-packages/nvidia/cudnn/lib"), Is.EqualTo("/v/site-packages/nvidia"));
        Assert.That(LibraryLocator.InstallationOf("/v/site-packages/nvidia/cu13/lib/"), Is.EqualTo("/v/site-packages/nvidia"));
        Assert.That(LibraryLocator.InstallationOf("/usr/local/cuda-12.4/lib64"), Is.EqualTo("/usr/local/cuda-12.4"));
        Assert.That(LibraryLocator.InstallationOf("/usr/local/cuda-12.4/targets/x86_64-linux/lib"), Is.EqualTo("/usr/local/cuda-12.4"));
        Assert.That(LibraryLocator.InstallationOf("/usr/lib/x86_64-linux-gnu"), Is.EqualTo("/usr/lib/x86_64-linux-gnu"));
        Assert.That(NativeLibrarySpec.CudaMajor("libcublas.so.13"), Is.EqualTo(13));
        Assert.That(NativeLibrarySpec.CudaMajor("cublas64_12.dll"), Is.EqualTo(12));
        Assert.That(NativeLibrarySpec.CudaMajor("nvrtc64_130_0.dll"), Is.EqualTo(13));
    }

    /// <summary>`gpuconv devices` prints GpuStatus.Describe: the cuBLAS line says where it came from and the driver's bound.</summary>
    [Test]
    public void TheDevicesReportNamesTheChoice()
    {
        _env.SystemLoaderHas.Add("libcuda.so.1");
        var (_, cublas13, _) = InstallCuda13Wheels();
        InstallToolkit(12);
        _env.Variables["LD_LIBRARY_PATH"] = Path.Join(_env.Root, "sys/usr/local/cuda-12/lib64");
        var locator = new LibraryLocator(_env);

        var status = CudaDiscovery.Probe(locator.Locate, new Cuda13Gpu(), locator);

        Assert.That(status.CublasPath, Is.EqualTo(cublas13));
        Assert.That(status.Describe(), Does.Contain(
            $"cuBLAS 13.0.2: {cublas13} (from cuDNN's installation {Path.Join(_site, "nvidia")}; driver CUDA 13.0 allows up to cuBLAS 13)"));
    }

    sealed class Cuda13Gpu : IGpuQueries
    {
        public CuResult Init() => CuResult.Success;
        public CuResult DriverVersion(out int version) { version = 13000; return CuResult.Success; }
        public CuResult DeviceCount(out int count) { count = 1; return CuResult.Success; }
        public CudaDeviceInfo Device(int ordinal) => new(ordinal, "Fake H200", 9, 0, 132, 150_754_820_096);
        public string DescribeDriverStatus(CuResult status) => status.ToString();
        public string CublasVersion() => "13.0.2";
        public string CudnnVersion() => "9.13.0";
    }
}
