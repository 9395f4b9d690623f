using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

namespace GpuConv.DeviceChain;

/// <summary>The same network computed without device tensors: on a CPU engine's host-tensor overloads, or in float64.</summary>
public static class HostNetwork
{
    /// <summary>Every layer through the host-tensor overloads of <paramref name="cpu"/> (an engine opened with Device = Cpu).</summary>
    public static HostTensor RunOnEngine(ConvEngine cpu, IReadOnlyList<Layer> layers, HostTensor x)
    {
        foreach (var l in layers)
            x = l.Relu
                ? cpu.ForwardBiasActivation(l.Spec, x, l.Weight, l.Bias, Activation.Relu, constantWeights: true)
                : cpu.Forward(l.Spec, x, l.Weight, l.Bias, constantWeights: true);
        return x;
    }

    /// <summary>
    /// The float64 reference (<see cref="ReferenceConv"/>): every layer in double; the activations are kept in
    /// double between layers too, so the result is the network's exact value up to float64 rounding.
    /// </summary>
    public static double[] RunReference(IReadOnlyList<Layer> layers, HostTensor input)
    {
        var shape = input.Shape;
        double[] x = input.Data.Select(v => (double)v).ToArray();
        foreach (var l in layers)
        {
            // ReferenceConv takes float32 inputs; feed it the double activations split into a float32 high part and
            // a float32 low part (x = hi + lo up to 2^-48 relative), which conv's linearity lets us add afterwards.
            var hi = x.Select(v => (float)v).ToArray();
            var lo = x.Select((v, i) => (float)(v - hi[i])).ToArray();
            var problem = l.Problem(shape);
            // A transposed layer is the backward-data of the matching convolution: its input plays dy.
            double[] yHi = problem.Op == ConvOp.BackwardData ? ReferenceConv.BackwardData(problem, hi, l.Weight.Data, l.Bias.Data) : ReferenceConv.Forward(problem, hi, l.Weight.Data, l.Bias.Data);
            double[] yLo = problem.Op == ConvOp.BackwardData ? ReferenceConv.BackwardData(problem, lo, l.Weight.Data) : ReferenceConv.Forward(problem, lo, l.Weight.Data);
            x = new double[yHi.Length];
            for (int i = 0; i < x.Length; i++)
            {
                double v = yHi[i] + yLo[i];
                x[i] = l.Relu && v < 0 ? 0 : v;
            }
            shape = problem.OutputShape;
        }
        return x;
    }
}
