using System.IO.Compression;
using GpuConv;
using GpuConv.Conv;
using GpuConv.Tensors;

// Proves the GpuConv package alone is enough for an application: its contents, the embedded PTX kernels,
// and a device-resident chain through the public API (GPU when usable, else CPU) against a naive float64 loop.
// Usage: PackageConsumer PATH/GpuConv.VERSION.nupkg. Exit 0 when everything holds, 1 otherwise.
var failures = new List<string>();
void Check(bool ok, string what)
{
    Console.WriteLine($"  {(ok ? "ok  " : "FAIL")} {what}");
    if (!ok) failures.Add(what);
}

if (args.Length != 1 || !File.Exists(args[0]))
{
    Console.Error.WriteLine("usage: PackageConsumer PATH/GpuConv.VERSION.nupkg");
    return 2;
}
var nupkg = args[0];
Console.WriteLine($"package {Path.GetFileName(nupkg)}: {new FileInfo(nupkg).Length / 1024} KB");
using (var zip = ZipFile.OpenRead(nupkg))
{
    var names = zip.Entries.Select(e => e.FullName).ToHashSet();
    foreach (var f in new[] { "README.md", "LICENSE", "lib/net10.0/GpuConv.dll", "lib/net10.0/GpuConv.xml" })
        Check(names.Contains(f), $"package holds {f}");
}
Check(new FileInfo(nupkg).Length < 1024 * 1024, "package is under 1 MB");
var snupkg = Path.ChangeExtension(nupkg, ".snupkg");
Check(File.Exists(snupkg) && ZipFile.OpenRead(snupkg).Entries.Any(e => e.FullName == "lib/net10.0/GpuConv.pdb"), "symbols package holds GpuConv.pdb");

var resources = typeof(ConvEngine).Assembly.GetManifestResourceNames();
foreach (var k in new[] { "im2col", "col2im", "bias", "depthwise", "fill", "strided_copy" })
    Check(resources.Contains($"GpuConv.Kernels.{k}.ptx"), $"PTX kernel {k}.ptx embedded");

using var engine = ConvEngine.Open(new ConvEngineOptions { PersistPlans = false });
Console.WriteLine($"engine: {engine.Device.Name} ({engine.Memory.Kind} memory{(engine.GpuUnavailableReason is null ? "" : ", GPU path off")})");
var rng = new Random(7);
float[] Random(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
var xs = new TensorShape(1, 3, 12, 12);
float[] x = Random(3 * 144), w1 = Random(8 * 3 * 9), b1 = Random(8), w2 = Random(4 * 8 * 9);
var spec = new ConvSpec([3, 3], padBegin: [1]);

using var dx = engine.Upload(x, xs);
using var dw1 = engine.Upload(w1, new TensorShape(8, 3, 3, 3));
using var db1 = engine.Upload(b1, new TensorShape(8));
using var dw2 = engine.Upload(w2, new TensorShape(4, 8, 3, 3));
using var h = engine.ForwardBiasActivation(spec, dx, dw1, db1, Activation.Relu);
using var y = engine.Forward(spec, h, dw2);
var got = engine.Download(y);

double[] Naive(double[] input, int c, float[] w, int k, float[]? bias, bool relu)
{
    var o = new double[k * 144];
    for (int ko = 0; ko < k; ko++)
        for (int i = 0; i < 12; i++)
            for (int j = 0; j < 12; j++)
            {
                double s = bias?[ko] ?? 0;
                for (int ci = 0; ci < c; ci++)
                    for (int a = 0; a < 3; a++)
                        for (int b = 0; b < 3; b++)
                        {
                            int ii = i + a - 1, jj = j + b - 1;
                            if (ii is >= 0 and < 12 && jj is >= 0 and < 12) s += w[((ko * c + ci) * 3 + a) * 3 + b] * input[(ci * 12 + ii) * 12 + jj];
                        }
                o[(ko * 12 + i) * 12 + j] = relu ? Math.Max(s, 0) : s;
            }
    return o;
}
var expected = Naive(Naive(x.Select(v => (double)v).ToArray(), 3, w1, 8, b1, true), 8, w2, 4, null, false);
double scale = expected.Max(Math.Abs), worst = 0;
for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(got.Data[i] - expected[i]));
Check(got.Shape.Equals(new TensorShape(1, 4, 12, 12)), $"output shape {got.Shape}");
Check(worst / scale < 1e-4, $"two-layer device-resident chain vs naive float64: max rel error {worst / scale:E2} (< 1e-4)");

Console.WriteLine(failures.Count == 0 ? "package consumer: OK" : $"package consumer: {failures.Count} check(s) failed");
return failures.Count == 0 ? 0 : 1;
