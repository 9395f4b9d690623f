namespace GpuConv.Cuda.Native;

/// <summary>
/// Calls a library's preferred entry point and, if the loaded library does not export it
/// (<see cref="EntryPointNotFoundException"/> on the first call), an older name with the same
/// signature instead — remembered, so the missing one is looked up once. For renamed functions:
/// CUDA 13's header declares only cuEventElapsedTime_v2, older drivers export only cuEventElapsedTime.
/// </summary>
internal sealed class EntryPointFallback<TFunction>(TFunction preferred, string preferredName, TFunction fallback, string fallbackName)
    where TFunction : Delegate
{
    volatile bool _preferredMissing;

    /// <summary>The name of the entry point calls go to now.</summary>
    public string Name => _preferredMissing ? fallbackName : preferredName;

    public TResult Invoke<TResult>(Func<TFunction, TResult> call)
    {
        if (!_preferredMissing)
        {
            try { return call(preferred); }
            catch (EntryPointNotFoundException) { _preferredMissing = true; }
        }
        return call(fallback);
    }
}
