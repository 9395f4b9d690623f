namespace GpuConv.Cuda.Discovery;

/// <summary>
/// Finds out whether the GPU path can run: locates the libraries, initialises the driver, lists the
/// devices and asks cuBLAS/cuDNN for their versions. Never throws: every failure becomes the
/// <see cref="GpuStatus.Reason"/> (or the cuBLAS/cuDNN reason).
/// </summary>
public static class CudaDiscovery
{
    /// <summary>PTX ISA 7.0 (our kernels' .version) needs a driver for CUDA 11.0 or newer.</summary>
    public const int MinimumDriverVersion = 11000;

    static readonly Lazy<GpuStatus> Cached = new(() => Probe(CudaLibraryResolver.Load, NativeGpuQueries.Instance, CudaLibraryResolver.Locator));

    /// <summary>The process-wide answer (probed once; native libraries stay loaded).</summary>
    public static GpuStatus Probe() => Cached.Value;

    internal static GpuStatus Probe(Func<NativeLibrarySpec, LocateResult> load, IGpuQueries gpu, LibraryLocator locator)
    {
        try { return ProbeCore(load, gpu, locator); }
        catch (Exception e)
        {
            return new GpuStatus { Reason = $"discovery failed unexpectedly: {e.GetType().Name}: {e.Message}", Attempts = SafeAttempts(locator) };
        }
    }

    static GpuStatus ProbeCore(Func<NativeLibrarySpec, LocateResult> load, IGpuQueries gpu, LibraryLocator locator)
    {
        var driver = load(NativeLibrarySpec.Driver);
        if (!driver.Found)
            return new GpuStatus { Reason = driver.FailureReason, Attempts = locator.AllAttempts };

        var status = new GpuStatus { Reason = "", DriverPath = driver.Path, Attempts = locator.AllAttempts };

        var init = gpu.Init();
        if (init == Native.CuResult.ErrorNoDevice)
            return status with { Reason = $"no CUDA device: cuInit reported {gpu.DescribeDriverStatus(init)}" };
        if (init != Native.CuResult.Success)
            return status with { Reason = $"cuInit failed: {gpu.DescribeDriverStatus(init)}" };

        var rv = gpu.DriverVersion(out int version);
        if (rv != Native.CuResult.Success)
            return status with { Reason = $"cuDriverGetVersion failed: {gpu.DescribeDriverStatus(rv)}" };
        status = status with { DriverVersion = version };
        if (version < MinimumDriverVersion)
            return status with
            {
                Reason = $"driver too old: it supports CUDA {GpuStatus.FormatDriverVersion(version)}, GpuConv needs {GpuStatus.FormatDriverVersion(MinimumDriverVersion)} or newer",
            };

        var rc = gpu.DeviceCount(out int count);
        if (rc != Native.CuResult.Success)
            return status with { Reason = $"cuDeviceGetCount failed: {gpu.DescribeDriverStatus(rc)}" };
        if (count == 0)
            return status with { Reason = "no CUDA device: the driver reports 0 devices" };

        var devices = new List<CudaDeviceInfo>();
        for (int i = 0; i < count; i++) devices.Add(gpu.Device(i));
        status = status with { IsAvailable = true, Reason = "available", Devices = devices };

        status = ProbeLibrary(status, load, NativeLibrarySpec.Cublas, gpu.CublasVersion,
            (s, path, v, why) => s with { CublasPath = path, CublasVersion = v, CublasReason = why });
        if (status.CublasVersion is not null) status = status with { CublasChoice = load(NativeLibrarySpec.Cublas).Choice };
        status = ProbeLibrary(status, load, NativeLibrarySpec.Cudnn, gpu.CudnnVersion,
            (s, path, v, why) => s with { CudnnPath = path, CudnnVersion = v, CudnnReason = why });
        return status with { Attempts = locator.AllAttempts };
    }

    static GpuStatus ProbeLibrary(GpuStatus status, Func<NativeLibrarySpec, LocateResult> load, NativeLibrarySpec spec,
        Func<string> version, Func<GpuStatus, string?, string?, string?, GpuStatus> set)
    {
        var located = load(spec);
        if (!located.Found) return set(status, null, null, located.FailureReason);
        try { return set(status, located.Path, version(), null); }
        catch (Exception e) { return set(status, located.Path, null, $"{spec.DisplayName} loaded from {located.Path} but does not answer: {e.Message}"); }
    }

    static IReadOnlyList<LibraryAttempt> SafeAttempts(LibraryLocator locator)
    {
        try { return locator.AllAttempts; } catch (Exception) { return []; }
    }
}
