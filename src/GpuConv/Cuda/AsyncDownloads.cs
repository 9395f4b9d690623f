using GpuConv.Tensors;

namespace GpuConv.Cuda;

/// <summary>
/// Non-waiting downloads for one engine: each copies a device tensor into page-locked staging memory on a
/// stream and records an event after it; one background thread waits for the events in issue order (the order
/// the stream completes them), copies the staging memory into a new <see cref="HostTensor"/> and completes the task.
/// Staging buffers and events are reused between downloads (a few kept free) and freed by <see cref="Dispose"/>,
/// which lets the pending downloads finish first (it waits for them, as disposing the context waits for the device).
/// </summary>
internal sealed unsafe class AsyncDownloads : IDisposable
{
    /// <summary>Free staging buffers kept for reuse; more are freed as their downloads complete.</summary>
    const int KeptFree = 4;

    /// <summary>How long the waiter thread stays with nothing pending before it ends.</summary>
    static readonly TimeSpan IdleExit = TimeSpan.FromSeconds(2);

    readonly CudaContext _context;
    readonly object _gate = new();
    readonly Queue<Pending> _pending = new();
    readonly List<PinnedHostBuffer> _freeBuffers = [];
    readonly Stack<CudaEvent> _freeEvents = new();
    /// <summary>The thread completing downloads; null while none is pending for a while (it ends when idle).</summary>
    Thread? _waiter;
    bool _disposed;

    sealed record Pending(TensorShape Shape, PinnedHostBuffer Staging, CudaEvent Done, TaskCompletionSource<HostTensor> Result);

    public AsyncDownloads(CudaContext context) => _context = context;

    /// <summary>Pending downloads (issued, task not yet completed); for tests.</summary>
    public int PendingCount { get { lock (_gate) return _pending.Count; } }

    /// <summary>Whether the waiter thread is running (it ends when idle); for tests.</summary>
    public bool WaiterRunning { get { lock (_gate) return _waiter is not null; } }

    /// <summary>Staging buffers held (free ones; those of pending downloads are not counted); for tests.</summary>
    public int FreeBufferCount { get { lock (_gate) return _freeBuffers.Count; } }

    /// <summary>
    /// Enqueues the copy of <paramref name="source"/> on <paramref name="stream"/> after the work already there and
    /// returns the task that completes with it. Throws (nothing enqueued) if the copy cannot be issued.
    /// </summary>
    public Task<HostTensor> Enqueue(DeviceTensor source, CudaStream stream)
    {
        int elements = source.Shape.ElementCountInt;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var staging = TakeBuffer(elements);
            CudaEvent? done = null;
            try
            {
                done = _freeEvents.Count > 0 ? _freeEvents.Pop() : new CudaEvent(_context.Lifetime);
                ((IDeviceRuntime)_context).CopyDeviceToHost(staging.Pointer, source.Pointer, source.ByteCount, stream);
                done.Record(stream);
            }
            catch
            {
                Recycle(staging, done);
                throw;
            }
            // Continuations run on the thread pool, never on the waiter thread (which must not block on user code).
            var pending = new Pending(source.Shape, staging, done, new TaskCompletionSource<HostTensor>(TaskCreationOptions.RunContinuationsAsynchronously));
            _pending.Enqueue(pending);
            Monitor.PulseAll(_gate);
            _waiter ??= StartWaiter();
            return pending.Result.Task;
        }
    }

    Thread StartWaiter()
    {
        var t = new Thread(WaitLoop) { IsBackground = true, Name = "GpuConv download waiter" };
        t.Start();
        return t;
    }

    void WaitLoop()
    {
        while (true)
        {
            Pending next;
            lock (_gate)
            {
                // An idle waiter ends (the next download starts another): an engine never disposed keeps no thread.
                if (_pending.Count == 0 && !_disposed) Monitor.Wait(_gate, IdleExit);
                if (_pending.Count == 0)
                {
                    if (!_disposed) _waiter = null;
                    return; // idle, or disposed and drained
                }
                next = _pending.Peek(); // stays queued (and its buffers owned) until completed
            }
            HostTensor? result = null;
            Exception? error = null;
            try
            {
                next.Done.Synchronize(); // a device error (sticky ones included) faults this download instead of hanging
                result = HostTensor.Uninitialized(next.Shape);
                next.Staging.Span[..result.Data.Length].CopyTo(result.Data);
            }
            catch (Exception e) { error = e; }
            lock (_gate)
            {
                _pending.Dequeue();
                Recycle(next.Staging, next.Done);
            }
            if (error is null) next.Result.TrySetResult(result!);
            else next.Result.TrySetException(error);
        }
    }

    /// <summary>The smallest free staging buffer that holds <paramref name="elements"/>, or a new one. Called under the gate.</summary>
    PinnedHostBuffer TakeBuffer(int elements)
    {
        int best = -1;
        for (int i = 0; i < _freeBuffers.Count; i++)
            if (_freeBuffers[i].Length >= elements && (best < 0 || _freeBuffers[i].Length < _freeBuffers[best].Length))
                best = i;
        if (best < 0) return new PinnedHostBuffer(_context.Lifetime, Math.Max(elements, 1));
        var b = _freeBuffers[best];
        _freeBuffers.RemoveAt(best);
        return b;
    }

    /// <summary>Keeps a staging buffer and event for reuse, or frees them (after disposal, or beyond <see cref="KeptFree"/>). Called under the gate.</summary>
    void Recycle(PinnedHostBuffer staging, CudaEvent? done)
    {
        if (_disposed) { staging.Dispose(); done?.Dispose(); return; }
        _freeBuffers.Add(staging);
        if (_freeBuffers.Count > KeptFree)
        {
            // Drop the smallest: the large ones are the expensive ones to page-lock again.
            int smallest = 0;
            for (int i = 1; i < _freeBuffers.Count; i++)
                if (_freeBuffers[i].Length < _freeBuffers[smallest].Length) smallest = i;
            _freeBuffers[smallest].Dispose();
            _freeBuffers.RemoveAt(smallest);
        }
        if (done is null) return;
        if (_freeEvents.Count < KeptFree) _freeEvents.Push(done);
        else done.Dispose();
    }

    /// <summary>
    /// Lets the pending downloads complete (each waits for its copy; a device error faults it), then frees the
    /// staging buffers and events. Call before the context is disposed. Idempotent.
    /// </summary>
    public void Dispose()
    {
        Thread? waiter;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            Monitor.PulseAll(_gate);
            waiter = _waiter;
        }
        // Never from the waiter itself: task continuations run on the thread pool.
        waiter?.Join();
        lock (_gate)
        {
            foreach (var b in _freeBuffers) b.Dispose();
            _freeBuffers.Clear();
            while (_freeEvents.Count > 0) _freeEvents.Pop().Dispose();
        }
    }
}
