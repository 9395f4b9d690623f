using System.Runtime.Intrinsics;

namespace GpuConv.Cpu.Layers;

/// <summary>
/// A term of a normalisation layer's channel or group sum, f(a, b) of the element pair at one position, with up to two
/// parameters that depend on the position's row (a channel's gamma, a sample's statistics). The vector form is the
/// scalar one lane by lane — the same operations in the same order — so lanes are interchangeable with scalar terms.
/// </summary>
internal interface IRowTerm
{
    /// <summary>The row's parameters (0 where the term has none).</summary>
    void Params(int row, out float p, out float q);
    float Of(float a, float b, float p, float q);
    Vector256<float> Of(Vector256<float> a, Vector256<float> b, Vector256<float> p, Vector256<float> q);
}

/// <summary>No term: <see cref="WaveSums"/> takes one sum where its second term is this.</summary>
internal readonly struct NoTerm : IRowTerm
{
    public void Params(int row, out float p, out float q) { p = 0f; q = 0f; }
    public float Of(float a, float b, float p, float q) => 0f;
    public Vector256<float> Of(Vector256<float> a, Vector256<float> b, Vector256<float> p, Vector256<float> q) => Vector256<float>.Zero;
}
