using GpuConv.Tests.NativeFakes;

// In the root test namespace: NUnit runs this set-up fixture once around every test of GpuConv.Tests.*.
namespace GpuConv.Tests;

/// <summary>Registers the PTX launch hook with the fake driver before any test, when this process runs against the native fakes.</summary>
[SetUpFixture]
public sealed class NativeFakeSetUp
{
    [OneTimeSetUp]
    public void RegisterLaunchHook()
    {
        if (NativeFakeLibraries.Folder is not null) NativeFakeLaunchHook.Register();
    }
}
