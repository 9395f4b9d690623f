using GpuConv.Tensors;

namespace GpuConv.ImageFilters.Tests;

/// <summary>
/// Every filter on small synthetic images, through the CPU engine, against (1) the float64 reference backend
/// running the same convolutions (max relative error below 1e-5) and (2) pixels computed here directly from the
/// definition (absolute error below 1e-3 on the 0–255 scale), plus the properties a user relies on.
/// </summary>
public class FilterTests
{
    ConvEngine cpu = null!, reference = null!;

    [OneTimeSetUp]
    public void Open()
    {
        cpu = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });
        reference = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false, Backend = "reference" });
    }

    [OneTimeTearDown]
    public void Close()
    {
        cpu?.Dispose();
        reference?.Dispose();
    }

    static PlanarImage RandomImage(int width, int height, int channels, int seed)
    {
        var rng = new Random(seed);
        var img = new PlanarImage(width, height, channels);
        for (int i = 0; i < img.Data.Length; i++) img.Data[i] = rng.Next(256);
        return img;
    }

    static IEnumerable<TestCaseData> AllFilters()
    {
        (string, Func<Filter>)[] filters =
        [
            ("box3", () => Filter.Box(3)), ("box4", () => Filter.Box(4)), ("gaussian", () => Filter.Gaussian(1.2)),
            ("gaussian5", () => Filter.Gaussian(2, 5)), ("sharpen", Filter.Sharpen), ("unsharp", () => Filter.UnsharpMask(1, 1.5)),
            ("emboss", Filter.Emboss), ("laplacian", Filter.Laplacian), ("sobel-x", Filter.SobelX), ("sobel-y", Filter.SobelY),
            ("gradient", Filter.GradientMagnitude), ("kernel", () => Filter.Custom("1 2; 3 4; -5 1/2")),
        ];
        foreach (var (name, make) in filters)
            foreach (var edges in new[] { EdgeMode.Zero, EdgeMode.Replicate })
                foreach (int channels in new[] { 1, 3 })
                    yield return new TestCaseData(make, edges, channels).SetName($"{name}_{edges}_{channels}ch");
    }

    [TestCaseSource(nameof(AllFilters))]
    public void Filter_MatchesTheReferenceBackend_AndTheDefinition(Func<Filter> make, EdgeMode edges, int channels)
    {
        var filter = make();
        var image = RandomImage(13, 11, channels, seed: 17 + channels);

        var got = new ImageConvolver(cpu).Apply(image, filter, edges);
        var judge = new ImageConvolver(reference).Apply(image, filter, edges);

        Assert.That((got.Width, got.Height, got.Channels), Is.EqualTo((13, 11, channels)));
        double scale = judge.Data.Max(v => Math.Abs((double)v)), worst = 0;
        for (int i = 0; i < got.Data.Length; i++) worst = Math.Max(worst, Math.Abs(got.Data[i] - (double)judge.Data[i]));
        Assert.That(worst / scale, Is.LessThan(1e-5), "CPU backend vs float64 reference");

        for (int c = 0; c < channels; c++)
            for (int y = 0; y < image.Height; y++)
                for (int x = 0; x < image.Width; x++)
                    Assert.That(got.At(c, y, x), Is.EqualTo(Definition(image, filter, edges, c, y, x)).Within(1e-3), $"pixel c{c} y{y} x{x}");
    }

    /// <summary>The filter at one pixel straight from its definition, in double.</summary>
    static double Definition(PlanarImage img, Filter f, EdgeMode edges, int c, int y, int x)
    {
        double Correlate(float[,] k)
        {
            int kh = k.GetLength(0), kw = k.GetLength(1), top = (kh - 1) / 2, left = (kw - 1) / 2;
            double sum = 0;
            for (int i = 0; i < kh; i++)
                for (int j = 0; j < kw; j++)
                {
                    int sy = y + i - top, sx = x + j - left;
                    if (edges == EdgeMode.Replicate) { sy = Math.Clamp(sy, 0, img.Height - 1); sx = Math.Clamp(sx, 0, img.Width - 1); }
                    else if (sy < 0 || sx < 0 || sy >= img.Height || sx >= img.Width) continue;
                    sum += k[i, j] * (double)img.At(c, sy, sx);
                }
            return sum;
        }
        double a = Correlate(f.Kernel);
        if (f.SecondKernel is { } k2) { double b = Correlate(k2); return Math.Sqrt(a * a + b * b); }
        return f.Mapping == OutputMapping.Absolute ? Math.Abs(a) : a;
    }

    [Test]
    public void HandComputedPixels()
    {
        // 3x3 grey image 1..9: box 3 with zero edges at the corner averages four pixels over nine places.
        var img = new PlanarImage(3, 3, 1, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        var box = new ImageConvolver(cpu).Apply(img, Filter.Box(3));
        Assert.That(box.At(0, 0, 0), Is.EqualTo((1 + 2 + 4 + 5) / 9f).Within(1e-5));
        Assert.That(box.At(0, 1, 1), Is.EqualTo(45 / 9f).Within(1e-5));
        // Replicate: the corner's window is 1 1 2 / 1 1 2 / 4 4 5 = 21.
        var boxRep = new ImageConvolver(cpu).Apply(img, Filter.Box(3), EdgeMode.Replicate);
        Assert.That(boxRep.At(0, 0, 0), Is.EqualTo(21 / 9f).Within(1e-5));
        // Sharpen at the centre: 5*5 - (2 + 4 + 6 + 8) = 5; Laplacian there: 2 + 4 + 6 + 8 - 4*5 = 0.
        Assert.That(new ImageConvolver(cpu).Apply(img, Filter.Sharpen()).At(0, 1, 1), Is.EqualTo(5f).Within(1e-5));
        Assert.That(new ImageConvolver(cpu).Apply(img, Filter.Laplacian()).At(0, 1, 1), Is.EqualTo(0f).Within(1e-5));
        // Sobel x at the centre: (3 - 1) + 2 (6 - 4) + (9 - 7) = 8; Sobel y: (7 - 1) + 2 (8 - 2) + (9 - 3) = 24; magnitude sqrt(640).
        Assert.That(new ImageConvolver(cpu).Apply(img, Filter.SobelX()).At(0, 1, 1), Is.EqualTo(8f).Within(1e-5));
        Assert.That(new ImageConvolver(cpu).Apply(img, Filter.SobelY()).At(0, 1, 1), Is.EqualTo(24f).Within(1e-5));
        Assert.That(new ImageConvolver(cpu).Apply(img, Filter.GradientMagnitude()).At(0, 1, 1), Is.EqualTo(MathF.Sqrt(640)).Within(1e-4));
        // Emboss at the centre: -2*1 - 2 - 4 + 5 + 6 + 8 + 2*9 = 29.
        Assert.That(new ImageConvolver(cpu).Apply(img, Filter.Emboss()).At(0, 1, 1), Is.EqualTo(29f).Within(1e-5));
    }

    [Test]
    public void Gaussian_PreservesAConstantImage_AwayFromTheEdges_AndEverywhereWithReplicate()
    {
        var flat = new PlanarImage(24, 20, 3);
        Array.Fill(flat.Data, 137f);
        var blur = Filter.Gaussian(1.5); // 11x11: radius 5
        var zero = new ImageConvolver(cpu).Apply(flat, blur);
        for (int c = 0; c < 3; c++)
            for (int y = 5; y < 15; y++)
                for (int x = 5; x < 19; x++)
                    Assert.That(zero.At(c, y, x), Is.EqualTo(137f).Within(1e-3));
        Assert.That(zero.At(0, 0, 0), Is.LessThan(100f), "zero padding darkens the corner (PyTorch's behaviour)");
        var replicate = new ImageConvolver(cpu).Apply(flat, blur, EdgeMode.Replicate);
        Assert.That(replicate.Data, Is.All.EqualTo(137f).Within(1e-3));
        // Unsharp mask and emboss keep flat areas too (their weights sum to 1).
        Assert.That(new ImageConvolver(cpu).Apply(flat, Filter.UnsharpMask(1, 2), EdgeMode.Replicate).Data, Is.All.EqualTo(137f).Within(1e-2));
        Assert.That(new ImageConvolver(cpu).Apply(flat, Filter.Emboss(), EdgeMode.Replicate).Data, Is.All.EqualTo(137f).Within(1e-3));
    }

    [Test]
    public void SobelX_OfAVerticalStep_IsAVerticalLine()
    {
        var step = new PlanarImage(16, 12, 1);
        for (int y = 0; y < 12; y++)
            for (int x = 8; x < 16; x++)
                step.At(0, y, x) = 255;
        var edges = new ImageConvolver(cpu).Apply(step, Filter.SobelX(), EdgeMode.Replicate);
        for (int y = 0; y < 12; y++)
            for (int x = 0; x < 16; x++)
                Assert.That(edges.At(0, y, x), Is.EqualTo(x is 7 or 8 ? 4 * 255f : 0f).Within(1e-3), $"y{y} x{x}");
        var across = new ImageConvolver(cpu).Apply(step, Filter.SobelY(), EdgeMode.Replicate);
        Assert.That(across.Data, Is.All.EqualTo(0f).Within(1e-3), "no horizontal edge");
    }

    [Test]
    public void CustomKernel_ParsesRowsFractionsAndScale_AndRefusesBadText()
    {
        var k = Filter.Custom("1 2 1; 2 4 2; 1 2 1", 1.0 / 16).Kernel;
        Assert.That(k[1, 1], Is.EqualTo(0.25f));
        Assert.That(Filter.Custom("0 1/4 0 1/4 0 1/4 0 1/4 0").Kernel[0, 1], Is.EqualTo(0.25f), "one row of 9: 3x3");
        Assert.Throws<ArgumentException>(() => Filter.Custom("1 2; 3"));
        Assert.Throws<ArgumentException>(() => Filter.Custom("1 x 3"));
        Assert.Throws<ArgumentException>(() => Filter.Custom("1 2 3"));
        Assert.Throws<ArgumentException>(() => Filter.Box(0));
        Assert.Throws<ArgumentException>(() => Filter.Gaussian(-1));
    }

    [Test]
    public void TheSameCode_RunsOnDeviceResidentTensors_OfWhateverMemoryTheEngineHas()
    {
        // The convolver only uses engine.Upload/Forward/Download: on this CPU machine that is host memory.
        Assert.That(cpu.Memory.Kind, Is.EqualTo(MemoryKind.Host));
        var img = RandomImage(9, 7, 3, 5);
        Assert.That(new ImageConvolver(cpu).Apply(img, Filter.Box(1)).Data, Is.EqualTo(img.Data), "box 1 is the identity");
    }
}
