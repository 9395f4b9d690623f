using System.Runtime.InteropServices;
using GpuConv.Cuda;
using GpuConv.Cuda.Native;

namespace GpuConv.Backends.Cudnn;

/// <summary>
/// One cuDNN backend descriptor (cudnnBackendCreateDescriptor … cudnnBackendDestroyDescriptor) with typed
/// attribute setters and getters. Every call is traced (GPUCONV_TRACE) and a non-success status throws
/// <see cref="CudnnException"/> naming the descriptor type and attribute; <see cref="TryFinalize"/> returns
/// the status instead, because an engine config that will not finalize is a declined candidate, not an error.
/// </summary>
internal sealed unsafe class CudnnBackendDescriptor : SafeHandle
{
    readonly ICudnnGraphApi _api;

    public CudnnBackendDescriptor(ICudnnGraphApi api, CudnnBackendDescriptorType type) : base(0, true)
    {
        _api = api;
        Type = type;
        CuDnn.Check(NativeTrace.Start(), api.CreateDescriptor(type, out var h), "cudnnBackendCreateDescriptor", $"{type}");
        SetHandle(h);
    }

    public CudnnBackendDescriptorType Type { get; }
    public override bool IsInvalid => handle == 0;
    internal nint Raw => IsClosed ? throw new ObjectDisposedException(nameof(CudnnBackendDescriptor)) : handle;

    protected override bool ReleaseHandle()
    {
        try { return _api.DestroyDescriptor(handle) == CudnnStatus.Success; }
        catch (Exception) { return false; }
    }

    void Set(CudnnBackendAttributeName name, CudnnBackendAttributeType type, long count, void* elements, string shown) =>
        CuDnn.Check(NativeTrace.Start(), _api.SetAttribute(Raw, name, type, count, elements), "cudnnBackendSetAttribute", $"{Type}.{name} {type}[{count}] = {shown}");

    public void SetInt64(CudnnBackendAttributeName name, params long[] values)
    {
        fixed (long* p = values) Set(name, CudnnBackendAttributeType.Int64, values.Length, p, $"[{string.Join(",", values)}]");
    }

    public void SetEnum(CudnnBackendAttributeName name, CudnnBackendAttributeType type, int value) => Set(name, type, 1, &value, value.ToString());

    public void SetFloat(CudnnBackendAttributeName name, float value) => Set(name, CudnnBackendAttributeType.Float, 1, &value, value.ToString("R"));

    public void SetHandleAttribute(CudnnBackendAttributeName name, nint cudnnHandle) =>
        Set(name, CudnnBackendAttributeType.Handle, 1, &cudnnHandle, $"0x{cudnnHandle:x}");

    public void SetDescriptors(CudnnBackendAttributeName name, params CudnnBackendDescriptor[] descriptors)
    {
        var raw = descriptors.Select(d => d.Raw).ToArray();
        fixed (nint* p = raw) Set(name, CudnnBackendAttributeType.BackendDescriptor, raw.Length, p, $"[{string.Join(",", descriptors.Select(d => d.Type))}]");
    }

    public void SetPointers(CudnnBackendAttributeName name, params ulong[] pointers)
    {
        fixed (ulong* p = pointers) Set(name, CudnnBackendAttributeType.VoidPtr, pointers.Length, p, $"[{string.Join(",", pointers.Select(x => $"0x{x:x}"))}]");
    }

    /// <summary>cudnnBackendFinalize, throwing on failure.</summary>
    public void FinalizeOrThrow() => CuDnn.Check(NativeTrace.Start(), _api.FinalizeDescriptor(Raw), "cudnnBackendFinalize", $"{Type}");

    /// <summary>cudnnBackendFinalize, returning the status (traced).</summary>
    public CudnnStatus TryFinalize()
    {
        long started = NativeTrace.Start();
        var status = _api.FinalizeDescriptor(Raw);
        NativeTrace.Record(started, "cudnnBackendFinalize", NativeText.StatusLabel(status), $"{Type}");
        return status;
    }

    /// <summary>Reads up to <paramref name="max"/> elements of an int-sized or 64-bit attribute; returns how many cuDNN wrote.</summary>
    long Get(CudnnBackendAttributeName name, CudnnBackendAttributeType type, long max, void* elements)
    {
        long count = 0;
        CuDnn.Check(NativeTrace.Start(), _api.GetAttribute(Raw, name, type, max, &count, elements), "cudnnBackendGetAttribute", $"{Type}.{name} {type} max {max}");
        return count;
    }

    public long GetInt64(CudnnBackendAttributeName name)
    {
        long value = 0;
        Get(name, CudnnBackendAttributeType.Int64, 1, &value);
        return value;
    }

    /// <summary>An attribute whose elements are C enums (4 bytes each), e.g. the numerical notes.</summary>
    public int[] GetEnums(CudnnBackendAttributeName name, CudnnBackendAttributeType type, int max)
    {
        var values = new int[max];
        long n;
        fixed (int* p = values) n = Get(name, type, max, p);
        return values[..(int)Math.Clamp(n, 0, max)];
    }

    /// <summary>
    /// How many descriptors a descriptor-array attribute holds (a get with requestedElementCount 0 only
    /// counts, as the backend API documents for array attributes).
    /// </summary>
    public long CountDescriptors(CudnnBackendAttributeName name) => Get(name, CudnnBackendAttributeType.BackendDescriptor, 0, null);

    /// <summary>Fills <paramref name="into"/> (created by the caller, as the backend API requires) from a descriptor attribute; returns how many were filled.</summary>
    public int GetDescriptors(CudnnBackendAttributeName name, CudnnBackendDescriptor[] into)
    {
        var raw = into.Select(d => d.Raw).ToArray();
        long n;
        fixed (nint* p = raw) n = Get(name, CudnnBackendAttributeType.BackendDescriptor, raw.Length, p);
        return (int)Math.Clamp(n, 0, into.Length);
    }
}
