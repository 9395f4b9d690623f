using System.Globalization;

namespace GpuConv.ImageFilters;

/// <summary>How a filtered value becomes a pixel: as it is (clamped to 0–255), or its absolute value (edge detectors).</summary>
public enum OutputMapping
{
    Clamp,
    Absolute,
}

/// <summary>
/// One filter: a kernel applied to every channel the way PyTorch's conv2d applies a weight
/// (cross-correlation: kernel[0, 0] multiplies the top-left neighbour), or, for the gradient
/// magnitude, two kernels whose responses are combined as sqrt(gx² + gy²).
/// </summary>
public sealed record Filter(string Name, float[,] Kernel, OutputMapping Mapping = OutputMapping.Clamp, float[,]? SecondKernel = null)
{
    public int KernelHeight => Kernel.GetLength(0);
    public int KernelWidth => Kernel.GetLength(1);

    public override string ToString() => $"{Name} ({KernelHeight}x{KernelWidth})";

    public static readonly string[] Names =
        ["box", "gaussian", "sharpen", "unsharp", "emboss", "laplacian", "sobel-x", "sobel-y", "gradient", "kernel"];

    /// <summary>Mean of a size x size window.</summary>
    public static Filter Box(int size)
    {
        CheckSize(size, nameof(size));
        var k = new float[size, size];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                k[y, x] = 1f / (size * size);
        return new Filter($"box {size}", k);
    }

    /// <summary>Normalised Gaussian; size 0 picks 2·ceil(3σ) + 1 (odd, covering ±3σ).</summary>
    public static Filter Gaussian(double sigma, int size = 0) => new($"gaussian σ={Show(sigma)}", GaussianKernel(sigma, size));

    public static float[,] GaussianKernel(double sigma, int size = 0)
    {
        if (!(sigma > 0) || double.IsInfinity(sigma))
            throw new ArgumentException($"sigma must be a positive number, got {sigma}.", nameof(sigma));
        if (size == 0) size = 2 * (int)Math.Ceiling(3 * sigma) + 1;
        CheckSize(size, nameof(size));
        var k = new double[size, size];
        double c = (size - 1) / 2.0, sum = 0;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                sum += k[y, x] = Math.Exp(-((y - c) * (y - c) + (x - c) * (x - c)) / (2 * sigma * sigma));
        var f = new float[size, size];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                f[y, x] = (float)(k[y, x] / sum);
        return f;
    }

    public static Filter Sharpen() => new("sharpen", new float[,] { { 0, -1, 0 }, { -1, 5, -1 }, { 0, -1, 0 } });

    /// <summary>x + amount·(x − gaussian(x)): one kernel, (1 + amount)·identity − amount·G.</summary>
    public static Filter UnsharpMask(double sigma, double amount, int size = 0)
    {
        if (!(amount >= 0) || double.IsInfinity(amount))
            throw new ArgumentException($"amount must be a number >= 0, got {amount}.", nameof(amount));
        var g = GaussianKernel(sigma, size);
        int n = g.GetLength(0), centre = n / 2;
        var k = new float[n, n];
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
                k[y, x] = (float)(-amount * g[y, x] + (y == centre && x == centre ? 1 + amount : 0));
        return new Filter($"unsharp σ={Show(sigma)} amount={Show(amount)}", k);
    }

    /// <summary>Relief lit from the top left; the weights sum to 1, so flat areas keep their value.</summary>
    public static Filter Emboss() => new("emboss", new float[,] { { -2, -1, 0 }, { -1, 1, 1 }, { 0, 1, 2 } });

    public static Filter Laplacian() => new("laplacian", new float[,] { { 0, 1, 0 }, { 1, -4, 1 }, { 0, 1, 0 } }, OutputMapping.Absolute);

    public static readonly float[,] SobelXKernel = { { -1, 0, 1 }, { -2, 0, 2 }, { -1, 0, 1 } };
    public static readonly float[,] SobelYKernel = { { -1, -2, -1 }, { 0, 0, 0 }, { 1, 2, 1 } };

    public static Filter SobelX() => new("sobel-x", SobelXKernel, OutputMapping.Absolute);
    public static Filter SobelY() => new("sobel-y", SobelYKernel, OutputMapping.Absolute);
    public static Filter GradientMagnitude() => new("gradient", SobelXKernel, OutputMapping.Absolute, SobelYKernel);

    /// <summary>
    /// A user kernel: rows separated by ';', numbers by spaces or ','; e.g. "0 -1 0; -1 5 -1; 0 -1 0". A number
    /// may be a fraction ("1/16").
    /// A single row of n² numbers is read as n x n. Every weight is multiplied by <paramref name="scale"/>.
    /// </summary>
    public static Filter Custom(string text, double scale = 1)
    {
        ArgumentNullException.ThrowIfNull(text);
        var rows = text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(r => r.Split([' ', ',', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(v => ParseNumber(v, text)).ToArray())
            .Where(r => r.Length > 0).ToArray();
        if (rows.Length == 0) throw new ArgumentException($"kernel '{text}' has no numbers.", "kernel");
        if (rows.Length == 1)
        {
            int n = (int)Math.Round(Math.Sqrt(rows[0].Length));
            if (n * n != rows[0].Length)
                throw new ArgumentException($"kernel '{text}': one row of {rows[0].Length} numbers is not a square; separate rows with ';'.", "kernel");
            rows = rows[0].Chunk(n).ToArray();
        }
        int width = rows[0].Length;
        if (rows.Any(r => r.Length != width))
            throw new ArgumentException($"kernel '{text}': rows have different lengths ({string.Join(", ", rows.Select(r => r.Length))}).", "kernel");
        if (rows.Length > 63 || width > 63)
            throw new ArgumentException($"kernel '{text}' is {rows.Length}x{width}; at most 63x63.", "kernel");
        var k = new float[rows.Length, width];
        for (int y = 0; y < rows.Length; y++)
            for (int x = 0; x < width; x++)
                k[y, x] = (float)(rows[y][x] * scale);
        return new Filter("kernel", k);
    }

    static double ParseNumber(string v, string text)
    {
        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)) return d;
        var parts = v.Split('/');
        if (parts.Length == 2 && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var a)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var b) && b != 0)
            return a / b;
        throw new ArgumentException($"kernel '{text}': '{v}' is not a number.", "kernel");
    }

    static void CheckSize(int size, string name)
    {
        if (size is < 1 or > 63)
            throw new ArgumentException($"{name} must be in 1..63, got {size}.", name);
    }

    static string Show(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}
