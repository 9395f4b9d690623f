using GpuConv.Tensors;
using static GpuConv.Networks.ReferenceLayers;

namespace GpuConv.Networks.InvertedResiduals;

/// <summary>
/// An <see cref="InvertedResidualModel"/> in float64, unfolded (<see cref="ReferenceLayers"/>): each convolution with
/// the original weight, then its BatchNorm and activation or none (the projections); the squeeze-and-excitation blocks,
/// residual adds, the global average, the hidden linear and the classifier, all in double.
/// </summary>
public static class ReferenceInvertedResidualNetwork
{
    /// <param name="activation">The float64 function for each activation; default the library's judge
    /// (<see cref="ReferenceLayers.Judge"/>). Tests swap one (<see cref="Replacing"/>) to show the check sees it.</param>
    /// <param name="squeezeExcite">False leaves the squeeze-and-excitation blocks out (a test's planted bug).</param>
    public static double[] Run(InvertedResidualModel model, HostTensor input, Func<Activation, Func<double, double>>? activation = null, bool squeezeExcite = true)
    {
        activation ??= Judge;
        var shape = input.Shape;
        double[] x = [.. input.Data.Select(v => (double)v)];
        x = ConvBn(model.Stem, ref shape, x, activation(model.StemActivation));
        x = InvertedResiduals(model.Blocks, ref shape, x, activation, squeezeExcite);
        x = ConvBn(model.Last, ref shape, x, activation(model.StemActivation));
        x = GlobalAverage(ref shape, x);
        if (model.Hidden is { } h)
        {
            x = Convolve(InvertedResidualModel.Linear, h.Weight, h.Bias.Data, ref shape, x);
            var f = activation(h.Activation);
            for (int i = 0; i < x.Length; i++) x[i] = f(x[i]);
        }
        return Convolve(InvertedResidualModel.Linear, model.ClassifierWeight, model.ClassifierBias.Data, ref shape, x);
    }

    /// <summary>
    /// The <see cref="InvertedResidual"/> blocks in float64 on x of <paramref name="shape"/> (which becomes the last
    /// block's output's): per block the expansion and the depthwise layer with <paramref name="activation"/> of the
    /// block's activation, its squeeze-and-excitation block (where it has one and <paramref name="squeezeExcite"/>), the
    /// projection, and the residual add.
    /// </summary>
    /// <param name="activation">The float64 function for an activation (a test swaps one to show the check sees it).</param>
    /// <param name="squeezeExcite">False leaves the squeeze-and-excitation blocks out (a test's planted bug).</param>
    public static double[] InvertedResiduals(IReadOnlyList<InvertedResidual> blocks, ref TensorShape shape, double[] x,
        Func<Activation, Func<double, double>> activation, bool squeezeExcite = true)
    {
        foreach (var b in blocks)
        {
            var act = activation(b.Activation);
            var s = shape;
            var h = b.Expand is { } e ? ConvBn(e, ref s, x, act) : x;
            h = ConvBn(b.Depthwise, ref s, h, act);
            if (b.Se is { } se && squeezeExcite) h = SqueezeExcite(se, s, h);
            h = ConvBn(b.Project, ref s, h, Activation.Identity);
            if (b.Residual)
                for (int i = 0; i < h.Length; i++) h[i] += x[i];
            x = h;
            shape = s;
        }
        return x;
    }

    /// <summary>The library's float64 activations with <paramref name="replaced"/> computed as <paramref name="by"/>.</summary>
    public static Func<Activation, Func<double, double>> Replacing(Activation replaced, Activation by) =>
        a => Judge(a == replaced ? by : a);
}
