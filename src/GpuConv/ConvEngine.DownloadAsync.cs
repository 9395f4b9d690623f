using GpuConv.Cuda;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>The non-waiting download: the copy back overlaps the work issued after it (PyTorch's <c>to('cpu', non_blocking=True)</c>).</summary>
public sealed partial class ConvEngine
{
    AsyncDownloads? asyncDownloads;
    readonly object asyncDownloadsGate = new();

    /// <summary>
    /// A new host tensor with the contents of <paramref name="tensor"/>, without waiting: the copy is ordered on the engine's
    /// stream after the calls already made (into page-locked staging memory the engine reuses) and the task completes when it
    /// has landed, so the calls made after this one (the next batch) run while it copies. The copy sees exactly the calls
    /// made before this one: later calls may write <paramref name="tensor"/> (stream order keeps them after the copy).
    /// Do not dispose <paramref name="tensor"/> (or free memory given to <see cref="Wrap"/>) before the task completes.
    /// A device error faults the task; disposing the engine lets pending downloads finish first. On the CPU path the
    /// task is already complete (a copy). <paramref name="cancellationToken"/> only stops the wait: the copy still runs.
    /// </summary>
    public Task<HostTensor> DownloadAsync(Tensor tensor, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        CheckResident(tensor, nameof(tensor));
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<HostTensor>(cancellationToken);
        if (Gpu is not { } rt || tensor is not DeviceTensor d)
            return Task.FromResult(Download(tensor));
        Task<HostTensor> task;
        using (EnterStream())
            task = Downloads(rt).Enqueue(d, rt.Context.Stream);
        return cancellationToken.CanBeCanceled ? task.WaitAsync(cancellationToken) : task;
    }

    AsyncDownloads Downloads(CudaGpuRuntime rt)
    {
        lock (asyncDownloadsGate)
        {
            ThrowIfDisposed();
            return asyncDownloads ??= new AsyncDownloads(rt.Context);
        }
    }

    /// <summary>Pending non-waiting downloads, free staging buffers, and whether the waiter thread runs (for tests).</summary>
    internal (int Pending, int FreeBuffers, bool WaiterRunning) AsyncDownloadCounts
    {
        get
        {
            var d = asyncDownloads;
            return d is null ? (0, 0, false) : (d.PendingCount, d.FreeBufferCount, d.WaiterRunning);
        }
    }

    /// <summary>Lets pending downloads finish and frees their staging memory; before the context goes.</summary>
    void DisposeAsyncDownloads()
    {
        AsyncDownloads? d;
        lock (asyncDownloadsGate)
        {
            d = asyncDownloads;
            asyncDownloads = null;
        }
        d?.Dispose();
    }
}
