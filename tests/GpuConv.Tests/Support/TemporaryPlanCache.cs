using GpuConv.Planning;

// Outside any namespace: NUnit runs this set-up fixture once around every test in the assembly.

/// <summary>
/// Points <c>$GPUCONV_PLAN_CACHE</c> at a fresh temporary file for the whole test run (child processes
/// inherit it), so engines and CLI commands opened without an explicit cache path never read or write
/// the real per-user plan cache: no run depends on what an earlier run left behind.
/// </summary>
[SetUpFixture]
public sealed class TemporaryPlanCache
{
    static string? _folder;
    string? _saved;

    /// <summary>The cache file every test sees as the default; null outside a test run.</summary>
    public static string? PathInUse => _folder is null ? null : Path.Combine(_folder, "plans.json");

    [OneTimeSetUp]
    public void PointAtATemporaryFile()
    {
        _saved = Environment.GetEnvironmentVariable(PlanCache.PathEnvironmentVariable);
        _folder = Directory.CreateTempSubdirectory("gpuconv-test-plans-").FullName;
        Environment.SetEnvironmentVariable(PlanCache.PathEnvironmentVariable, PathInUse);
    }

    [OneTimeTearDown]
    public void Restore()
    {
        Environment.SetEnvironmentVariable(PlanCache.PathEnvironmentVariable, _saved);
        if (_folder is not null && Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
        _folder = null;
    }
}
