using System.Text.Json;
using GpuConv.Tensors;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// The CPU engine's GroupNorm against PyTorch's own CPU results (torch_groupnorm_cases.json, written by
/// make_groupnorm_torch_cases.py with torch 1.13): native_group_norm's y, mean and rstd, and the backward (x, weight
/// and bias grads for a random dy); every rank, groups = 1, = C and in between, eps 1e-5 to 0.1, affine=False, a large
/// mean next to a small spread, a unit of 900 values. Both are fp32 with other summation orders: y within
/// 4e-6·max(1, κ) of its largest value, the mean within 4e-6·max|x|, rstd within 4e-6·κ of its largest value, dx within
/// 4e-6 of max |dy|·rstd·|weight|·κ (the size of its cancelling terms), dweight and dbias within 4e-6 of the sum of
/// their terms' magnitudes (κ as in <see cref="GroupNormTestData.Kappa"/>).
/// </summary>
public class GroupNormTorchCasesTests
{
    const double Tolerance = 4e-6;

    sealed record Case(int[] shape, int groups, double eps, bool affine, uint[] x, uint[]? weight, uint[]? bias,
        uint[] y, uint[] mean, uint[] rstd, uint[] dy, uint[] dx, uint[]? dweight, uint[]? dbias);

    sealed record File(string torch, Case[] cases);

    static readonly Lazy<File> Data = new(() =>
    {
        using var stream = typeof(GroupNormTorchCasesTests).Assembly.GetManifestResourceStream("GpuConv.Tests.Normalization.torch_groupnorm_cases.json")
            ?? throw new InvalidOperationException("torch_groupnorm_cases.json is not embedded");
        return JsonSerializer.Deserialize<File>(stream)!;
    });

    public static IEnumerable<TestCaseData> Cases() =>
        Data.Value.cases.Select((c, i) => new TestCaseData(i).SetArgDisplayNames(
            $"{i}: [{string.Join(", ", c.shape)}] groups={c.groups} eps={c.eps} affine={c.affine}"));

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
        var weight = c.affine ? new HostTensor(ch, F(c.weight!)) : null;
        var bias = c.affine ? new HostTensor(ch, F(c.bias!)) : null;
        var spec = new GroupNormSpec(c.groups, c.eps);
        int channels = c.shape[1], s = shape.ElementCountInt / c.shape[0] / channels, groupSize = channels / c.groups * s;

        var r = cpu.GroupNorm(spec, x, weight, bias);
        var torchRstd = D(c.rstd);
        double kappa = GroupNormTestData.Kappa(x.Data, groupSize, torchRstd);
        BatchNormTestData.AssertClose(((HostTensor)r.Output).Data, D(c.y), Tolerance * kappa, "y");
        GroupNormTestData.AssertWithin(((HostTensor)r.Mean).Data, D(c.mean), Tolerance * x.Data.Max(Math.Abs), "mean");
        BatchNormTestData.AssertClose(((HostTensor)r.Rstd).Data, torchRstd, Tolerance * kappa, "rstd");

        var dy = F(c.dy);
        var g = cpu.GroupNormBackward(spec, new HostTensor(shape, dy), x, r.Mean, r.Rstd, weight);
        double dxScale = GroupNormTestData.DxScale(dy, torchRstd, weight?.Data, kappa);
        GroupNormTestData.AssertWithin(((HostTensor)g.Dx).Data, D(c.dx), Tolerance * dxScale, "dx");
        if (c.affine)
        {
            var (wm, bm) = GroupNormTestData.SumMagnitudes(dy, x.Data, channels, s, groupSize, D(c.mean), torchRstd);
            BatchNormTestData.AssertSumClose(((HostTensor)g.DWeight!).Data, D(c.dweight!), wm, Tolerance, "dweight");
            BatchNormTestData.AssertSumClose(((HostTensor)g.DBias!).Data, D(c.dbias!), bm, Tolerance, "dbias");
        }
        else
            Assert.That(g.DWeight, Is.Null);
    }
}
