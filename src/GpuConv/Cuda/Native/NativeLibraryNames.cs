namespace GpuConv.Cuda.Native;

/// <summary>
/// Logical library names used in the [LibraryImport] declarations. They are never real file names:
/// <see cref="Discovery.CudaLibraryResolver"/> maps each one to the file it located by probing.
/// </summary>
internal static class NativeLibraryNames
{
    public const string Driver = "gpuconv-cuda-driver";
    public const string Cublas = "gpuconv-cublas";
    public const string Cudnn = "gpuconv-cudnn";
}
