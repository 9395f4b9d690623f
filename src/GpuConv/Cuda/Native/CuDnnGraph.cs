using System.Runtime.InteropServices;

namespace GpuConv.Cuda.Native;

/// <summary>
/// cuDNN 9's backend ("graph") API, declared in cudnn_graph.h. The functions live in libcudnn_graph.so.9;
/// libcudnn.so.9 is cuDNN 9's shim that exports every public function of the sub-libraries and loads them
/// from its own folder on first use (cuDNN 9 release notes, "API changes": the library split), so they are
/// bound through the same library as the legacy calls. A backend descriptor is an opaque pointer
/// (<c>cudnnBackendDescriptor_t = void*</c>); element counts are int64.
/// </summary>
internal static unsafe partial class CuDnnGraph
{
    static CuDnnGraph() => Discovery.CudaLibraryResolver.EnsureRegistered();

    const string Lib = NativeLibraryNames.Cudnn;

    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnBackendCreateDescriptor(CudnnBackendDescriptorType descriptorType, out nint descriptor);

    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnBackendDestroyDescriptor(nint descriptor);

    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnBackendFinalize(nint descriptor);

    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnBackendSetAttribute(nint descriptor, CudnnBackendAttributeName attributeName,
        CudnnBackendAttributeType attributeType, long elementCount, void* arrayOfElements);

    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnBackendGetAttribute(nint descriptor, CudnnBackendAttributeName attributeName,
        CudnnBackendAttributeType attributeType, long requestedElementCount, long* elementCount, void* arrayOfElements);

    [LibraryImport(Lib)]
    public static partial CudnnStatus cudnnBackendExecute(nint handle, nint executionPlan, nint variantPack);
}
