using System.Runtime.InteropServices;

namespace GpuConv.Cuda.Discovery;

/// <summary>
/// The folder names a Linux system uses for one architecture's libraries: Debian/Ubuntu's multiarch folder
/// (/usr/lib/&lt;triplet&gt;, where the cuDNN and cuBLAS .deb packages install) and a CUDA toolkit's
/// targets/&lt;name&gt;/lib. ARM64 servers (Grace Hopper, DGX Spark) use targets/sbsa-linux, Jetson boards targets/aarch64-linux.
/// </summary>
internal sealed record ArchitectureFolders(string MultiArch, IReadOnlyList<string> CudaTargets)
{
    static readonly ArchitectureFolders X64 = new("x86_64-linux-gnu", ["x86_64-linux"]);
    static readonly ArchitectureFolders Arm64 = new("aarch64-linux-gnu", ["sbsa-linux", "aarch64-linux"]);

    /// <summary>The folders of <paramref name="architecture"/>; x64's for any other (NVIDIA ships Linux libraries for x64 and ARM64 only).</summary>
    public static ArchitectureFolders Of(Architecture architecture) => architecture == Architecture.Arm64 ? Arm64 : X64;
}
