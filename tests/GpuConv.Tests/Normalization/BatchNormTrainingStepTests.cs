using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;
using GpuConv.Tests.Planning;
using GpuConv.Tests.Ptx;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// A ResNet-style training step on device-resident tensors — conv(3×3, pad 1) → BatchNorm (training, running statistics)
/// → ReLU → conv(3×3, pad 1), then the whole backward (BackwardData/BackwardFilter, ReluBackward, BatchNormBackward) —
/// against the same step in float64 (direct convolution loops here, ReferenceBatchNorm), on the CPU engine and on the
/// simulated GPU (kernels in the PTX interpreter, nothing through the host until the final downloads). Every result
/// (y, the running statistics, dx, dW1, dW2, dgamma, dbeta) within 1e-5 of its largest float64 magnitude.
/// </summary>
public class BatchNormTrainingStepTests
{
    const int N = 2, Cin = 3, Cmid = 4, Cout = 5, H = 6, W = 7;
    const double Tolerance = 1e-5;

    static readonly ConvSpec Conv = new([3, 3], padBegin: [1]);

    [TestCase(false, TestName = "TrainingStep_CpuEngine_MatchesFloat64")]
    [TestCase(true, TestName = "TrainingStep_SimulatedGpu_MatchesFloat64_WithoutHostCopies")]
    public void ConvBatchNormReluConvStepMatchesFloat64(bool simulatedGpu)
    {
        var rt = new SimulatedPtxRuntime();
        using var engine = simulatedGpu
            ? EngineOnBackends.Open(new PtxConvBackend(rt))
            : ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var rng = new Random(2026);
        float[] R(int count, double center, double spread) => [.. Enumerable.Range(0, count).Select(_ => (float)(center + spread * (rng.NextDouble() * 2 - 1)))];
        TensorShape xs = new(N, Cin, H, W), hs = new(N, Cmid, H, W), ys = new(N, Cout, H, W), w1s = new(Cmid, Cin, 3, 3), w2s = new(Cout, Cmid, 3, 3), cs = new(Cmid);
        float[] x = R(xs.ElementCountInt, 0.3, 1), w1 = R(w1s.ElementCountInt, 0.05, 0.3), w2 = R(w2s.ElementCountInt, 0, 0.3), g = R(ys.ElementCountInt, 0.1, 1);
        float[] gamma = R(Cmid, 1, 0.4), beta = R(Cmid, 0.1, 0.4), rm = R(Cmid, 0, 0.2), rv = R(Cmid, 1, 0.3);
        var spec = new BatchNormSpec(1e-5, 0.1);

        using Tensor dx = engine.Upload(new HostTensor(xs, x)), dw1 = engine.Upload(new HostTensor(w1s, w1)), dw2 = engine.Upload(new HostTensor(w2s, w2)),
            dg = engine.Upload(new HostTensor(ys, g)), dgamma = engine.Upload(new HostTensor(cs, gamma)), dbeta = engine.Upload(new HostTensor(cs, beta)),
            drm = engine.Upload(new HostTensor(cs, (float[])rm.Clone())), drv = engine.Upload(new HostTensor(cs, (float[])rv.Clone()));
        int copies = rt.CopiesToHost;
        var h = engine.Forward(Conv, dx, dw1);
        var bn = engine.BatchNormTraining(spec, h, dgamma, dbeta, drm, drv);
        var a = engine.Relu(bn.Output);
        var y = engine.Forward(Conv, a, dw2);
        var da = engine.BackwardData(Conv, dg, dw2, hs);
        var gw2 = engine.BackwardFilter(Conv, a, dg, w2s);
        var dz = engine.ReluBackward(da, a);
        var grads = engine.BatchNormBackward(dz, h, dgamma, bn.SavedMean, bn.SavedInvStd);
        var gx = engine.BackwardData(Conv, grads.Dx, dw1, xs);
        var gw1 = engine.BackwardFilter(Conv, dx, grads.Dx, w1s);
        if (simulatedGpu)
        {
            Assert.That(rt.CopiesToHost, Is.EqualTo(copies), "the step stayed on the device");
            Assert.That(rt.Calls, Has.Some.EqualTo("launch batchnorm_stats_f32").And.Some.EqualTo("launch batchnorm_backward_data_f32"));
        }

        // The same step in float64.
        double[] D(float[] v) => [.. v.Select(f => (double)f)];
        var h64 = ConvForward(D(x), D(w1), Cin, Cmid);
        double[] rm64 = D(rm), rv64 = D(rv);
        var (z64, mean64, inv64) = ReferenceBatchNorm.Training(h64, N, Cmid, H * W, spec.Epsilon, spec.Momentum, D(gamma), D(beta), rm64, rv64);
        var a64 = z64.Select(v => Math.Max(v, 0)).ToArray();
        var y64 = ConvForward(a64, D(w2), Cmid, Cout);
        var da64 = ConvBackwardData(D(g), D(w2), Cmid, Cout);
        var gw2_64 = ConvBackwardFilter(a64, D(g), Cmid, Cout);
        var dz64 = da64.Select((v, i) => a64[i] > 0 ? v : 0).ToArray();
        var (dh64, dgamma64, dbeta64) = ReferenceBatchNorm.Backward(dz64, h64, N, Cmid, H * W, mean64, inv64, D(gamma));
        var gx64 = ConvBackwardData(dh64, D(w1), Cin, Cmid);
        var gw1_64 = ConvBackwardFilter(D(x), dh64, Cin, Cmid);

        foreach (var (what, t, expected) in new (string, Tensor, double[])[]
        {
            ("y", y, y64), ("running mean", drm, rm64), ("running var", drv, rv64), ("dW2", gw2, gw2_64),
            ("dgamma", grads.DGamma, dgamma64), ("dbeta", grads.DBeta, dbeta64), ("dx", gx, gx64), ("dW1", gw1, gw1_64),
        })
            BatchNormTestData.AssertClose(engine.Download(t).Data, expected, Tolerance, what);
    }

    /// <summary>3×3 convolution, padding 1, stride 1, in float64: y[n, o, i, j] = Σ w[o, c, ki, kj]·x[n, c, i + ki − 1, j + kj − 1].</summary>
    static double[] ConvForward(double[] x, double[] w, int cin, int cout)
    {
        var y = new double[N * cout * H * W];
        Taps(cin, cout, (yi, xi, wi) => y[yi] += w[wi] * x[xi]);
        return y;
    }

    static double[] ConvBackwardData(double[] dy, double[] w, int cin, int cout)
    {
        var dx = new double[N * cin * H * W];
        Taps(cin, cout, (yi, xi, wi) => dx[xi] += w[wi] * dy[yi]);
        return dx;
    }

    static double[] ConvBackwardFilter(double[] x, double[] dy, int cin, int cout)
    {
        var dw = new double[cout * cin * 9];
        Taps(cin, cout, (yi, xi, wi) => dw[wi] += x[xi] * dy[yi]);
        return dw;
    }

    /// <summary>Every (output, input, weight) index triple of the convolution that lies inside the input.</summary>
    static void Taps(int cin, int cout, Action<int, int, int> tap)
    {
        for (int n = 0; n < N; n++)
            for (int o = 0; o < cout; o++)
                for (int i = 0; i < H; i++)
                    for (int j = 0; j < W; j++)
                        for (int c = 0; c < cin; c++)
                            for (int ki = 0; ki < 3; ki++)
                                for (int kj = 0; kj < 3; kj++)
                                {
                                    int ii = i + ki - 1, jj = j + kj - 1;
                                    if ((uint)ii >= H || (uint)jj >= W) continue;
                                    tap(((n * cout + o) * H + i) * W + j, ((n * cin + c) * H + ii) * W + jj, ((o * cin + c) * 3 + ki) * 3 + kj);
                                }
    }
}
