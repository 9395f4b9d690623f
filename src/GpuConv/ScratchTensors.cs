using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// Tensors the engine lends itself for one call and takes back (the padded input of a convolution with a padding mode,
/// its padded gradient): a warm call finds the one the last call of that shape returned, so the steady state allocates
/// nothing. A rented tensor belongs to one call until returned. On a GPU a returned tensor may still be read by work
/// queued on the stream; the next call that rents it queues its own work behind that on the same stream, as the device
/// memory pool's own reuse does. Keeps at most <see cref="MaxKept"/>, dropping the oldest.
/// </summary>
internal sealed class ScratchTensors : IDisposable
{
    /// <summary>Enough for a network's distinct padded shapes in a row of calls without holding on to many.</summary>
    const int MaxKept = 8;

    readonly List<Tensor> free = [];
    bool disposed;

    /// <summary>A tensor of <paramref name="shape"/> in <paramref name="memory"/>: a kept one, or a new one (contents unspecified).</summary>
    public Tensor Rent(IMemorySpace memory, TensorShape shape)
    {
        lock (free)
        {
            for (int i = free.Count - 1; i >= 0; i--)
            {
                var t = free[i];
                if (t.Memory == memory.Kind && t.Shape.Equals(shape))
                {
                    free.RemoveAt(i);
                    return t;
                }
            }
        }
        return memory.Allocate(shape);
    }

    /// <summary>Takes <paramref name="tensor"/> back for a later call; the oldest kept one goes when more are kept than allowed.</summary>
    public void Return(Tensor tensor)
    {
        Tensor? dropped = null;
        lock (free)
        {
            if (disposed) dropped = tensor;
            else
            {
                free.Add(tensor);
                if (free.Count > MaxKept)
                {
                    dropped = free[0];
                    free.RemoveAt(0);
                }
            }
        }
        (dropped as IDisposable)?.Dispose();
    }

    /// <summary>Disposes every kept tensor; tensors returned later are disposed then.</summary>
    public void Dispose()
    {
        Tensor[] kept;
        lock (free)
        {
            disposed = true;
            kept = [.. free];
            free.Clear();
        }
        foreach (var t in kept) (t as IDisposable)?.Dispose();
    }
}
