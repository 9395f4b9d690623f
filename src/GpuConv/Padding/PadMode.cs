namespace GpuConv;

/// <summary>
/// What <see cref="ConvEngine.Pad"/> fills the border with: PyTorch's <c>F.pad(x, pad, mode, value)</c> modes
/// ('constant', 'reflect', 'replicate', 'circular'), the layers nn.ConstantPad*d, nn.ReflectionPad*d, nn.ReplicationPad*d
/// and nn.CircularPad*d. For a dimension of input size n, output position j reads input position i = j − padBegin, or
/// where i is outside [0, n): see each mode.
/// </summary>
public enum PadMode
{
    /// <summary>The constant <see cref="PadSpec.Value"/> (0 by default).</summary>
    Constant,
    /// <summary>The mirror image without repeating the edge: −i for i &lt; 0, 2(n − 1) − i for i ≥ n. Needs each pad &lt; n.</summary>
    Reflect,
    /// <summary>The nearest edge element: clamp(i, 0, n − 1).</summary>
    Replicate,
    /// <summary>Periodic: i mod n. Needs each pad ≤ n.</summary>
    Circular,
}
