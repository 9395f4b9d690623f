namespace GpuConv;

/// <summary>
/// How <see cref="ConvEngine.Upsample"/> picks or blends input elements: PyTorch's <c>F.interpolate</c> modes of the same
/// names. The linear modes name their rank, as PyTorch's do (linear 1-d, bilinear 2-d, trilinear 3-d).
/// </summary>
public enum UpsampleMode
{
    /// <summary>PyTorch's 'nearest' (its legacy rule): source = floor(dst · scale), scale = 1/scale_factor or in/out.</summary>
    Nearest,
    /// <summary>PyTorch's 'nearest-exact': source = floor((dst + ½) · scale), pixel centres as Pillow and scikit-image.</summary>
    NearestExact,
    /// <summary>PyTorch's 'linear': 1 spatial dimension, two taps.</summary>
    Linear,
    /// <summary>PyTorch's 'bilinear': 2 spatial dimensions, four taps.</summary>
    Bilinear,
    /// <summary>PyTorch's 'trilinear': 3 spatial dimensions, eight taps.</summary>
    Trilinear,
}
