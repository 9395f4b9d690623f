using System.Globalization;

namespace GpuConv.Tests.Fuzz;

/// <summary>
/// How long the property-based fuzz suite runs. CI runs the fast portion (seconds); set
/// <c>GPUCONV_FUZZ_SCALE</c> (e.g. 100) to multiply every property's case count for a long run.
/// </summary>
static class FuzzSettings
{
    public const string ScaleVariable = "GPUCONV_FUZZ_SCALE";

    public static int Scale =>
        int.TryParse(Environment.GetEnvironmentVariable(ScaleVariable), NumberStyles.None, CultureInfo.InvariantCulture, out int s) && s >= 1 ? s : 1;

    /// <summary>FsCheck's config: <paramref name="fastCases"/> × <see cref="Scale"/> cases, failures thrown with the shrunk case.</summary>
    public static FsCheck.Config Cases(int fastCases) =>
        FsCheck.Config.QuickThrowOnFailure.WithMaxTest(fastCases * Scale).WithQuietOnSuccess(true);
}
