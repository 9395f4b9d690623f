using System.Text.Json;
using GpuConv.Tensors;

namespace GpuConv.Tests.Normalization;

/// <summary>
/// The CPU engine's channels-first LayerNorm against PyTorch's own CPU results (torch_layernorm_cases.json, written by
/// make_layernorm_torch_cases.py with torch 1.13: F.layer_norm over C with the channel dimension moved last and back,
/// as timm's LayerNorm2d): y, native_layer_norm's mean and rstd, and the backward (x, weight and bias grads for a
/// random dy); [N, C] and 1–3 spatial dimensions, C = 1, eps 1e-6 and 1e-5, affine=False, x around 1000 (a mean that
/// dwarfs the spread), a ConvNeXt width of 96. Both are fp32 with other summation orders: y within 4e-6·max(1, κ) of
/// its largest value, the mean within 4e-6·max|x|, rstd within 4e-6·κ of its largest value, dx within 4e-6 of
/// max |dy|·rstd·|weight|·κ (the size of its cancelling terms), dweight and dbias within 4e-6 of the sum of their
/// terms' magnitudes (κ as in <see cref="ChannelLayerNormTestData.Kappa"/>).
/// </summary>
public class ChannelLayerNormTorchCasesTests
{
    const double Tolerance = 4e-6;

    sealed record Case(int[] shape, double eps, bool affine, uint[] x, uint[]? weight, uint[]? bias,
        uint[] y, uint[] mean, uint[] rstd, uint[] dy, uint[] dx, uint[]? dweight, uint[]? dbias);

    sealed record File(string torch, Case[] cases);

    static readonly Lazy<File> Data = new(() =>
    {
        using var stream = typeof(ChannelLayerNormTorchCasesTests).Assembly.GetManifestResourceStream("GpuConv.Tests.Normalization.torch_layernorm_cases.json")
            ?? throw new InvalidOperationException("torch_layernorm_cases.json is not embedded");
        return JsonSerializer.Deserialize<File>(stream)!;
    });

    public static IEnumerable<TestCaseData> Cases() =>
        Data.Value.cases.Select((c, i) => new TestCaseData(i).SetArgDisplayNames(
            $"{i}: [{string.Join(", ", c.shape)}] eps={c.eps} affine={c.affine} max|x|={F(c.x).Max(Math.Abs):g3}"));

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
        var spec = new LayerNormSpec(c.eps);
        var (_, channels, positions) = ChannelLayerNormTestData.Dims(c.shape);

        var r = cpu.ChannelLayerNorm(spec, x, weight, bias);
        var torchRstd = D(c.rstd);
        double kappa = ChannelLayerNormTestData.Kappa(x.Data, channels, positions, torchRstd);
        BatchNormTestData.AssertClose(((HostTensor)r.Output).Data, D(c.y), Tolerance * kappa, "y");
        GroupNormTestData.AssertWithin(((HostTensor)r.Mean).Data, D(c.mean), Tolerance * x.Data.Max(Math.Abs), "mean");
        BatchNormTestData.AssertClose(((HostTensor)r.Rstd).Data, torchRstd, Tolerance * kappa, "rstd");

        var dy = F(c.dy);
        var g = cpu.ChannelLayerNormBackward(spec, new HostTensor(shape, dy), x, r.Mean, r.Rstd, weight);
        double dxScale = ChannelLayerNormTestData.DxScale(dy, torchRstd, weight?.Data, kappa);
        GroupNormTestData.AssertWithin(((HostTensor)g.Dx).Data, D(c.dx), Tolerance * dxScale, "dx");
        if (c.affine)
        {
            var (wm, bm) = ChannelLayerNormTestData.SumMagnitudes(dy, x.Data, channels, positions, D(c.mean), torchRstd);
            BatchNormTestData.AssertSumClose(((HostTensor)g.DWeight!).Data, D(c.dweight!), wm, Tolerance, "dweight");
            BatchNormTestData.AssertSumClose(((HostTensor)g.DBias!).Data, D(c.dbias!), bm, Tolerance, "dbias");
        }
        else
            Assert.That(g.DWeight, Is.Null);
    }
}
