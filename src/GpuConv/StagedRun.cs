using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// Runs an op on copies of its tensors in the backend's memory, for a plan whose backend lives in another memory
/// than the tensors (host tensors on a GPU backend, device-resident tensors on the CPU or reference backend):
/// the inputs are copied in, the op runs, the tensor it writes is copied back to <c>destination</c>, the copies
/// are freed. The copies are new on every call, so they never carry the caller's constant-weights promise
/// (a backend that keeps prepared weights per tensor would keep them for a copy that is about to be freed).
/// </summary>
internal static class StagedRun
{
    /// <param name="problem">The problem being run.</param>
    /// <param name="backend">The backend whose memory receives the copies.</param>
    /// <param name="tensors">The op's tensors, all in <paramref name="from"/>.</param>
    /// <param name="from">The memory <paramref name="tensors"/> and <paramref name="destination"/> live in.</param>
    /// <param name="destination">Where the written tensor (y, dx or dw) is copied back to.</param>
    /// <param name="run">The run on the copies; its result is returned.</param>
    public static T Run<T>(ConvProblem problem, IConvBackend backend, ConvTensors tensors, IMemorySpace from, Tensor destination,
        Func<ConvTensors, T> run)
    {
        var target = backend.Memory;
        var made = new List<Tensor>(4);
        try
        {
            Tensor Stage(Tensor source, bool copy)
            {
                var staged = target.Allocate(source.Shape);
                made.Add(staged);
                if (copy) target.CopyFromHost(HostData(source, from), staged);
                return staged;
            }
            var op = problem.Op;
            // An accumulating run reads the tensor it writes too: that one is copied in as well.
            bool acc = tensors.Accumulate;
            var copies = new ConvTensors(
                Stage(tensors.X, op != ConvOp.BackwardData || acc),
                Stage(tensors.W, op != ConvOp.BackwardFilter || acc),
                Stage(tensors.Y, op != ConvOp.Forward || acc),
                tensors.Bias is null ? null : Stage(tensors.Bias, copy: true)) { Accumulate = acc };
            T result = run(copies);
            var written = op switch { ConvOp.Forward => copies.Y, ConvOp.BackwardData => copies.X, _ => copies.W };
            if (destination is HostTensor host)
                target.CopyToHost(written, host.Data);
            else
            {
                var buffer = new float[written.Shape.ElementCountInt];
                target.CopyToHost(written, buffer);
                from.CopyFromHost(buffer, destination);
            }
            return result;
        }
        finally
        {
            foreach (var t in made) (t as IDisposable)?.Dispose();
        }
    }

    /// <summary>The tensor's values on the host: a host tensor's own array, else a copy out of <paramref name="from"/>.</summary>
    static float[] HostData(Tensor source, IMemorySpace from)
    {
        if (source is HostTensor host) return host.Data;
        var buffer = new float[source.Shape.ElementCountInt];
        from.CopyToHost(source, buffer);
        return buffer;
    }
}
