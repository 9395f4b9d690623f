using System.Diagnostics;
using System.IO.Compression;
using GpuConv;
using GpuConv.Conv;
using GpuConv.Reference;
using GpuConv.Tensors;

// Proves the GpuConv package alone is enough for an application, however it is published (framework-dependent,
// trimmed single-file, Native AOT: check-package.sh runs each): the package's contents (when given the .nupkg),
// the embedded PTX kernels, a device-resident chain (GPU when usable, else CPU) against a naive float64 loop,
// backward-data and backward-filter against the float64 reference, the plan cache written and read back,
// an unwritable plan-cache path, engines opened and disposed many times, and one engine shared by threads.
// Usage: PackageConsumer [PATH/GpuConv.VERSION.nupkg]. Exit 0 when everything holds, 1 otherwise.
var failures = new List<string>();
void Check(bool ok, string what)
{
    Console.WriteLine($"  {(ok ? "ok  " : "FAIL")} {what}");
    if (!ok) failures.Add(what);
}

if (args.Length > 1 || (args.Length == 1 && !File.Exists(args[0])))
{
    Console.Error.WriteLine("usage: PackageConsumer [PATH/GpuConv.VERSION.nupkg]");
    return 2;
}
if (args.Length == 1) CheckPackage(args[0]);

var resources = typeof(ConvEngine).Assembly.GetManifestResourceNames();
foreach (var k in new[] { "im2col", "col2im", "bias", "depthwise", "fill", "strided_copy" })
{
    using var s = typeof(ConvEngine).Assembly.GetManifestResourceStream($"GpuConv.Kernels.{k}.ptx");
    Check(resources.Contains($"GpuConv.Kernels.{k}.ptx") && s is { Length: > 100 }, $"PTX kernel {k}.ptx embedded and readable");
}

// check-package.sh compiles the package README's C# samples into this program (PackageReadme.Sample*.cs);
// the first is the device-resident chain, run as written.
Check(PackageReadme.RunFirst(), "package README's first sample ran");

var cacheDir = Directory.CreateTempSubdirectory("gpuconv-consumer-");
try
{
    var cachePath = Path.Combine(cacheDir.FullName, "plans.json");
    var warnings = new List<string>();
    using (var engine = ConvEngine.Open(new ConvEngineOptions { PlanCachePath = cachePath, Warning = warnings.Add }))
    {
        var why = engine.GpuUnavailableReason;
        Console.WriteLine($"engine: {engine.Device.Name}, {engine.Device.SimdTier} ({engine.Memory.Kind} memory); GPU: {why ?? "on"}");
        Check(why is null || (why.Length > 0 && !why.Contains('\n')), "GPU discovery gives a GPU or a one-line reason");
        // A Native AOT build for this machine (IlcInstructionSet=native) must use the kernels the JIT uses here.
        if (Environment.GetEnvironmentVariable("GPUCONV_CONSUMER_SIMD") is { Length: > 0 } tier)
            Check(engine.Device.SimdTier == tier, $"SIMD tier {engine.Device.SimdTier} (the JIT's here: {tier})");
        DeviceResidentChain(engine);
        BackwardPasses(engine, "engine");
    }
    // The default options persist plans: the file must be written (source-generated JSON; a trimmed or AOT
    // application threw here when the cache used reflection) and read back by the next engine.
    Check(File.Exists(cachePath) && warnings.Count == 0, $"plan cache written to {cachePath} ({(warnings.Count == 0 ? "no warning" : string.Join(" | ", warnings))})");
    using (var again = ConvEngine.Open(new ConvEngineOptions { PlanCachePath = cachePath, Warning = warnings.Add }))
        Check(again.Cache.Count >= 3 && warnings.Count == 0, $"plan cache read back: {again.Cache.Count} plans");

    // A plan-cache path that cannot be written (here a file stands where a folder should be: true even for root)
    // must not crash: the engine runs and says why the plans stay in memory.
    var blocker = Path.Combine(cacheDir.FullName, "not-a-folder");
    File.WriteAllText(blocker, "");
    warnings.Clear();
    using (var engine = ConvEngine.Open(new ConvEngineOptions { PlanCachePath = Path.Combine(blocker, "plans.json"), Warning = warnings.Add }))
        BackwardPasses(engine, "unwritable plan cache");
    Check(warnings.Count == 1 && warnings[0].Contains("plans kept in memory only"), $"unwritable plan cache warned once: {string.Join(" | ", warnings)}");
}
finally
{
    cacheDir.Delete(recursive: true);
}

OpenDisposeMany(200);
await SharedEngine();

Console.WriteLine(failures.Count == 0 ? "package consumer: OK" : $"package consumer: {failures.Count} check(s) failed");
return failures.Count == 0 ? 0 : 1;

void CheckPackage(string nupkg)
{
    Console.WriteLine($"package {Path.GetFileName(nupkg)}: {new FileInfo(nupkg).Length / 1024} KB");
    using (var zip = ZipFile.OpenRead(nupkg))
    {
        var names = zip.Entries.Select(e => e.FullName).ToHashSet();
        foreach (var f in new[] { "README.md", "LICENSE", "lib/net10.0/GpuConv.dll", "lib/net10.0/GpuConv.xml" })
            Check(names.Contains(f), $"package holds {f}");
        using var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
        var text = nuspec.ReadToEnd();
        Check(text.Contains("<license type=\"expression\">MIT</license>"), "nuspec names the license as the SPDX expression MIT");
        Check(!text.Contains("<dependency "), "package has no dependencies");
    }
    Check(new FileInfo(nupkg).Length < 1024 * 1024, "package is under 1 MB");
    var snupkg = Path.ChangeExtension(nupkg, ".snupkg");
    using var symbols = File.Exists(snupkg) ? ZipFile.OpenRead(snupkg) : null;
    Check(symbols?.Entries.Any(e => e.FullName == "lib/net10.0/GpuConv.pdb") == true, "symbols package holds GpuConv.pdb");
}

void DeviceResidentChain(ConvEngine engine)
{
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
}

// Strided, padded backward passes against the package's float64 reference (fp32: max rel error < 1e-5).
bool BackwardPasses(ConvEngine engine, string tag, bool quiet = false)
{
    var spec = new ConvSpec(kernel: [3, 3], stride: [2], padBegin: [1]);
    var x = HostTensor.Random(new TensorShape(2, 8, 13, 13), seed: 1);
    var w = HostTensor.Random(new TensorShape(16, 8, 3, 3), seed: 2);
    var dy = HostTensor.Random(new TensorShape(2, 16, 7, 7), seed: 3);
    var dx = engine.BackwardData(spec, dy, w, x.Shape);
    var dataPlan = engine.LastPlan!.Algorithm.Key;
    var data = ErrorMetrics.Compare(dx.Data, ReferenceConv.BackwardData(ConvProblem.Create(spec, x.Shape, w.Shape, ConvOp.BackwardData), dy.Data, w.Data));
    var dw = engine.BackwardFilter(spec, x, dy, w.Shape);
    var filter = ErrorMetrics.Compare(dw.Data, ReferenceConv.BackwardFilter(ConvProblem.Create(spec, x.Shape, w.Shape, ConvOp.BackwardFilter), x.Data, dy.Data));
    bool ok = data.MaxRelative < 1e-5 && filter.MaxRelative < 1e-5;
    if (!quiet || !ok)
        Check(ok, $"{tag}: backward-data {dataPlan} {data}; backward-filter {engine.LastPlan!.Algorithm.Key} {filter} (< 1e-5)");
    return ok;
}

// An application that opens an engine per request: threads and managed memory must come back each time
// (two threads of slack for the runtime's own, e.g. tiered compilation's background worker).
void OpenDisposeMany(int count)
{
    var process = Process.GetCurrentProcess();
    int Threads() { process.Refresh(); return process.Threads.Count; }
    var x = HostTensor.Random(new TensorShape(1, 4, 8, 8), seed: 1);
    var w = HostTensor.Random(new TensorShape(4, 4, 3, 3), seed: 2);
    var spec = new ConvSpec(kernel: [3, 3], padBegin: [1]);
    int threads0 = 0;
    long managed0 = 0;
    var watch = Stopwatch.StartNew();
    for (int i = 0; i < count; i++)
    {
        using (var engine = ConvEngine.Open(new ConvEngineOptions { PersistPlans = false, CpuThreads = 2 }))
            engine.Forward(spec, x, w);
        if (i == 9)
        {
            managed0 = GC.GetTotalMemory(forceFullCollection: true);
            threads0 = Threads();
        }
    }
    long managed1 = GC.GetTotalMemory(forceFullCollection: true);
    int threads1 = Threads();
    Check(threads1 <= threads0 + 2 && managed1 < managed0 + 1024 * 1024,
        $"{count} engines opened and disposed in {watch.ElapsedMilliseconds} ms: threads {threads0} -> {threads1}, managed heap {managed0 / 1024} -> {managed1 / 1024} KB");
}

// One engine shared by async tasks and threads, next to a second engine: each call gives what it gives alone.
async Task SharedEngine()
{
    using var shared = ConvEngine.Open(new ConvEngineOptions { PersistPlans = false });
    using var second = ConvEngine.Open(new ConvEngineOptions { PersistPlans = false, Device = DeviceKind.Cpu, CpuThreads = 1 });
    var tasks = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
    {
        bool ok = true;
        for (int k = 0; k < 3; k++)
        {
            await Task.Yield();
            ok &= BackwardPasses(i % 2 == 0 ? shared : second, $"task {i}", quiet: true);
        }
        return ok;
    })).ToArray();
    var results = await Task.WhenAll(tasks);
    Check(results.All(r => r), $"{tasks.Length} async tasks on two engines ({second.Device.Name} with CpuThreads = 1) match the reference");
}

/// <summary>The package README's samples, generated into this partial class by check-package.sh.</summary>
static partial class PackageReadme
{
    static partial void RunFirstSample(ref bool ran);

    /// <summary>Runs the first sample; false when none was compiled in (a build outside check-package.sh).</summary>
    internal static bool RunFirst()
    {
        bool ran = false;
        RunFirstSample(ref ran);
        return ran;
    }
}
