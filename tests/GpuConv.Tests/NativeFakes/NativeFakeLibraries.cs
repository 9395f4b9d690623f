using System.Runtime.InteropServices;

namespace GpuConv.Tests.NativeFakes;

/// <summary>
/// The native fakes of tests/NativeFakes (fake libcuda.so.1, libcudnn.so.9, libcublas.so.13) as this process
/// sees them: <c>GPUCONV_NATIVE_FAKES</c> names their folder in a child process started to run the GPU code
/// against them (the same folder is first on its LD_LIBRARY_PATH, so discovery finds them). Unset — every
/// ordinary test run — nothing here loads anything.
/// </summary>
static unsafe class NativeFakeLibraries
{
    public const string FolderVariable = "GPUCONV_NATIVE_FAKES";

    static nint _driver;

    /// <summary>The folder of the fakes when this process runs against them; null otherwise.</summary>
    public static string? Folder => Environment.GetEnvironmentVariable(FolderVariable) is { Length: > 0 } f ? f : null;

    /// <summary>
    /// Skips a GPU test that measures speed or moves hundreds of megabytes through kernels: under the native
    /// fakes kernels run in the PTX interpreter (minutes for such sizes, and timings mean nothing). Nothing
    /// happens on a real GPU.
    /// </summary>
    public static void SkipUnderFakes(string why)
    {
        if (Folder is not null) Assert.Ignore($"skipped under the native fakes: {why}");
    }

    /// <summary>The fake driver (the same instance discovery loads: same file, same soname); throws when it is not there.</summary>
    public static nint Driver
    {
        get
        {
            if (_driver != 0) return _driver;
            var folder = Folder ?? throw new InvalidOperationException($"{FolderVariable} is not set");
            _driver = NativeLibrary.Load(Path.Join(folder, "libcuda.so.1"));
            return _driver;
        }
    }

    public static T Export<T>(string name) where T : unmanaged
    {
        nint p = NativeLibrary.GetExport(Driver, name);
        return *(T*)&p;
    }

    /// <summary>Live device allocations of the fake driver, and its counters, now.</summary>
    public static (long LiveAllocations, long LiveBytes, long Allocations, long Frees, long Refusals) Stats()
    {
        var stats = Export<nint>("gpuconv_fake_stats");
        long live, bytes, allocs, frees, refusals;
        ((delegate* unmanaged<long*, long*, long*, long*, long*, void>)stats)(&live, &bytes, &allocs, &frees, &refusals);
        return (live, bytes, allocs, frees, refusals);
    }
}
