namespace GpuConv.ImageFilters;

/// <summary>
/// A made-up RGB test scene (no outside picture needed): a sky gradient, a sun, a house with a window, a
/// checkerboard ground and thin stripes — smooth areas, hard edges in every direction, and fine detail.
/// Used for the pictures in docs/samples.md (INPUT "synthetic" or "synthetic:WxH") and by the tests.
/// </summary>
public static class SyntheticImage
{
    public static PlanarImage Scene(int width = 192, int height = 128)
    {
        var img = new PlanarImage(width, height, 3);
        int horizon = height * 5 / 8;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                (float r, float g, float b) = y < horizon
                    ? (90 + 100f * y / horizon, 140 + 80f * y / horizon, 235f)                  // sky
                    : ((x / 12 + y / 12) % 2 == 0 ? (70f, 150f, 60f) : (40f, 110f, 35f));       // checkered grass
                float sx = x - width * 0.78f, sy = y - height * 0.22f, sun = height * 0.13f;
                if (sx * sx + sy * sy < sun * sun) (r, g, b) = (255f, 215f, 60f);
                int hx0 = width / 6, hx1 = width / 6 + width / 3, hy0 = horizon - height / 4;
                if (x >= hx0 && x < hx1 && y >= hy0 && y < horizon) (r, g, b) = (200f, 80f, 60f);   // house
                int cx = (hx0 + hx1) / 2, roof = hy0 - (hx1 - hx0) / 2;
                if (y >= roof && y < hy0 && Math.Abs(x - cx) <= (y - roof)) (r, g, b) = (120f, 50f, 40f); // roof
                if (x >= hx0 + 6 && x < hx0 + 18 && y >= hy0 + 6 && y < hy0 + 16) (r, g, b) = (250f, 250f, 210f); // window
                if (x > width * 3 / 4 && y > horizon + 4 && (x + y) % 6 < 2) (r, g, b) = (230f, 230f, 230f);   // fine stripes
                img.At(0, y, x) = r;
                img.At(1, y, x) = g;
                img.At(2, y, x) = b;
            }
        return img;
    }

    /// <summary>"synthetic" or "synthetic:WxH" → the scene; null for any other input name.</summary>
    public static PlanarImage? FromName(string input)
    {
        if (input == "synthetic") return Scene();
        if (!input.StartsWith("synthetic:", StringComparison.Ordinal)) return null;
        var parts = input["synthetic:".Length..].Split('x');
        if (parts.Length == 2 && int.TryParse(parts[0], out int w) && int.TryParse(parts[1], out int h) && w is >= 8 and <= 4096 && h is >= 8 and <= 4096)
            return Scene(w, h);
        throw new ArgumentException($"'{input}': expected synthetic:WxH with W and H in 8..4096.", "INPUT");
    }
}
