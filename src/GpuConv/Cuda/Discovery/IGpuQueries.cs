using GpuConv.Cuda.Native;

namespace GpuConv.Cuda.Discovery;

/// <summary>The native questions discovery asks once the libraries are loaded; a seam so reason texts are testable on CPU.</summary>
internal interface IGpuQueries
{
    CuResult Init();
    CuResult DriverVersion(out int version);
    CuResult DeviceCount(out int count);
    CudaDeviceInfo Device(int ordinal);
    string DescribeDriverStatus(CuResult status);
    /// <summary>"13.0.2"; throws if cuBLAS cannot answer.</summary>
    string CublasVersion();
    /// <summary>"9.13.0"; throws if cuDNN cannot answer.</summary>
    string CudnnVersion();
}

/// <summary>The real driver, cuBLAS and cuDNN through the bindings.</summary>
internal sealed class NativeGpuQueries : IGpuQueries
{
    public static readonly NativeGpuQueries Instance = new();

    public CuResult Init() => Traced("cuInit", CudaDriver.cuInit, 0u);
    public CuResult DriverVersion(out int version)
    {
        long started = NativeTrace.Start();
        var status = CudaDriver.cuDriverGetVersion(out version);
        NativeTrace.Record(started, "cuDriverGetVersion", NativeText.StatusLabel(status), $"-> {version}");
        return status;
    }

    public CuResult DeviceCount(out int count)
    {
        long started = NativeTrace.Start();
        var status = CudaDriver.cuDeviceGetCount(out count);
        NativeTrace.Record(started, "cuDeviceGetCount", NativeText.StatusLabel(status), $"-> {count}");
        return status;
    }

    static CuResult Traced(string call, Func<uint, CuResult> function, uint argument)
    {
        long started = NativeTrace.Start();
        var status = function(argument);
        NativeTrace.Record(started, call, NativeText.StatusLabel(status), $"{argument}");
        return status;
    }
    public CudaDeviceInfo Device(int ordinal) => DeviceQueries.Describe(ordinal);

    public string DescribeDriverStatus(CuResult status)
    {
        var (name, text) = CudaDriver.Describe(status);
        return text.Length > 0 ? $"{name} ({text})" : name;
    }

    public string CublasVersion()
    {
        CuBlas.Check(NativeTrace.Start(), CuBlas.cublasGetProperty(LibraryProperty.MajorVersion, out int major), "cublasGetProperty");
        CuBlas.Check(NativeTrace.Start(), CuBlas.cublasGetProperty(LibraryProperty.MinorVersion, out int minor), "cublasGetProperty");
        CuBlas.Check(NativeTrace.Start(), CuBlas.cublasGetProperty(LibraryProperty.PatchLevel, out int patch), "cublasGetProperty");
        return $"{major}.{minor}.{patch}";
    }

    public string CudnnVersion()
    {
        // cuDNN 9 encodes major*10000 + minor*100 + patch (cuDNN 8: major*1000 + minor*100 + patch).
        ulong v = CuDnn.cudnnGetVersion();
        if (v >= 90000)
        {
            // The legacy convolution API lives in the cnn sub-library, loaded lazily by name from
            // libcudnn's folder: check now so a missing piece is a discovery reason, not a later crash.
            CheckSubLibrary(CuDnn.cudnnGraphVersionCheck, "cudnnGraphVersionCheck");
            CheckSubLibrary(CuDnn.cudnnOpsVersionCheck, "cudnnOpsVersionCheck");
            CheckSubLibrary(CuDnn.cudnnCnnVersionCheck, "cudnnCnnVersionCheck");
        }
        return v >= 90000 ? $"{v / 10000}.{v % 10000 / 100}.{v % 100}" : $"{v / 1000}.{v % 1000 / 100}.{v % 100}";
    }

    static void CheckSubLibrary(Func<CudnnStatus> check, string call)
    {
        CudnnStatus status;
        long started = NativeTrace.Start();
        try { status = check(); }
        catch (EntryPointNotFoundException) { return; } // not exported by this build: nothing to check
        CuDnn.Check(started, status, call);
    }
}
