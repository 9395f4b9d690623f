using System.Text.Json;
using GpuConv.Tensors;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// The CPU engine's BatchNorm against PyTorch's own CPU results (torch_batchnorm_cases.json, written by
/// make_torch_cases.py with torch 1.13): training with the running-statistics update, eval, and the backward (x, weight
/// and bias grads for a random dy); every rank, N·spatial = 2, eps 1e-5 to 0.1, momentum 0 to 1, affine=False, a large
/// mean next to a small spread. Both are fp32 with other summation orders: within 4e-6·max(1, κ) of the tensor's largest
/// value (dx: of |dy|·invstd·gamma, the size of its cancelling terms; κ as in <see cref="BatchNormTestData.Kappa"/>),
/// dgamma and dbeta within 4e-6 of the sum of their terms' magnitudes.
/// </summary>
public class BatchNormTorchCasesTests
{
    const double Tolerance = 4e-6;

    sealed record Case(int[] shape, double eps, double momentum, bool affine, bool training, uint[] x, uint[]? gamma, uint[]? beta,
        uint[] running_mean, uint[] running_var, uint[] y, uint[] new_running_mean, uint[] new_running_var, uint[] dy, uint[] dx, uint[]? dgamma, uint[]? dbeta);

    sealed record File(string torch, Case[] cases);

    static readonly Lazy<File> Data = new(() =>
    {
        using var stream = typeof(BatchNormTorchCasesTests).Assembly.GetManifestResourceStream("GpuConv.Tests.Normalization.torch_batchnorm_cases.json")
            ?? throw new InvalidOperationException("torch_batchnorm_cases.json is not embedded");
        return JsonSerializer.Deserialize<File>(stream)!;
    });

    public static IEnumerable<TestCaseData> Cases() =>
        Data.Value.cases.Select((c, i) => new TestCaseData(i).SetArgDisplayNames(
            $"{i}: [{string.Join(", ", c.shape)}] {(c.training ? "train" : "eval")} eps={c.eps} momentum={c.momentum} affine={c.affine}"));

    static float[] F(uint[] bits) => [.. bits.Select(BitConverter.UInt32BitsToSingle)];

    static double[] D(uint[] bits) => [.. bits.Select(b => (double)BitConverter.UInt32BitsToSingle(b))];

    [TestCaseSource(nameof(Cases))]
    public void CpuEngineMatchesPyTorch(int index)
    {
        var c = Data.Value.cases[index];
        Assert.That(Data.Value.torch, Does.StartWith("1.13"));
        using var cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        var shape = new TensorShape(c.shape);
        var ch = new TensorShape(c.shape[1]);
        var x = new HostTensor(shape, F(c.x));
        var gamma = c.affine ? new HostTensor(ch, F(c.gamma!)) : null;
        var beta = c.affine ? new HostTensor(ch, F(c.beta!)) : null;
        var rm = new HostTensor(ch, F(c.running_mean));
        var rv = new HostTensor(ch, F(c.running_var));
        var spec = new BatchNormSpec(c.eps, c.momentum);
        int n = c.shape[0], channels = c.shape[1], s = shape.ElementCountInt / n / channels;
        if (!c.training)
        {
            var ye = cpu.BatchNormInference(spec, x, gamma, beta, rm, rv);
            var rvInv = rv.Data.Select(v => 1 / Math.Sqrt(v + c.eps)).ToArray();
            BatchNormTestData.AssertClose(((HostTensor)ye).Data, D(c.y), Tolerance * BatchNormTestData.Kappa(x.Data, n, channels, s, rvInv), "eval y");
            Assert.That(rm.Data, Is.EqualTo(F(c.new_running_mean)), "eval leaves the running mean");
            return;
        }
        var r = cpu.BatchNormTraining(spec, x, gamma, beta, rm, rv);
        var inv = ((HostTensor)r.SavedInvStd).Data;
        double kappa = BatchNormTestData.Kappa(x.Data, n, channels, s, [.. inv.Select(v => (double)v)]);
        BatchNormTestData.AssertClose(((HostTensor)r.Output).Data, D(c.y), Tolerance * kappa, "y");
        BatchNormTestData.AssertClose(rm.Data, D(c.new_running_mean), Tolerance, "running mean");
        BatchNormTestData.AssertClose(rv.Data, D(c.new_running_var), Tolerance * kappa, "running var");

        var dy = F(c.dy);
        var g = cpu.BatchNormBackward(new HostTensor(shape, dy), x, gamma, r.SavedMean, r.SavedInvStd);
        double dxScale = dy.Max(Math.Abs) * inv.Max() * (c.affine ? F(c.gamma!).Max(Math.Abs) : 1) * kappa;
        var dx = ((HostTensor)g.Dx).Data;
        var expectedDx = D(c.dx);
        double worst = expectedDx.Select((e, i) => Math.Abs(dx[i] - e)).Max();
        Assert.That(worst, Is.LessThanOrEqualTo(Tolerance * dxScale), "dx");
        if (c.affine)
        {
            var mean = ((HostTensor)r.SavedMean).Data.Select(v => (double)v).ToArray();
            var (gm, bm) = BatchNormTestData.SumMagnitudes(dy, x.Data, n, channels, s, mean, [.. inv.Select(v => (double)v)]);
            BatchNormTestData.AssertSumClose(((HostTensor)g.DGamma).Data, D(c.dgamma!), gm, Tolerance, "dgamma");
            BatchNormTestData.AssertSumClose(((HostTensor)g.DBeta).Data, D(c.dbeta!), bm, Tolerance, "dbeta");
        }
    }
}
