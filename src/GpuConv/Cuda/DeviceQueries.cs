using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>Per-device driver queries (no context needed).</summary>
internal static unsafe class DeviceQueries
{
    public static CudaDeviceInfo Describe(int ordinal)
    {
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuDeviceGet(out int dev, ordinal), "cuDeviceGet");
        byte* name = stackalloc byte[256];
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuDeviceGetName(name, 256, dev), "cuDeviceGetName");
        return new CudaDeviceInfo(
            ordinal,
            NativeText.FromBuffer(new ReadOnlySpan<byte>(name, 256)),
            Attribute(dev, CuDeviceAttribute.ComputeCapabilityMajor),
            Attribute(dev, CuDeviceAttribute.ComputeCapabilityMinor),
            Attribute(dev, CuDeviceAttribute.MultiprocessorCount),
            TotalMemory(dev));
    }

    static int Attribute(int dev, CuDeviceAttribute attribute)
    {
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuDeviceGetAttribute(out int value, attribute, dev), "cuDeviceGetAttribute");
        return value;
    }

    static long TotalMemory(int dev)
    {
        CudaDriver.Check(NativeTrace.Start(), CudaDriver.cuDeviceTotalMem_v2(out nuint bytes, dev), "cuDeviceTotalMem_v2");
        return (long)bytes;
    }
}
