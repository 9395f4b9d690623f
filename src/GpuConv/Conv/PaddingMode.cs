using System.Runtime.CompilerServices;

namespace GpuConv.Conv;

/// <summary>
/// What a convolution reads beyond the input's edges: PyTorch's <c>nn.Conv{1,2,3}d(padding_mode=…)</c>
/// ('zeros', 'reflect', 'replicate', 'circular'). Any mode but <see cref="Zeros"/> is the convolution of the input padded
/// with <c>F.pad(x, pads, mode)</c> and then convolved with no padding of its own, and its gradients flow back through
/// that pad. Per spatial dimension of input size n, the padded position i (from −padBegin to n − 1 + padEnd) reads:
/// </summary>
public enum PaddingMode
{
    /// <summary>Zero (the default): positions outside the input read 0.</summary>
    Zeros,
    /// <summary>Mirror without repeating the edge: i &lt; 0 reads −i, i ≥ n reads 2(n − 1) − i. Needs padding &lt; n.</summary>
    Reflect,
    /// <summary>The nearest edge element: clamp(i, 0, n − 1).</summary>
    Replicate,
    /// <summary>Wrap around (periodic): i mod n. Needs padding ≤ n.</summary>
    Circular,
}

/// <summary>
/// Where each mode sends a position outside the input: one definition for the CPU loops and the validation (the float64
/// references, ReferenceConv and ReferencePad, write their own arithmetic on purpose, so a bug here cannot move the judge).
/// </summary>
internal static class PaddingModes
{
    /// <summary>
    /// The input index that padded position <paramref name="i"/> (−padBegin ≤ i &lt; n + padEnd) reads in a dimension of size
    /// <paramref name="n"/>, or −1 for a zero (constant) pad; the mode's size rule (<see cref="PadLimitError"/>) keeps it inside.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // per border element of a padded row: left to tiering it stayed unoptimized
    public static int Source(PaddingMode mode, int i, int n)
    {
        if ((uint)i < (uint)n) return i;
        return mode switch
        {
            PaddingMode.Reflect => i < 0 ? -i : 2 * (n - 1) - i,
            PaddingMode.Replicate => i < 0 ? 0 : n - 1,
            PaddingMode.Circular => i < 0 ? i + n : i - n,
            _ => -1,
        };
    }

    /// <summary>
    /// Null when padding (<paramref name="begin"/>, <paramref name="end"/>) is allowed on a dimension of size <paramref name="n"/>
    /// for <paramref name="mode"/> (PyTorch's rules: reflect needs each pad &lt; n, circular each pad ≤ n), else why not.
    /// </summary>
    public static string? PadLimitError(PaddingMode mode, int begin, int end, int n) => mode switch
    {
        PaddingMode.Reflect when begin >= n || end >= n =>
            $"padding mode Reflect needs each pad < the input size (as PyTorch), got pads ({begin}, {end}) on size {n}",
        PaddingMode.Circular when begin > n || end > n =>
            $"padding mode Circular needs each pad <= the input size (it would wrap around more than once, which PyTorch refuses), got pads ({begin}, {end}) on size {n}",
        _ => null,
    };

    /// <summary>PyTorch's spelling ('zeros', 'reflect', 'replicate', 'circular').</summary>
    public static string TorchName(PaddingMode mode) => mode.ToString().ToLowerInvariant();
}
