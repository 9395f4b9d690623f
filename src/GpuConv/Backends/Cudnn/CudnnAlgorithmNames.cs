using GpuConv.Conv;
using GpuConv.Cuda.Native;

namespace GpuConv.Backends.Cudnn;

/// <summary>cuDNN's algorithm enum values per op, with the names cuDNN's headers give them.</summary>
internal static class CudnnAlgorithmNames
{
    public static string Of(ConvOp op, int algo) => op switch
    {
        ConvOp.Forward => Upper(((CudnnConvolutionFwdAlgo)algo).ToString()),
        ConvOp.BackwardData => Upper(((CudnnConvolutionBwdDataAlgo)algo).ToString()),
        _ => Upper(((CudnnConvolutionBwdFilterAlgo)algo).ToString()),
    };

    /// <summary>How many algorithms the op has in cuDNN 9's enums (the "COUNT" value).</summary>
    public static int Count(ConvOp op) => op switch
    {
        ConvOp.Forward => (int)CudnnConvolutionFwdAlgo.Count,
        ConvOp.BackwardData => (int)CudnnConvolutionBwdDataAlgo.Count,
        _ => (int)CudnnConvolutionBwdFilterAlgo.Count,
    };

    /// <summary>
    /// Whether the algorithm computes through a transform (FFT, FFT_TILING, WINOGRAD, WINOGRAD_NONFUSED):
    /// FP32 arithmetic, but a looser error bound than a direct sum. Strict precision keeps them, as
    /// PyTorch does without TF32; the GPU tests hold them to 1e-4 of the largest output, others to 1e-5.
    /// Graph-API engine configs (<see cref="CudnnGraphEngineChoice"/>) count when their FFT or Winograd note tagged the name.
    /// </summary>
    public static bool IsTransformBased(string name) =>
        name.StartsWith("FFT", StringComparison.Ordinal) || name.StartsWith("WINOGRAD", StringComparison.Ordinal) ||
        // graph-API engine configs carry the tag of their FFT / Winograd numerical notes (CudnnGraphEngineChoice)
        (CudnnGraphEngineChoice.IsGraphName(name) && (name.EndsWith("_FFT", StringComparison.Ordinal) || name.EndsWith("_WINOGRAD", StringComparison.Ordinal)));

    /// <summary>ImplicitPrecompGemm → IMPLICIT_PRECOMP_GEMM, Algo0 → ALGO_0 (the C enum spelling).</summary>
    static string Upper(string name)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            bool boundary = i > 0 && (char.IsUpper(c) || (char.IsDigit(c) && !char.IsDigit(name[i - 1])));
            if (boundary) sb.Append('_');
            sb.Append(char.ToUpperInvariant(c));
        }
        return sb.ToString();
    }
}
