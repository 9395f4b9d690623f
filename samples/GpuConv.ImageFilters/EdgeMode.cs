namespace GpuConv.ImageFilters;

/// <summary>
/// What lies outside the picture. Zero: PyTorch's conv2d padding (zeros), so borders of a blur darken.
/// Replicate: the nearest edge pixel repeats outward (OpenCV's BORDER_REPLICATE, PyTorch's
/// padding_mode="replicate"), so a blur keeps flat borders flat.
/// </summary>
public enum EdgeMode
{
    Zero,
    Replicate,
}
