using System.Globalization;

namespace GpuConv.ImageFilters;

/// <summary>
/// The command line: <c>GpuConv.ImageFilters FILTER INPUT -o OUTPUT.png [options]</c>. Exit status 0 on success,
/// 2 for bad input (usage, unreadable or damaged image, absurd size), 3 for anything unexpected; never a stack trace.
/// </summary>
public static class FilterApp
{
    public const int Ok = 0, BadInput = 2, Failure = 3;

    public const string Usage = """
        usage: GpuConv.ImageFilters FILTER INPUT -o OUTPUT.png [options]

        filters:
          box          mean of a window              --size N (default 5)
          gaussian     Gaussian blur                 --sigma S (default 2), --size N (default 2*ceil(3S)+1)
          sharpen      3x3 sharpen
          unsharp      unsharp mask                  --sigma S (default 2), --amount A (default 1), --size N
          emboss       3x3 relief
          laplacian    |3x3 Laplacian|
          sobel-x      |Sobel x| (vertical edges)
          sobel-y      |Sobel y| (horizontal edges)
          gradient     Sobel gradient magnitude sqrt(gx^2 + gy^2)
          kernel       your own weights              --kernel "0 -1 0; -1 5 -1; 0 -1 0" (rows by ';', 1/16 allowed), --scale F

        options:
          -o, --output PATH   PNG to write (required)
          --edges zero|replicate
                              outside the picture: zeros (PyTorch's padding, the default) or the nearest edge pixel
          --compare           write input and output side by side
          --cpu               run on the CPU even when a GPU is usable
          --grey              convert to grey first
        INPUT: PNG, JPEG, BMP (anything stb_image reads), or "synthetic[:WxH]" for a made-up test scene;
        color is filtered per channel (depthwise), alpha dropped.
        """;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        try
        {
            if (args.Length == 0 || args.Contains("-h") || args.Contains("--help"))
            {
                (args.Length == 0 ? stderr : stdout).WriteLine(Usage);
                return args.Length == 0 ? BadInput : Ok;
            }
            var request = FilterRequest.Parse(args);
            var image = SyntheticImage.FromName(request.Input) ?? ImageFile.Read(request.Input);
            if (request.Grey) image = ToGrey(image);
            using var engine = ConvEngine.Open(new ConvEngineOptions { Device = request.Cpu ? DeviceKind.Cpu : DeviceKind.Auto });
            var convolver = new ImageConvolver(engine);
            var filtered = convolver.Apply(image, request.Filter, request.Edges);
            ImageFile.WritePng(request.Compare ? image.SideBySide(filtered) : filtered, request.Output);
            var device = engine.Memory.Kind == Tensors.MemoryKind.Device
                ? $"GPU {engine.Device.Name}"
                : $"CPU ({(request.Cpu ? "asked for" : "no usable GPU: " + engine.GpuUnavailableReason?.Split(':')[0])})";
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{request.Filter} on {image.Width}x{image.Height} {(image.Channels == 3 ? "RGB" : "grey")}, edges {request.Edges.ToString().ToLowerInvariant()}: {convolver.LastMilliseconds:0.0} ms on {device} -> {request.Output}"));
            return Ok;
        }
        catch (BadImageException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return BadInput;
        }
        catch (ArgumentException e)
        {
            // Without .NET's " (Parameter 'sigma')" suffix: the message already names the option.
            string message = e.ParamName is { } name ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
            stderr.WriteLine($"error: {message}");
            stderr.WriteLine("run with --help for the usage.");
            return BadInput;
        }
        catch (IOException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return BadInput;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"error: unexpected {e.GetType().Name}: {e.Message}");
            return Failure;
        }
    }

    /// <summary>ITU-R BT.601 luma, as most tools convert.</summary>
    public static PlanarImage ToGrey(PlanarImage image)
    {
        if (image.Channels == 1) return image;
        var grey = new PlanarImage(image.Width, image.Height, 1);
        int plane = image.Width * image.Height;
        for (int i = 0; i < plane; i++)
            grey.Data[i] = 0.299f * image.Data[i] + 0.587f * image.Data[plane + i] + 0.114f * image.Data[2 * plane + i];
        return grey;
    }
}

/// <summary>The parsed command line; every bad value is an <see cref="ArgumentException"/> naming the option.</summary>
public sealed record FilterRequest(string Input, string Output, Filter Filter, EdgeMode Edges, bool Compare, bool Cpu, bool Grey)
{
    public static FilterRequest Parse(string[] args)
    {
        string? filterName = null, input = null, output = null, kernel = null;
        int? size = null; // null: the filter's default (0 is the library's "auto", not a size a user may ask for)
        double? sigma = null;
        double amount = 1, scale = 1;
        var edges = EdgeMode.Zero;
        bool compare = false, cpu = false, grey = false;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Value()
            {
                if (i + 1 >= args.Length) throw new ArgumentException($"option {a} needs a value.", a);
                return args[++i];
            }
            switch (a)
            {
                case "-o" or "--output": output = Value(); break;
                case "--size": size = ParseInt(Value(), a); break;
                case "--sigma": sigma = ParseDouble(Value(), a); break;
                case "--amount": amount = ParseDouble(Value(), a); break;
                case "--scale": scale = ParseDouble(Value(), a); break;
                case "--kernel": kernel = Value(); break;
                case "--edges":
                    var e = Value();
                    edges = e.ToLowerInvariant() switch
                    {
                        "zero" or "zeros" => EdgeMode.Zero,
                        "replicate" => EdgeMode.Replicate,
                        _ => throw new ArgumentException($"--edges must be zero or replicate, got '{e}'.", a),
                    };
                    break;
                case "--compare": compare = true; break;
                case "--cpu": cpu = true; break;
                case "--grey" or "--gray": grey = true; break;
                default:
                    if (a.StartsWith('-') && a.Length > 1) throw new ArgumentException($"unknown option '{a}'.", a);
                    if (filterName is null) filterName = a;
                    else if (input is null) input = a;
                    else throw new ArgumentException($"unexpected argument '{a}' (filter '{filterName}' and input '{input}' already given).", a);
                    break;
            }
        }
        if (filterName is null) throw new ArgumentException($"no filter given; one of {string.Join(", ", Filter.Names)}.", "FILTER");
        if (input is null) throw new ArgumentException("no input image given.", "INPUT");
        if (output is null) throw new ArgumentException("no output given (-o OUTPUT.png).", "--output");
        if (!output.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"output '{output}' must be a .png file.", "--output");
        // Refused here, before any work: writing it failed at the end with an unexpected UnauthorizedAccessException (exit 3).
        if (Directory.Exists(output))
            throw new ArgumentException($"output '{output}' is a folder, not a file.", "--output");
        if (kernel is not null && filterName != "kernel")
            throw new ArgumentException($"--kernel is for the 'kernel' filter, not '{filterName}'.", "--kernel");
        var filter = filterName switch
        {
            "box" => Filter.Box(size ?? 5),
            "gaussian" or "blur" => Filter.Gaussian(sigma ?? 2, CheckedSize(size)),
            "sharpen" => Filter.Sharpen(),
            "unsharp" => Filter.UnsharpMask(sigma ?? 2, amount, CheckedSize(size)),
            "emboss" => Filter.Emboss(),
            "laplacian" => Filter.Laplacian(),
            "sobel-x" => Filter.SobelX(),
            "sobel-y" => Filter.SobelY(),
            "gradient" => Filter.GradientMagnitude(),
            "kernel" => Filter.Custom(kernel ?? throw new ArgumentException("the 'kernel' filter needs --kernel \"…\".", "--kernel"), scale),
            _ => throw new ArgumentException($"unknown filter '{filterName}'; one of {string.Join(", ", Filter.Names)}.", "FILTER"),
        };
        return new FilterRequest(input, output, filter, edges, compare, cpu, grey);
    }

    /// <summary>A size the user gave (1..63, else refused as Box refuses it), or 0 for the sigma-derived default.</summary>
    static int CheckedSize(int? size) =>
        size is null ? 0 : size is < 1 ? throw new ArgumentException($"--size must be in 1..63, got {size}.", "--size") : size.Value;

    static int ParseInt(string v, string option) =>
        int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
            ? n : throw new ArgumentException($"{option} must be an integer, got '{v}'.", option);

    static double ParseDouble(string v, string option) =>
        double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)
            ? d : throw new ArgumentException($"{option} must be a number, got '{v}'.", option);
}
