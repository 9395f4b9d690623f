using GpuConv.Tensors;

// Outside any namespace: NUnit runs this set-up fixture once around every test in the assembly.

/// <summary>
/// Every host array the engine leaves uninitialized (new outputs, downloads, <c>ConvEngine.Allocate</c>) starts as NaN
/// for the whole test run, child processes included (<c>GPUCONV_POISON_HOST_ALLOCATIONS=1</c>): code that reads such an
/// output before writing all of it fails the reference checks instead of reading the zeros of fresh pages.
/// </summary>
[SetUpFixture]
public sealed class PoisonedHostAllocations
{
    public const string EnvironmentVariable = "GPUCONV_POISON_HOST_ALLOCATIONS";
    string? _saved;

    [OneTimeSetUp]
    public void Poison()
    {
        _saved = Environment.GetEnvironmentVariable(EnvironmentVariable);
        Environment.SetEnvironmentVariable(EnvironmentVariable, "1");
        HostAllocation.Poison = true;
    }

    [OneTimeTearDown]
    public void Restore()
    {
        Environment.SetEnvironmentVariable(EnvironmentVariable, _saved);
        HostAllocation.Poison = _saved == "1";
    }
}
