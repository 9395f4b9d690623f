using GpuConv.Backends.Ptx;
using GpuConv.Cpu.Layers;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// Concatenation on tensors in <see cref="Memory"/> and its inverse, for networks that join activations (U-Net skip
/// connections, DenseNet and Inception blocks, YOLO necks) without host round trips: PyTorch's torch.cat, torch.narrow
/// (as a dense copy) and torch.split with a list of sizes, which is the gradient of torch.cat.
/// <para>
/// Dimensions count from 0 (outermost); a negative one counts from the end, as in PyTorch (-1 is the last). Outputs are
/// new dense tensors or the caller's, which must not share memory with an input. On a GPU each input (or part) is one
/// kernel of kernels/strided_copy.ptx on the engine's stream, with no host wait; on the CPU engine it is one span copy per
/// row (split over the worker threads for large tensors) that has finished on return. Both give the same bits: copies.
/// </para>
/// </summary>
public sealed partial class ConvEngine
{
    /// <summary>
    /// torch.cat(inputs, dim): the inputs joined along <paramref name="dim"/> in list order. They have one rank and the
    /// same sizes in every other dim; the output's size in <paramref name="dim"/> is the sum of theirs. An input may be
    /// listed more than once. Into <paramref name="output"/> or a new tensor; returns it.
    /// </summary>
    /// <exception cref="ArgumentException">The list is empty or holds null, ranks or sizes differ, dim is out of range, the
    /// output has the wrong shape, lives elsewhere or shares memory with an input, or an input lives elsewhere.</exception>
    public Tensor Concat(IReadOnlyList<Tensor> inputs, int dim = 1, Tensor? output = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0)
            throw new ArgumentException("inputs is empty; Concat needs at least one tensor.", nameof(inputs));
        for (int i = 0; i < inputs.Count; i++)
            if (inputs[i] is null) throw new ArgumentException($"inputs[{i}] is null.", nameof(inputs));
        var first = inputs[0].Shape;
        int d = ConcatDim(dim, first, nameof(dim));
        long total = first[d];
        for (int i = 1; i < inputs.Count; i++)
        {
            var s = inputs[i].Shape;
            if (s.Rank != first.Rank)
                throw new ArgumentException($"inputs[{i}] has rank {s.Rank} (shape {s}) but inputs[0] has rank {first.Rank} (shape {first}); Concat joins tensors of one rank.", nameof(inputs));
            for (int k = 0; k < first.Rank; k++)
                if (k != d && s[k] != first[k])
                    throw new ArgumentException($"inputs[{i}] has size {s[k]} in dim {k} but inputs[0] has {first[k]} (shapes {s} and {first}); Concat needs equal sizes in every dim but dim {d}.", nameof(inputs));
            total += s[d];
        }
        if (total > int.MaxValue)
            throw new ArgumentException($"the inputs' sizes in dim {d} add up to {total}, more than a dimension holds ({int.MaxValue}).", nameof(inputs));
        for (int i = 0; i < inputs.Count; i++) CheckResident(inputs[i], InputName(i));
        if (output is not null)
        {
            CheckShapeWithDim(output, first, d, (int)total, nameof(output));
            CheckResident(output, nameof(output));
            for (int i = 0; i < inputs.Count; i++) CheckCopyOutput(output, inputs[i], InputName(i));
        }
        var result = output ?? Allocate(first.WithDim(d, (int)total));
        try
        {
            using (EnterStream())
            {
                int start = 0;
                for (int i = 0; i < inputs.Count; i++) // not foreach: an interface's enumerator is an allocation per call
                {
                    int size = inputs[i].Shape[d];
                    CopySlab(DimSlab.Of(result.Shape, d, start, size), inputs[i], result, toWhole: true);
                    start += size;
                }
            }
            return result;
        }
        catch
        {
            if (output is null) ((IDisposable)result).Dispose();
            throw;
        }
    }

    /// <summary>
    /// torch.narrow(x, dim, start, length) copied into a dense tensor: the elements of <paramref name="x"/> whose index in
    /// <paramref name="dim"/> lies in [start, start + length), the shape of x with <paramref name="length"/> in that dim.
    /// A negative <paramref name="start"/> counts from the end of the dim, as in PyTorch. The gradient of a Concat input
    /// is the Narrow of the output's gradient at that input's place. Into <paramref name="output"/> or a new tensor; returns it.
    /// </summary>
    /// <exception cref="ArgumentException">dim is out of range, the range is not inside x's size (or is empty), the output has
    /// the wrong shape, lives elsewhere or shares memory with x, or x lives elsewhere.</exception>
    public Tensor Narrow(Tensor x, int dim, long start, long length, Tensor? output = null)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(x);
        int d = ConcatDim(dim, x.Shape, nameof(dim));
        int size = x.Shape[d];
        if (start < -size || start > size)
            throw new ArgumentException($"start {start} is outside [{-size}, {size}] (dim {d} of x {x.Shape} has size {size}).", nameof(start));
        if (start < 0) start += size;
        if (length < 1 || length > size - start)
            throw new ArgumentException($"length {length} does not fit dim {d} of x {x.Shape} from start {start}: it must be 1 to {size - start} (tensors here have no empty dims).", nameof(length));
        CheckResident(x, nameof(x));
        var slab = DimSlab.Of(x.Shape, d, (int)start, (int)length);
        if (output is not null)
        {
            CheckShapeWithDim(output, x.Shape, d, (int)length, nameof(output));
            CheckResident(output, nameof(output));
            CheckCopyOutput(output, x, nameof(x));
        }
        var result = output ?? Allocate(x.Shape.WithDim(d, (int)length));
        try
        {
            using (EnterStream())
                CopySlab(slab, result, x, toWhole: false);
            return result;
        }
        catch
        {
            if (output is null) ((IDisposable)result).Dispose();
            throw;
        }
    }

    /// <summary>
    /// torch.split(x, sizes, dim): <paramref name="x"/> cut along <paramref name="dim"/> into consecutive new tensors of
    /// the given sizes, which add up to x's size there — Concat's inverse, and its gradient: Split(dy, dim, the inputs'
    /// sizes) gives each input's gradient. Returns the parts in order (the caller disposes them).
    /// </summary>
    /// <exception cref="ArgumentException">dim is out of range, sizes is empty, holds a size below 1 or does not add up to
    /// x's size in dim, or x lives elsewhere.</exception>
    public Tensor[] Split(Tensor x, int dim, IReadOnlyList<long> sizes)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(sizes);
        int d = ConcatDim(dim, x.Shape, nameof(dim));
        if (sizes.Count == 0)
            throw new ArgumentException($"sizes is empty; Split needs at least one part (dim {d} of x {x.Shape} has size {x.Shape[d]}).", nameof(sizes));
        long sum = 0;
        for (int i = 0; i < sizes.Count; i++)
        {
            if (sizes[i] < 1)
                throw new ArgumentException($"sizes[{i}] is {sizes[i]}; every part needs a size of at least 1 (tensors here have no empty dims).", nameof(sizes));
            sum += Math.Min(sizes[i], int.MaxValue);
        }
        if (sum != x.Shape[d])
            throw new ArgumentException($"sizes [{string.Join(", ", sizes)}] add up to {sum} but dim {d} of x {x.Shape} has size {x.Shape[d]}.", nameof(sizes));
        CheckResident(x, nameof(x));
        var parts = new Tensor[sizes.Count];
        int made = 0;
        try
        {
            int start = 0;
            using (EnterStream())
                for (; made < parts.Length; made++)
                {
                    var slab = DimSlab.Of(x.Shape, d, start, (int)sizes[made]);
                    parts[made] = Allocate(x.Shape.WithDim(d, (int)sizes[made]));
                    CopySlab(slab, parts[made], x, toWhole: false);
                    start += (int)sizes[made];
                }
            return parts;
        }
        catch
        {
            for (int i = 0; i < parts.Length; i++) (parts[i] as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// torch.split into tensors the caller holds: <paramref name="x"/> cut along <paramref name="dim"/> into
    /// <paramref name="outputs"/> in order, each taking as many indices as its own size in dim (so the sizes are the
    /// outputs'; they must add up to x's size there, and every other dim must be x's). For a warm loop (a gradient step
    /// through a Concat) it allocates nothing. Outputs must not share memory with x or with each other.
    /// </summary>
    /// <exception cref="ArgumentException">dim is out of range, outputs is empty or holds null, an output's shape does not
    /// fit, the sizes do not add up to x's, an output lives elsewhere or shares memory with x or another output, or x
    /// lives elsewhere.</exception>
    public void SplitInto(Tensor x, int dim, IReadOnlyList<Tensor> outputs)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(outputs);
        int d = ConcatDim(dim, x.Shape, nameof(dim));
        if (outputs.Count == 0)
            throw new ArgumentException($"outputs is empty; SplitInto needs at least one tensor (dim {d} of x {x.Shape} has size {x.Shape[d]}).", nameof(outputs));
        CheckResident(x, nameof(x));
        long sum = 0;
        for (int i = 0; i < outputs.Count; i++)
        {
            string name = OutputName(i);
            var o = outputs[i] ?? throw new ArgumentException($"{name} is null.", name);
            if (o.Shape.Rank != x.Shape.Rank)
                throw new ArgumentException($"{name} has shape {o.Shape} but x is {x.Shape}; each output must be x's shape with its own size in dim {d}.", name);
            CheckShapeWithDim(o, x.Shape, d, o.Shape[d], name);
            CheckResident(o, name);
            if (Overlaps(o, x))
                throw new ArgumentException($"{name} shares memory with x; a split copies between different elements, so write into a separate tensor.", name);
            for (int j = 0; j < i; j++)
                if (Overlaps(o, outputs[j]))
                    throw new ArgumentException($"{name} shares memory with outputs[{j}]; each part is written into its own tensor.", name);
            sum += o.Shape[d];
        }
        if (sum != x.Shape[d])
            throw new ArgumentException($"the outputs' sizes in dim {d} add up to {sum} but x {x.Shape} has {x.Shape[d]} there.", nameof(outputs));
        int start = 0;
        using (EnterStream())
            for (int i = 0; i < outputs.Count; i++)
            {
                int size = outputs[i].Shape[d];
                CopySlab(DimSlab.Of(x.Shape, d, start, size), outputs[i], x, toWhole: false);
                start += size;
            }
    }

    static readonly string[] OutputNames = [.. Enumerable.Range(0, 8).Select(i => $"outputs[{i}]")];

    /// <summary>The parameter name of output <paramref name="i"/> (as <see cref="InputName"/>).</summary>
    static string OutputName(int i) => i < OutputNames.Length ? OutputNames[i] : $"outputs[{i}]";

    static readonly string[] InputNames = [.. Enumerable.Range(0, 8).Select(i => $"inputs[{i}]")];

    /// <summary>The parameter name of input <paramref name="i"/>; the common ones made once, so a warm call formats no string.</summary>
    static string InputName(int i) => i < InputNames.Length ? InputNames[i] : $"inputs[{i}]";

    /// <summary>PyTorch's dim wrapping: -rank..rank-1, a negative dim counting from the end.</summary>
    static int ConcatDim(int dim, TensorShape shape, string name)
    {
        int rank = shape.Rank;
        if (dim < -rank || dim >= rank)
            throw new ArgumentException($"{name} {dim} is out of range for rank {rank} (shape {shape}): it must be in [{-rank}, {rank - 1}].", name);
        return dim < 0 ? dim + rank : dim;
    }

    /// <summary>
    /// Throws as <see cref="CheckTensorShape"/> does unless <paramref name="t"/> has <paramref name="like"/>'s shape with
    /// <paramref name="size"/> in <paramref name="dim"/>; compared dim by dim, so a warm call with its output allocates nothing.
    /// </summary>
    static void CheckShapeWithDim(Tensor t, TensorShape like, int dim, int size, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        var dims = t.Shape.Dims;
        bool same = dims.Length == like.Rank;
        for (int k = 0; same && k < dims.Length; k++)
            same = dims[k] == (k == dim ? size : like[k]);
        if (!same) CheckTensorShape(t, like.WithDim(dim, size), name);
    }

    /// <summary>A copy reads and writes different elements, so the output must not share any memory with an input (views included).</summary>
    void CheckCopyOutput(Tensor output, Tensor input, string inputName)
    {
        if (Overlaps(output, input))
            throw new ArgumentException($"output shares memory with {inputName}; a concatenation or narrow copies between different elements, so write into a separate tensor.", nameof(output));
    }

    /// <summary>
    /// The slab of <paramref name="whole"/> = <paramref name="part"/> (<paramref name="toWhole"/>), or part = the slab, on
    /// the caller's stream scope: span copies on the host, one strided_copy_f32 launch on a device.
    /// </summary>
    void CopySlab(in DimSlab slab, Tensor part, Tensor whole, bool toWhole)
    {
        if (Memory is IPtxRuntime rt) SlabCopyKernels.Launch(rt, slab, rt.PointerOf(part), rt.PointerOf(whole), toWhole);
        else if (toWhole)
        {
            var hwhole = HostValues(whole)!; // Concat keeps the other slabs of its output
            CpuSlabCopy.Scatter(slab, HostValues(part)!, hwhole, HostWorkers);
            StoreHost(hwhole, whole);
        }
        else
        {
            var hpart = HostBuffer(part);
            CpuSlabCopy.Gather(slab, HostValues(whole)!, hpart, HostWorkers);
            StoreHost(hpart, part);
        }
    }
}
