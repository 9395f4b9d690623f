namespace GpuConv.Tensors;

/// <summary>
/// Arrays for host tensors whose every element the engine writes before anyone reads it (an op's new output, a
/// download, <c>ConvEngine.Allocate</c>, whose contents are unspecified): not zeroed first. Zeroing cost as much as a cheap
/// op (one thread: a 3.2 MB <c>Allocate</c> 85–101 µs zeroed, 30–33 not; a ReLU into a new 64 × 56 × 56 output 36 against
/// 28). Fresh pages read
/// zero whatever the runtime does, which would hide code that reads an output before writing it; with
/// <see cref="Poison"/> (the tests set it; <c>GPUCONV_POISON_HOST_ALLOCATIONS=1</c> in any process) every such array starts
/// as NaN instead, so that code fails its reference checks.
/// </summary>
internal static class HostAllocation
{
    /// <summary>Fill each new array with NaN (a test mode: costs a pass over the array).</summary>
    internal static bool Poison { get; set; } = Environment.GetEnvironmentVariable("GPUCONV_POISON_HOST_ALLOCATIONS") == "1";

    /// <summary>A new array of <paramref name="length"/> floats whose contents the caller overwrites.</summary>
    internal static float[] Uninitialized(int length)
    {
        var data = GC.AllocateUninitializedArray<float>(length);
        if (Poison) data.AsSpan().Fill(float.NaN);
        return data;
    }
}
