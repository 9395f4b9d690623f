namespace GpuConv.Cuda.Native;

/// <summary>
/// The cuDNN backend-API calls the cudnn backend's graph candidates make (<see cref="CuDnnGraph"/>), behind an
/// interface like <see cref="ICudnnApi"/> so a fake can stand in. A library without them (a cuDNN 8 before 8.1,
/// or a fake that models only the legacy API) simply has no graph candidates.
/// </summary>
internal unsafe interface ICudnnGraphApi
{
    CudnnStatus CreateDescriptor(CudnnBackendDescriptorType type, out nint descriptor);
    CudnnStatus DestroyDescriptor(nint descriptor);
    CudnnStatus FinalizeDescriptor(nint descriptor);
    CudnnStatus SetAttribute(nint descriptor, CudnnBackendAttributeName name, CudnnBackendAttributeType type, long count, void* elements);
    CudnnStatus GetAttribute(nint descriptor, CudnnBackendAttributeName name, CudnnBackendAttributeType type, long requested, long* count, void* elements);
    CudnnStatus Execute(nint handle, nint plan, nint variantPack);
}

/// <summary>The loaded cuDNN's backend API: each method is one call into <see cref="CuDnnGraph"/>.</summary>
internal sealed unsafe class NativeCudnnGraphApi : ICudnnGraphApi
{
    public static readonly NativeCudnnGraphApi Instance = new();

    NativeCudnnGraphApi() { }

    public CudnnStatus CreateDescriptor(CudnnBackendDescriptorType type, out nint descriptor) => CuDnnGraph.cudnnBackendCreateDescriptor(type, out descriptor);
    public CudnnStatus DestroyDescriptor(nint descriptor) => CuDnnGraph.cudnnBackendDestroyDescriptor(descriptor);
    public CudnnStatus FinalizeDescriptor(nint descriptor) => CuDnnGraph.cudnnBackendFinalize(descriptor);
    public CudnnStatus SetAttribute(nint descriptor, CudnnBackendAttributeName name, CudnnBackendAttributeType type, long count, void* elements) =>
        CuDnnGraph.cudnnBackendSetAttribute(descriptor, name, type, count, elements);
    public CudnnStatus GetAttribute(nint descriptor, CudnnBackendAttributeName name, CudnnBackendAttributeType type, long requested, long* count, void* elements) =>
        CuDnnGraph.cudnnBackendGetAttribute(descriptor, name, type, requested, count, elements);
    public CudnnStatus Execute(nint handle, nint plan, nint variantPack) => CuDnnGraph.cudnnBackendExecute(handle, plan, variantPack);
}
