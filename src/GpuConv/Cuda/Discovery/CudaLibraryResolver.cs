using System.Reflection;
using System.Runtime.InteropServices;

namespace GpuConv.Cuda.Discovery;

/// <summary>
/// The one place native CUDA libraries are found: a DllImport resolver on the GpuConv assembly maps
/// the logical names in <see cref="Native.NativeLibraryNames"/> to the files <see cref="LibraryLocator"/>
/// located. Registered by the binding classes' static constructors, before their first call.
/// </summary>
internal static class CudaLibraryResolver
{
    static readonly object Gate = new();
    static bool _registered;

    public static LibraryLocator Locator { get; } = new(SystemProbeEnvironment.Instance);

    public static void EnsureRegistered()
    {
        lock (Gate)
        {
            if (_registered) return;
            try { NativeLibrary.SetDllImportResolver(typeof(CudaLibraryResolver).Assembly, Resolve); }
            catch (InvalidOperationException) { /* someone already set one: keep theirs */ }
            _registered = true;
        }
    }

    static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        SpecFor(libraryName) is { } spec ? Load(spec).Handle : 0;

    public static LocateResult Load(NativeLibrarySpec spec)
    {
        if (spec == NativeLibrarySpec.Cudnn)
        {
            // cuDNN's engines use cuBLASLt and NVRTC; have them loaded (best effort) before cuDNN.
            Locator.Locate(NativeLibrarySpec.Cublas);
            Locator.Locate(NativeLibrarySpec.Nvrtc);
        }
        return Locator.Locate(spec);
    }

    static NativeLibrarySpec? SpecFor(string logicalName) => logicalName switch
    {
        Native.NativeLibraryNames.Driver => NativeLibrarySpec.Driver,
        Native.NativeLibraryNames.Cublas => NativeLibrarySpec.Cublas,
        Native.NativeLibraryNames.Cudnn => NativeLibrarySpec.Cudnn,
        _ => null,
    };
}
