using GpuConv.Cuda.Native;

namespace GpuConv.Cuda;

/// <summary>Orders work between an application's stream and the engine's (a seam so the engine's use of it is tested on CPU).</summary>
internal interface IStreamJoin : IDisposable
{
    /// <summary>The engine's stream waits for the work already on <paramref name="appStream"/>.</summary>
    void Enter(nint appStream);

    /// <summary><paramref name="appStream"/> waits for the work the engine issued so far.</summary>
    void Leave(nint appStream);
}

/// <summary>
/// Orders the engine's stream inside an application's CUDA stream with two events and no host wait:
/// <see cref="Enter"/> makes the engine's stream wait for everything issued on the application's stream so
/// far; <see cref="Leave"/> makes the application's stream wait for everything the engine issued since.
/// Work the application issues on its stream after a call therefore sees the call's results, exactly as if
/// the engine had run on that stream. Both streams must belong to the same context (the device's primary
/// context, the one the CUDA runtime API also uses).
/// </summary>
internal sealed class StreamJoin : IStreamJoin
{
    readonly CudaContext _context;
    readonly EventHandle _appDone, _engineDone;

    public StreamJoin(CudaContext context)
    {
        _context = context;
        _appDone = CreateEvent(context.Lifetime);
        _engineDone = CreateEvent(context.Lifetime);
    }

    static EventHandle CreateEvent(ContextLifetime owner)
    {
        using var current = owner.Enter();
        // Timing off: these events only order streams (cheaper to record and wait on).
        CudaDriver.Check(CudaDriver.cuEventCreate(out var e, CuFlags.EventDisableTiming), "cuEventCreate");
        return new EventHandle(owner, e);
    }

    /// <summary>The engine's stream waits for the work already on <paramref name="appStream"/>.</summary>
    public void Enter(nint appStream)
    {
        using var current = _context.Lifetime.Enter();
        CudaDriver.Check(CudaDriver.cuEventRecord(_appDone.DangerousGetHandle(), appStream), "cuEventRecord (application stream)");
        CudaDriver.Check(CudaDriver.cuStreamWaitEvent(_context.Stream.Handle, _appDone.DangerousGetHandle(), 0), "cuStreamWaitEvent (engine stream)");
    }

    /// <summary><paramref name="appStream"/> waits for the work the engine issued so far.</summary>
    public void Leave(nint appStream)
    {
        using var current = _context.Lifetime.Enter();
        CudaDriver.Check(CudaDriver.cuEventRecord(_engineDone.DangerousGetHandle(), _context.Stream.Handle), "cuEventRecord (engine stream)");
        CudaDriver.Check(CudaDriver.cuStreamWaitEvent(appStream, _engineDone.DangerousGetHandle(), 0), "cuStreamWaitEvent (application stream)");
    }

    public void Dispose()
    {
        _appDone.Dispose();
        _engineDone.Dispose();
    }
}
