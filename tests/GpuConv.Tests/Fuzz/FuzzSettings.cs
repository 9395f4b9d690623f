using System.Globalization;
using Microsoft.FSharp.Core;

namespace GpuConv.Tests.Fuzz;

/// <summary>
/// How long the property-based fuzz suite runs, and from which seed. CI runs the fast portion (seconds)
/// from a fixed seed, so a run is reproducible: with a new seed each run, the generator's coverage
/// checks (e.g. "at least cases/25 runnable problems") failed now and then on an unlucky draw. Set
/// <c>GPUCONV_FUZZ_SCALE</c> (e.g. 100) to multiply every property's case count for a long run, which
/// draws a new seed each time unless <c>GPUCONV_FUZZ_SEED</c> names one (also to vary the fast portion).
/// </summary>
static class FuzzSettings
{
    public const string ScaleVariable = "GPUCONV_FUZZ_SCALE";
    public const string SeedVariable = "GPUCONV_FUZZ_SEED";
    const ulong FastPortionSeed = 20261204;

    public static int Scale =>
        int.TryParse(Environment.GetEnvironmentVariable(ScaleVariable), NumberStyles.None, CultureInfo.InvariantCulture, out int s) && s >= 1 ? s : 1;

    /// <summary>The seed of this run: GPUCONV_FUZZ_SEED, else fixed for the fast portion, else none (random).</summary>
    public static ulong? Seed =>
        ulong.TryParse(Environment.GetEnvironmentVariable(SeedVariable), NumberStyles.None, CultureInfo.InvariantCulture, out ulong seed) ? seed
        : Scale == 1 ? FastPortionSeed : null;

    /// <summary>FsCheck's config: <paramref name="fastCases"/> × <see cref="Scale"/> cases from <see cref="Seed"/>, failures thrown with the shrunk case.</summary>
    public static FsCheck.Config Cases(int fastCases)
    {
        var config = FsCheck.Config.QuickThrowOnFailure.WithMaxTest(fastCases * Scale).WithQuietOnSuccess(true);
        return Seed is { } seed ? config.WithReplay(FSharpOption<FsCheck.Replay>.Some(new FsCheck.Replay(new FsCheck.Rnd(seed), FSharpOption<int>.None))) : config;
    }
}
