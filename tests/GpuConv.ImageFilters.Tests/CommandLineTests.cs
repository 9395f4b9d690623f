using System.Buffers.Binary;

namespace GpuConv.ImageFilters.Tests;

/// <summary>The application end to end: files in, PNG out, and bad input giving exit status 2 with a clear message.</summary>
public class CommandLineTests
{
    string dir = null!;

    [SetUp] public void MakeDir() => dir = Directory.CreateTempSubdirectory("imagefilters-").FullName;
    [TearDown] public void RemoveDir() => Directory.Delete(dir, recursive: true);

    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = FilterApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    string Path(string name) => System.IO.Path.Combine(dir, name);

    [Test]
    public void Filter_WritesAPng_AndCompareWritesBothSideBySide()
    {
        var input = Path("in.png");
        ImageFile.WritePng(SyntheticImage.Scene(40, 24), input);

        var (code, stdout, stderr) = Run("gaussian", input, "-o", Path("out.png"), "--sigma", "1", "--cpu");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("gaussian").And.Contain("40x24 RGB").And.Contain("CPU"));
        var written = ImageFile.Read(Path("out.png"));
        Assert.That((written.Width, written.Height, written.Channels), Is.EqualTo((40, 24, 3)));

        (code, _, stderr) = Run("sobel-x", input, "-o", Path("cmp.png"), "--compare", "--grey", "--edges", "replicate", "--cpu");
        Assert.That(code, Is.EqualTo(0), stderr);
        var compared = ImageFile.Read(Path("cmp.png"));
        Assert.That((compared.Width, compared.Height), Is.EqualTo((80, 24)));
        Assert.That(compared.At(0, 3, 3), Is.EqualTo(FilterApp.ToGrey(ImageFile.Read(input)).At(0, 3, 3)).Within(1), "left half is the (grey) input");
    }

    [Test]
    public void UserKernel_FromTheCommandLine()
    {
        var (code, _, stderr) = Run("kernel", "synthetic:16x16", "-o", Path("k.png"), "--kernel", "0 0 0; 0 1 0; 0 0 0", "--cpu");
        Assert.That(code, Is.EqualTo(0), stderr);
        var scene = SyntheticImage.Scene(16, 16);
        Assert.That(ImageFile.Read(Path("k.png")).Data, Is.EqualTo(scene.Data.Select(v => (float)PlanarImage.ToByte(v)).ToArray()), "identity kernel");
    }

    [Test]
    public void TruncatedFile_IsABadInput()
    {
        var full = Path("full.png");
        ImageFile.WritePng(SyntheticImage.Scene(64, 48), full);
        var bytes = File.ReadAllBytes(full);
        File.WriteAllBytes(Path("cut.png"), bytes[..(bytes.Length / 2)]);
        var (code, _, stderr) = Run("box", Path("cut.png"), "-o", Path("o.png"), "--cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("cut.png").And.Contain("damaged or truncated"));
        Assert.That(stderr.TrimEnd('\n', '\r').Where(char.IsControl), Is.Empty, "the decoder's NUL-filled reason is not printed");
        Assert.That(File.Exists(Path("o.png")), Is.False);
    }

    [Test]
    public void TruncatedJpeg_IsABadInput_WhileTheWholeOneFilters()
    {
        // stb_image decoded a cut-off JPEG without complaint (the missing blocks grey), exit 0.
        var scene = SyntheticImage.Scene(64, 48);
        var jpeg = new MemoryStream();
        new StbImageWriteSharp.ImageWriter().WriteJpg(scene.ToInterleaved(), 64, 48, StbImageWriteSharp.ColorComponents.RedGreenBlue, jpeg, 90);
        var bytes = jpeg.ToArray();
        File.WriteAllBytes(Path("whole.jpg"), bytes);
        File.WriteAllBytes(Path("cut.jpg"), bytes[..(bytes.Length * 2 / 3)]);

        var (whole, _, wholeErr) = Run("box", Path("whole.jpg"), "-o", Path("w.png"), "--cpu");
        Assert.That(whole, Is.EqualTo(0), wholeErr);
        var (code, _, stderr) = Run("box", Path("cut.jpg"), "-o", Path("o.png"), "--cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("cut.jpg").And.Contain("damaged or truncated"));
        Assert.That(File.Exists(Path("o.png")), Is.False);

        // Cut inside the headers, before the first scan: decoded too (all grey).
        int scan = bytes.AsSpan().IndexOf((ReadOnlySpan<byte>)[0xFF, 0xDA]);
        File.WriteAllBytes(Path("headers.jpg"), bytes[..(scan + 1)]);
        (code, _, stderr) = Run("box", Path("headers.jpg"), "-o", Path("o.png"), "--cpu");
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.Contain("headers.jpg"));
    }

    [Test]
    public void OutputThatIsAFolder_IsABadInput()
    {
        Directory.CreateDirectory(Path("out.png"));
        var (code, _, stderr) = Run("box", "synthetic:16x16", "-o", Path("out.png"), "--cpu");
        Assert.That(code, Is.EqualTo(2), stderr);
        Assert.That(stderr, Does.StartWith("error: output '").And.Contain("is a folder"));
    }

    [Test]
    public void NotAnImage_IsABadInput()
    {
        File.WriteAllText(Path("notes.png"), "this is not a picture, only text that pretends to be one\n");
        var (code, _, stderr) = Run("box", Path("notes.png"), "-o", Path("o.png"), "--cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("not an image"));
    }

    [Test]
    public void EmptyAndMissingFiles_AreBadInputs()
    {
        File.WriteAllBytes(Path("empty.png"), []);
        Assert.That(Run("box", Path("empty.png"), "-o", Path("o.png")).Err, Does.Contain("empty"));
        var (code, _, stderr) = Run("box", Path("missing.png"), "-o", Path("o.png"));
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("cannot read"));
    }

    /// <summary>A PNG header alone, claiming the given size (no pixel data).</summary>
    static byte[] PngHeader(int width, int height, byte colorType)
    {
        var png = new List<byte> { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A };
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(0), width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; ihdr[9] = colorType;
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, 13);
        png.AddRange(length);
        png.AddRange("IHDR"u8.ToArray());
        png.AddRange(ihdr);
        png.AddRange(new byte[4]); // CRC (stb_image does not check it)
        return png.ToArray();
    }

    /// <summary>
    /// Headers claiming 100000 x 100000 RGBA (40 GB; stb_image itself refuses it) and 20000 x 20000 grey
    /// (stb would try to allocate 400 MB): both refused from the header, naming the size.
    /// </summary>
    [TestCase(100_000, (byte)6)]
    [TestCase(20_000, (byte)0)]
    public void HugeDimensions_AreRefusedBeforeDecoding(int side, byte colorType)
    {
        File.WriteAllBytes(Path("huge.png"), PngHeader(side, side, colorType));
        var (code, _, stderr) = Run("box", Path("huge.png"), "-o", Path("o.png"), "--cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain($"{side}x{side}").And.Contain("outside"));
    }

    [TestCase(new string[0], "usage")]
    [TestCase(new[] { "blurry", "synthetic", "-o", "x.png" }, "unknown filter 'blurry'")]
    [TestCase(new[] { "box", "synthetic" }, "no output")]
    [TestCase(new[] { "box", "synthetic", "-o", "x.jpg" }, "must be a .png")]
    [TestCase(new[] { "box", "synthetic", "-o", "x.png", "--size", "big" }, "--size must be an integer")]
    [TestCase(new[] { "box", "synthetic", "-o", "x.png", "--edges", "wrap" }, "zero or replicate")]
    [TestCase(new[] { "kernel", "synthetic", "-o", "x.png" }, "needs --kernel")]
    [TestCase(new[] { "gaussian", "synthetic", "-o", "x.png", "--sigma", "0" }, "sigma must be a positive number")]
    [TestCase(new[] { "box", "synthetic:3x3", "-o", "x.png" }, "synthetic:WxH")]
    // --size 0 was taken as "the default" (box 5, gaussian 2*ceil(3 sigma)+1) without a word.
    [TestCase(new[] { "box", "synthetic", "-o", "x.png", "--size", "0" }, "size must be in 1..63, got 0")]
    [TestCase(new[] { "gaussian", "synthetic", "-o", "x.png", "--size", "0" }, "size must be in 1..63, got 0")]
    [TestCase(new[] { "unsharp", "synthetic", "-o", "x.png", "--size", "0" }, "size must be in 1..63, got 0")]
    public void UsageErrors_ExitWith2_AndSayWhatIsWrong(string[] args, string message)
    {
        var (code, _, stderr) = Run(args);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain(message));
        Assert.That(stderr, Does.Not.Contain("(Parameter '"), "the message names the option itself");
    }
}
