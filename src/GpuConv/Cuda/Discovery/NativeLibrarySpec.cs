namespace GpuConv.Cuda.Discovery;

/// <summary>
/// One native library to locate: its logical name (used by [LibraryImport]), the sonames to try in
/// order of preference, and companion libraries that must be loaded from the SAME folder first
/// (cuBLAS needs its cublasLt; cuDNN 9 dlopens its sub-libraries by bare name, which only succeeds
/// when they are already loaded or on the loader's search path — and a system copy found that way
/// gives SUBLIBRARY_VERSION_MISMATCH). Companion names may contain '*' (a file-name pattern in that
/// folder); they are loaded in the order listed, a file matched twice only once.
/// </summary>
internal sealed record NativeLibrarySpec(
    string LogicalName,
    string DisplayName,
    IReadOnlyList<string> LinuxNames,
    IReadOnlyList<string> WindowsNames,
    Func<string, IReadOnlyList<string>> Companions,
    bool PreferSystemLoader,
    bool GoesWithCudnn = false)
{
    /// <summary>
    /// The CUDA major version a library name belongs to: 13 for libcublas.so.13, cublas64_13.dll and nvrtc64_130_0.dll;
    /// 0 when the name carries none.
    /// </summary>
    public static int CudaMajor(string name)
    {
        if (SonameVersion(name) is { Length: > 0 } v) return int.TryParse(v, out int major) ? major : 0;
        var m = System.Text.RegularExpressions.Regex.Match(name, @"64_(\d+)");
        if (!m.Success || !int.TryParse(m.Groups[1].Value, out int n)) return 0;
        return n >= 100 ? n / 10 : n;
    }

    /// <summary>The soname's trailing version ("13" for libcublas.so.13), used to name companions.</summary>
    public static string SonameVersion(string soname)
    {
        int i = soname.LastIndexOf(".so.", StringComparison.Ordinal);
        return i < 0 ? "" : soname[(i + 4)..];
    }

    public static readonly NativeLibrarySpec Driver = new(
        Native.NativeLibraryNames.Driver, "CUDA driver",
        ["libcuda.so.1"], ["nvcuda.dll"],
        _ => [], PreferSystemLoader: true);

    public static readonly NativeLibrarySpec Cublas = new(
        Native.NativeLibraryNames.Cublas, "cuBLAS",
        ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11"], ["cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll"],
        v => [$"libcublasLt.so.{v}"], PreferSystemLoader: false, GoesWithCudnn: true);

    /// <summary>Best effort, before cuDNN: its runtime-compiled engines dlopen NVRTC by bare name.</summary>
    public static readonly NativeLibrarySpec Nvrtc = new(
        "gpuconv-nvrtc", "NVRTC",
        ["libnvrtc.so.13", "libnvrtc.so.12"], ["nvrtc64_130_0.dll", "nvrtc64_120_0.dll"],
        // CUDA 13 wheels ship libnvrtc-builtins.so.13.0 (no .so.13): match the major version and anything after.
        v => [$"libnvrtc-builtins.so.{v}", $"libnvrtc-builtins.so.{v}.*"], PreferSystemLoader: false, GoesWithCudnn: true);

    public static readonly NativeLibrarySpec Cudnn = new(
        Native.NativeLibraryNames.Cudnn, "cuDNN",
        ["libcudnn.so.9", "libcudnn.so.8"], ["cudnn64_9.dll", "cudnn64_8.dll"],
        v => v == "8"
            ? ["libcudnn_ops_infer.so.8", "libcudnn_ops_train.so.8", "libcudnn_cnn_infer.so.8", "libcudnn_cnn_train.so.8"]
            // Graph first (the others link against it), the known ones in dependency order, then every
            // other sub-library of the same major version: newer 9.x releases add some.
            : [$"libcudnn_graph.so.{v}", $"libcudnn_engines_runtime_compiled.so.{v}", $"libcudnn_engines_precompiled.so.{v}",
               $"libcudnn_heuristic.so.{v}", $"libcudnn_ops.so.{v}", $"libcudnn_cnn.so.{v}", $"libcudnn_adv.so.{v}", $"libcudnn_*.so.{v}"],
        PreferSystemLoader: false);

    public IReadOnlyList<string> Names => OperatingSystem.IsWindows() ? WindowsNames : LinuxNames;
}
