using System.Runtime.CompilerServices;
using GpuConv.Backends;
using GpuConv.Backends.Cudnn;
using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cuda;
using GpuConv.Planning;
using GpuConv.Tensors;

namespace GpuConv;

/// <summary>
/// Device-resident calls: the application keeps its tensors in the engine's <see cref="Memory"/> (GPU memory,
/// or host memory when the engine runs on the CPU), uploads once, chains convolutions, downloads once.
/// <para>
/// Ordering rule: every device-resident call is issued on one CUDA stream (the engine's own, or the
/// application's after <see cref="UseStream"/>) and returns without waiting for the GPU. Consecutive calls
/// therefore run in the order they were made, each seeing its predecessors' outputs. A result is complete on
/// the host when <see cref="Download(Tensor)"/> returns (downloads wait for the stream), when the task of
/// <see cref="DownloadAsync"/> completes, or after <see cref="Synchronize"/>; work the application issues on its own stream after a call sees the result
/// too. A few calls still wait inside (the PTX backend's im2col algorithms, before their column buffer goes back
/// to the pool; BackwardBias on the PTX backend; a plan that runs on another memory);
/// they never change this rule.
/// </para>
/// <para>
/// Interop: GpuConv works in the device's <em>primary</em> context (cuDevicePrimaryCtxRetain), the one the
/// CUDA runtime API and most GPU libraries use, so their pointers and streams are valid here.
/// <see cref="Wrap"/> turns application-owned device memory into a tensor; <see cref="UseStream"/> orders the
/// engine's work on an application stream.
/// </para>
/// </summary>
public sealed partial class ConvEngine
{
    IMemorySpace? memory;
    readonly object streamGate = new();
    nint appStream;
    IStreamJoin? streamJoin;

    /// <summary>
    /// The memory device-resident calls read and write: the GPU's memory when a GPU backend is present (and
    /// <see cref="ConvEngineOptions.Backend"/> does not name a CPU one), host memory otherwise. Tensors from
    /// <see cref="Allocate"/>, <see cref="Upload(HostTensor)"/> and <see cref="Wrap"/> live here.
    /// </summary>
    public IMemorySpace Memory => memory ??= ChooseMemory();

    IMemorySpace ChooseMemory()
    {
        if (Options.Backend is { } name)
            return Backends.First(b => string.Equals(b.Name, name, StringComparison.OrdinalIgnoreCase)).Memory;
        return Backends.FirstOrDefault(b => b.Memory.Kind == MemoryKind.Device)?.Memory ?? HostMemorySpace.Instance;
    }

    /// <summary>The GPU runtime when <see cref="Memory"/> is its memory; null on the CPU path (and for fake devices in tests).</summary>
    CudaGpuRuntime? Gpu => (backendSet.Resources as GpuBackendSession)?.Runtime is { } rt && ReferenceEquals(rt.Memory, Memory) ? rt : null;

    /// <summary>The GPU runtime device-resident calls run on (null on the CPU path): for <c>gpuconv probe</c>, which times the calls beneath the engine.</summary>
    internal CudaGpuRuntime? GpuRuntime => Gpu;

    /// <summary>The raw CUcontext (the device's primary context) the engine works in; 0 on the CPU path.</summary>
    public nint CudaContextHandle => Gpu?.Context.Lifetime.Context ?? 0;

    /// <summary>The raw CUstream device-resident work is ordered on (the application's after <see cref="UseStream"/>); 0 on the CPU path.</summary>
    public nint CudaStreamHandle => Gpu is { } rt ? (appStream != 0 ? appStream : rt.Context.Stream.Handle) : 0;

    /// <summary>
    /// A new tensor of <paramref name="shape"/> in <see cref="Memory"/> (contents unspecified). On the CPU path a shape
    /// with more elements than one .NET array holds is an <see cref="ArgumentException"/> naming it, before any allocation.
    /// </summary>
    public Tensor Allocate(TensorShape shape)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(shape);
        // Host memory is one float[] per tensor: say so as bad input instead of the shape's own InvalidOperationException.
        if (Memory.Kind == MemoryKind.Host && shape.ElementCount > Array.MaxLength)
            throw new ArgumentException(
                $"shape {shape} has {shape.ElementCount} elements, more than one host tensor (a .NET array) holds ({Array.MaxLength}); this engine works in host memory.",
                nameof(shape));
        return Memory.Allocate(shape);
    }

    /// <summary>A copy of <paramref name="host"/> in <see cref="Memory"/> (a new tensor even on the CPU path).</summary>
    public Tensor Upload(HostTensor host)
    {
        ArgumentNullException.ThrowIfNull(host);
        return Upload(host.Data, host.Shape);
    }

    /// <summary>
    /// A tensor of <paramref name="shape"/> in <see cref="Memory"/> holding a copy of <paramref name="data"/>. On a GPU the copy is
    /// ordered on the engine's stream and the call does not wait for it (nor for the calls already queued); <paramref name="data"/>
    /// may be reused as soon as it returns.
    /// </summary>
    public Tensor Upload(ReadOnlySpan<float> data, TensorShape shape)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(shape);
        if (data.Length != shape.ElementCount)
            throw new ArgumentException($"data has {data.Length} elements but shape {shape} needs {shape.ElementCount}.", nameof(data));
        var t = Memory.Allocate(shape);
        try
        {
            CopyIn(data, t);
            return t;
        }
        catch
        {
            ((IDisposable)t).Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies <paramref name="data"/> into <paramref name="destination"/>, a tensor of <see cref="Memory"/> with as many elements.
    /// A prepared copy of <paramref name="destination"/> held as constant weights is dropped, so later calls use the new data.
    /// Like <see cref="Upload(ReadOnlySpan{float}, TensorShape)"/>, ordered on the engine's stream without a host wait.
    /// </summary>
    public void Upload(ReadOnlySpan<float> data, Tensor destination)
    {
        ThrowIfDisposed();
        CheckResident(destination, nameof(destination));
        if (data.Length != destination.Shape.ElementCount)
            throw new ArgumentException($"data has {data.Length} elements but destination {destination.Shape} holds {destination.Shape.ElementCount}.", nameof(data));
        CopyIn(data, destination);
        Wrote(destination); // a prepared copy of it held as constant weights is dropped (ConvEngine.WrittenTensors.cs)
    }

    /// <summary>
    /// An upload ordered on the engine's stream without a host wait: the calls that read the tensor run after it on
    /// that stream, and the driver has staged the (pageable) source before the copy returns, so the caller may reuse
    /// it at once. Waiting here would also wait for every call already queued, other threads' included.
    /// </summary>
    void CopyIn(ReadOnlySpan<float> data, Tensor destination)
    {
        using (EnterStream())
        {
            if (Gpu is { } rt && destination is DeviceTensor d) d.CopyFrom(data, rt.Context.Stream);
            else Memory.CopyFromHost(data, destination);
        }
    }

    /// <summary>A new host tensor with the contents of <paramref name="tensor"/>; waits for the work that writes it.</summary>
    public HostTensor Download(Tensor tensor)
    {
        ThrowIfDisposed();
        CheckResident(tensor, nameof(tensor));
        var host = HostTensor.Uninitialized(tensor.Shape);
        Download(tensor, host.Data);
        return host;
    }

    /// <summary>Copies <paramref name="tensor"/> into <paramref name="destination"/> (same element count); waits for the work that writes it.</summary>
    public void Download(Tensor tensor, Span<float> destination)
    {
        ThrowIfDisposed();
        CheckResident(tensor, nameof(tensor));
        if (destination.Length != tensor.Shape.ElementCount)
            throw new ArgumentException($"destination has {destination.Length} elements but tensor {tensor.Shape} holds {tensor.Shape.ElementCount}.", nameof(destination));
        using (EnterStream())
            Memory.CopyToHost(tensor, destination);
    }

    /// <summary>
    /// Application-owned device memory (a CUdeviceptr of <paramref name="elementCount"/> float32 values, allocated
    /// in this device's primary context, e.g. by cudaMalloc or another library) as a tensor of <paramref name="shape"/>.
    /// GpuConv never frees it; disposing the tensor only ends its use here. Keep the memory alive while the engine
    /// may still use it (until <see cref="Synchronize"/> or the next download).
    /// </summary>
    public Tensor Wrap(ulong devicePointer, long elementCount, TensorShape shape)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(shape);
        var rt = Gpu ?? throw new InvalidOperationException(
            $"this engine works in {Memory.Kind} memory, so it cannot use device memory ({GpuUnavailableReason ?? "a CPU backend was asked for"}).");
        if (devicePointer == 0)
            throw new ArgumentException("devicePointer is 0 (null).", nameof(devicePointer));
        if (devicePointer % sizeof(float) != 0)
            throw new ArgumentException($"devicePointer 0x{devicePointer:x} is not aligned to 4 bytes (float32).", nameof(devicePointer));
        if (elementCount != shape.ElementCount)
            throw new ArgumentException($"elementCount {elementCount} does not match shape {shape} ({shape.ElementCount} elements).", nameof(elementCount));
        return new DeviceTensor(rt.Context, shape, DeviceBuffer.Borrow(devicePointer, checked(elementCount * sizeof(float))));
    }

    /// <summary>
    /// <paramref name="tensor"/> seen with another <paramref name="shape"/> of the same element count, as PyTorch's
    /// <c>view</c>/<c>reshape</c> of a contiguous tensor: the same memory (NC[D]HW row-major order), no copy, no device work
    /// (e.g. [N, C, H, W] as [N, C·H·W, 1, 1] for a 1x1 convolution acting as a linear layer, or a 2-d batch as 1-d rows).
    /// Writes through either are seen through both. Disposing the view frees nothing; disposing <paramref name="tensor"/>
    /// ends the view too (calls then refuse it as disposed). An output that shares memory with an input is refused, views included.
    /// </summary>
    public Tensor Reshape(Tensor tensor, TensorShape shape)
    {
        ThrowIfDisposed();
        CheckResident(tensor, nameof(tensor));
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.ElementCount != tensor.Shape.ElementCount)
            throw new ArgumentException($"shape {shape} has {shape.ElementCount} elements but tensor {tensor.Shape} holds {tensor.Shape.ElementCount}.", nameof(shape));
        return tensor switch
        {
            HostTensor h => new HostTensor(h, shape),
            DeviceTensor d => new DeviceTensor(d, shape),
            _ => throw new ArgumentException($"tensor is a {tensor.GetType().Name}, which cannot be viewed.", nameof(tensor)),
        };
    }

    /// <summary>
    /// Orders every later device-resident call on the application's CUDA stream <paramref name="cudaStream"/> (a raw
    /// CUstream / cudaStream_t created in this device's primary context); 0 returns to the engine's own stream.
    /// The engine's stream waits for the work already on the application's stream, and the application's stream
    /// waits for the engine's work, through events: no host synchronisation. Applies to all threads, and also to
    /// <see cref="Run"/> on device tensors and to the staged copies of the HostTensor overloads.
    /// </summary>
    public void UseStream(nint cudaStream)
    {
        ThrowIfDisposed();
        if (cudaStream != 0 && Gpu is null)
            throw new InvalidOperationException(
                $"this engine works in {Memory.Kind} memory, so it cannot order work on a CUDA stream ({GpuUnavailableReason ?? "a CPU backend was asked for"}).");
        UseStreamWith(cudaStream, () => new StreamJoin(Gpu!.Context));
    }

    /// <summary><see cref="UseStream(nint)"/> with the join made by <paramref name="makeJoin"/> (tests pass a recording fake).</summary>
    internal void UseStreamWith(nint cudaStream, Func<IStreamJoin> makeJoin)
    {
        lock (streamGate)
        {
            if (cudaStream != 0) streamJoin ??= makeJoin();
            appStream = cudaStream;
        }
    }

    /// <summary>Waits until every device-resident call made so far has finished (nothing to wait for on the CPU path).</summary>
    public void Synchronize()
    {
        ThrowIfDisposed();
        Gpu?.Synchronize();
    }

    /// <summary>
    /// y = conv(x, w) + bias on tensors in <see cref="Memory"/>, written into <paramref name="output"/> or a new
    /// tensor there; returns it. Transposed convolution when the spec says so. Returns without waiting (see the class notes).
    /// <paramref name="constantWeights"/>: the promise that w's data will not change (inference), so the CPU backend may
    /// keep w prepared between calls; leave it false when training. Any engine op that writes w (an
    /// <see cref="Upload(ReadOnlySpan{float}, Tensor)"/>, <see cref="AddScaled"/>, an output) drops a prepared copy, so the values last written are the ones used.
    /// <paramref name="accumulate"/>: add conv(x, w) + bias to what <paramref name="output"/> holds (y += …, cuDNN's
    /// beta = 1) instead of overwriting it; needs <paramref name="output"/>.
    /// </summary>
    public Tensor Forward(ConvSpec spec, Tensor x, Tensor w, Tensor? bias = null, Tensor? output = null, bool constantWeights = false, bool accumulate = false) =>
        ForwardResident(spec, x, w, bias, output, constantWeights, activation: null, accumulate);

    /// <summary>
    /// activation(conv(x, w) + bias) on tensors in <see cref="Memory"/>, fused into one call when the planned backend can;
    /// activation(conv(x, w)) when <paramref name="bias"/> is null (bias=False, as before a batch norm: cuDNN's fused
    /// call needs a bias, so on a GPU the activation is then a separate kernel on the stream).
    /// With <paramref name="accumulate"/>, activation(output + conv(x, w) + bias): a residual block's end
    /// (<c>relu(conv(h) + bias + skip)</c>, batch norm folded into w and bias) when <paramref name="output"/> holds the
    /// skip tensor, which is then overwritten (cuDNN's z input with alpha2 = 1; needs <paramref name="output"/>).
    /// </summary>
    public Tensor ForwardBiasActivation(ConvSpec spec, Tensor x, Tensor w, Tensor? bias, Activation activation, Tensor? output = null,
        bool constantWeights = false, bool accumulate = false)
    {
        if (!IsActivation(activation))
            throw new ArgumentException($"activation {(int)activation} is not an Activation.", nameof(activation));
        return ForwardResident(spec, x, w, bias, output, constantWeights, activation, accumulate);
    }

    /// <summary>
    /// dx = ∂loss/∂x of the layer y = conv(x, w) (a transposed one when the spec says so), of shape
    /// <paramref name="inputShape"/> (the layer input's), from dy = ∂loss/∂y (the layer output's shape), on tensors in
    /// <see cref="Memory"/>. w is the layer's weight in PyTorch layout: [K, C/groups, k…], or [C_in, C_out/groups, k…]
    /// for a transposed layer. dx overwrites <paramref name="output"/>, or with <paramref name="accumulate"/> is added to
    /// what it holds (PyTorch's autograd summing dx over two paths, e.g. a residual block's skip and conv paths; cuDNN's
    /// beta = 1; needs <paramref name="output"/>). No bias is involved: see <see cref="BackwardBias(Tensor, Tensor?, bool)"/>. <paramref name="constantWeights"/>: w will not change (a
    /// frozen layer that still passes gradients down, as in fine-tuning), so the CPU backend may keep it prepared between
    /// calls, as <see cref="Forward(ConvSpec, Tensor, Tensor, Tensor?, Tensor?, bool, bool)"/> does; false (the default) reads w
    /// as it is on every call, as weights being trained need.
    /// </summary>
    public Tensor BackwardData(ConvSpec spec, Tensor dy, Tensor w, TensorShape inputShape, Tensor? output = null, bool constantWeights = false, bool accumulate = false)
    {
        ThrowIfDisposed();
        CheckAccumulate(accumulate, output);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(dy);
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(inputShape);
        var problem = Problem(spec, inputShape, w.Shape, ConvOp.BackwardData, nameof(inputShape), nameof(w));
        CheckDyShape(dy, spec.Transposed ? problem.XShape : problem.YShape, spec, nameof(inputShape), inputShape);
        CheckResident(dy, nameof(dy));
        CheckResident(w, nameof(w));
        return spec.Transposed
            ? RunResident(problem, x: dy, w, y: null, bias: null, output, constantWeights, fuse: null, accumulate)
            : RunResident(problem, x: null, w, y: dy, bias: null, output, constantWeights, fuse: null, accumulate);
    }

    /// <summary>
    /// dw = ∂loss/∂w of the layer y = conv(x, w) (a transposed one when the spec says so), from the layer input x and
    /// dy = ∂loss/∂y, summed over the batch, on tensors in <see cref="Memory"/>. <paramref name="filterShape"/> is the
    /// weight's own shape in PyTorch layout: [K, C/groups, k…], or [C_in, C_out/groups, k…] for a transposed layer.
    /// dw overwrites <paramref name="output"/>; with <paramref name="accumulate"/> it is added to what
    /// <paramref name="output"/> holds instead (PyTorch's <c>.grad +=</c>, e.g. over micro-batches; cuDNN's beta = 1;
    /// needs <paramref name="output"/>).
    /// </summary>
    public Tensor BackwardFilter(ConvSpec spec, Tensor x, Tensor dy, TensorShape filterShape, Tensor? output = null, bool accumulate = false)
    {
        ThrowIfDisposed();
        CheckAccumulate(accumulate, output);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(dy);
        ArgumentNullException.ThrowIfNull(filterShape);
        var problem = Problem(spec, x.Shape, filterShape, ConvOp.BackwardFilter, nameof(x), nameof(filterShape));
        CheckDyShape(dy, spec.Transposed ? problem.XShape : problem.YShape, spec, nameof(x), x.Shape);
        CheckResident(x, nameof(x));
        CheckResident(dy, nameof(dy));
        return spec.Transposed
            ? RunResident(problem, x: dy, w: null, y: x, bias: null, output, constantWeights: false, fuse: null, accumulate)
            : RunResident(problem, x, w: null, y: dy, bias: null, output, constantWeights: false, fuse: null, accumulate);
    }

    /// <summary>
    /// db[c] = ∂loss/∂bias[c] = sum of dy[n, c, …] over batch and space (dy of shape [N, C, …]; db of shape [C]), on
    /// tensors in <see cref="Memory"/>; overwrites <paramref name="output"/>, as the other backward calls do, or with
    /// <paramref name="accumulate"/> adds to what it holds (needs <paramref name="output"/>). Returns without waiting on the
    /// cudnn backend; on the PTX backend and the host path it waits for its result.
    /// </summary>
    public Tensor BackwardBias(Tensor dy, Tensor? output = null, bool accumulate = false)
    {
        ThrowIfDisposed();
        CheckAccumulate(accumulate, output);
        ArgumentNullException.ThrowIfNull(dy);
        if (dy.Shape.Rank < 2)
            throw new ArgumentException($"dy must be [N, C, …] (rank >= 2), got shape {dy.Shape}.", nameof(dy));
        CheckResident(dy, nameof(dy));
        // db is [C]: the output's own shape when it is that (a warm call makes no TensorShape), else a new one.
        var dbShape = output is { Shape: { Rank: 1 } given } && given[0] == dy.Shape.C ? given : new TensorShape(dy.Shape.C);
        var db = TakeOutput(output, dbShape, inputs: [dy]);
        try
        {
            using (EnterStream())
                BiasGradient(dy, db, accumulate);
            Wrote(db); // db may be a view of a constant W's array (a [C, 1, 1, 1] depthwise filter)
            return db;
        }
        catch
        {
            if (output is null) ((IDisposable)db).Dispose();
            throw;
        }
    }

    /// <summary><see cref="BackwardBias(Tensor, Tensor?, bool)"/>'s work in <see cref="Memory"/>, on the caller's stream scope.</summary>
    void BiasGradient(Tensor dy, Tensor db, bool accumulate)
    {
        switch (Memory)
        {
            case HostMemorySpace:
                var dbData = ((HostTensor)db).Data;
                if (!accumulate) CpuBias.Gradient(dy.Shape, ((HostTensor)dy).Data, dbData);
                else
                {
                    // C floats: on the stack when small, so a warm call allocates nothing.
                    Span<float> sums = dbData.Length <= 1024 ? stackalloc float[dbData.Length] : new float[dbData.Length];
                    CpuBias.Gradient(dy.Shape, ((HostTensor)dy).Data, sums);
                    for (int c = 0; c < dbData.Length; c++) dbData[c] += sums[c];
                }
                break;
            case var _ when ResidentKernels.Cudnn is { } cudnn:
                cudnn.BackwardBias(dy, db, accumulate, synchronize: false); // ordered on the stream like the other calls
                break;
            case var _ when ResidentKernels.Ptx is { } ptx:
                ptx.BackwardBias(dy, db, accumulate);
                break;
            default:
                // A device memory without a bias kernel: through the host (float64 sums, as above).
                var host = new float[dy.Shape.ElementCountInt];
                Memory.CopyToHost(dy, host);
                var hostSums = new float[dy.Shape.C];
                CpuBias.Gradient(dy.Shape, host, hostSums);
                if (accumulate)
                {
                    var held = new float[hostSums.Length];
                    Memory.CopyToHost(db, held);
                    for (int c = 0; c < hostSums.Length; c++) hostSums[c] += held[c];
                }
                Memory.CopyFromHost(hostSums, db);
                break;
        }
    }

    /// <summary>The cudnn and ptx backends working in <see cref="Memory"/> (either may be absent), looked up once: a search per call allocated.</summary>
    sealed record GpuKernelBackends(CudnnBackend? Cudnn, PtxConvBackend? Ptx);

    GpuKernelBackends? residentKernels;

    GpuKernelBackends ResidentKernels => residentKernels ??= new(
        Backends.OfType<CudnnBackend>().FirstOrDefault(b => ReferenceEquals(b.Memory, Memory)),
        Backends.OfType<PtxConvBackend>().FirstOrDefault(b => ReferenceEquals(b.Memory, Memory)));

    /// <summary>
    /// Enum.IsDefined(activation) without reflection: Enum.IsDefined reads a type cache that the runtime holds weakly, so
    /// after each garbage collection the next call rebuilt it (240 B).
    /// </summary>
    static bool IsActivation(Activation activation) => activation is Activation.Identity or Activation.Relu or Activation.Relu6 or Activation.Silu
        or Activation.Hardswish or Activation.Sigmoid or Activation.Hardsigmoid or Activation.Gelu or Activation.GeluTanh;

    Tensor ForwardResident(ConvSpec spec, Tensor x, Tensor w, Tensor? bias, Tensor? output, bool constantWeights, Activation? activation, bool accumulate)
    {
        ThrowIfDisposed();
        CheckAccumulate(accumulate, output);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(w);
        var problem = Problem(spec, x.Shape, w.Shape, ConvOp.Forward, nameof(x), nameof(w));
        if (bias is not null && (bias.Shape.Rank != 1 || bias.Shape[0] != problem.BiasLength))
            throw new ArgumentException($"bias must have shape [{problem.BiasLength}] (one value per output channel), got {bias.Shape}.", nameof(bias));
        CheckResident(x, nameof(x));
        CheckResident(w, nameof(w));
        if (bias is not null) CheckResident(bias, nameof(bias));
        // The layer input is the underlying X for a convolution, the underlying Y (= dy) for a transposed one.
        return spec.Transposed
            ? RunResident(problem, x: null, w, y: x, bias, output, constantWeights, activation, accumulate)
            : RunResident(problem, x, w, y: null, bias, output, constantWeights, activation, accumulate);
    }

    /// <summary>Runs the problem on resident tensors; the one the op writes is null here and becomes <paramref name="output"/> (or a new tensor).</summary>
    Tensor RunResident(ConvProblem problem, Tensor? x, Tensor? w, Tensor? y, Tensor? bias, Tensor? output, bool constantWeights, Activation? fuse, bool accumulate)
    {
        if (problem.Spec.HasPaddingMode) return RunResidentPadded(problem, x, w, y, bias, output, constantWeights, fuse, accumulate);
        // Refused before the output or any benchmark buffers exist; again below with the plan's workspace.
        EnsureFits(problem, Memory, [x, w, y, output], plan: null);
        problem = problem.WithConstantWeights(constantWeights);
        var result = TakeOutput(output, problem.OutputShape, inputs: [x, w, y, bias]);
        try
        {
            switch (problem.Op)
            {
                case ConvOp.Forward: y = result; break;
                case ConvOp.BackwardData: x = result; break;
                default: w = result; break;
            }
            var call = new ResidentCall(this, problem, TensorsFor(x!, w!, y!, bias, constantWeights, accumulate, callerOutput: output is not null), fuse);
            using (EnterStream())
            {
                // A static lambda over a struct: a warm call allocates no closure here.
                lastPlan = Planner.Execute(problem, ref call, static (Plan p, IConvBackend backend, ref ResidentCall c) =>
                {
                    c.Engine.EnsureFits(c.Problem, backend.Memory, [c.Tensors.X, c.Tensors.W, c.Tensors.Y], p);
                    c.ActivationDone = c.Engine.Issue(c.Problem, p.Algorithm, backend, c.Tensors, c.Fuse);
                });
                if (fuse is { } act && act != Activation.Identity && !call.ActivationDone) ApplyActivation(result, act);
            }
            return result;
        }
        catch
        {
            if (output is null) ((IDisposable)result).Dispose();
            throw;
        }
        finally { Wrote(result); } // also after a failed run, which may have written part of it
    }

    /// <summary>
    /// The tensor set of the last device-resident call per weight tensor W (see <see cref="TensorsFor"/>), held weakly: an
    /// entry lives as long as its W does. A network's layers each have their own W, so a pass over its layers finds each
    /// layer's set again; one entry per W bounds what the engine holds to one set of the caller's tensors per layer.
    /// </summary>
    readonly ConditionalWeakTable<Tensor, ConvTensors> residentTensors = new();

    /// <summary>
    /// The run's tensor set: the last call's on the same W when it holds the same tensors and flags (a loop over one layer,
    /// or over a network's layers), so a warm call allocates none. ConvTensors is immutable, so sharing it between calls
    /// and threads is safe. Only sets whose output the caller passed are kept: the engine then holds no tensor the caller
    /// does not hold too (an output the engine made would otherwise stay alive with the set).
    /// </summary>
    ConvTensors TensorsFor(Tensor x, Tensor w, Tensor y, Tensor? bias, bool constantWeights, bool accumulate, bool callerOutput)
    {
        if (residentTensors.TryGetValue(w, out var last) && Holds(last, x, w, y, bias, constantWeights, accumulate))
            return last;
        var tensors = new ConvTensors(x, w, y, bias) { ConstantWeights = constantWeights, Accumulate = accumulate };
        if (callerOutput) residentTensors.AddOrUpdate(w, tensors);
        return tensors;
    }

    static bool Holds(ConvTensors t, Tensor x, Tensor w, Tensor y, Tensor? bias, bool constantWeights, bool accumulate) =>
        ReferenceEquals(t.X, x) && ReferenceEquals(t.W, w) && ReferenceEquals(t.Y, y) && ReferenceEquals(t.Bias, bias)
        && t.ConstantWeights == constantWeights && t.Accumulate == accumulate;

    /// <summary>The bias-free copy of each kept tensor set (see <see cref="WithoutBias"/>), held as long as the set is.</summary>
    readonly ConditionalWeakTable<ConvTensors, ConvTensors> plainTensors = new();

    /// <summary>
    /// <paramref name="t"/> without its bias, for a plain run before a separate bias kernel: the copy made for the same set
    /// before, so a warm call makes none. Kept only for the sets <see cref="TensorsFor"/> keeps (the caller's tensors).
    /// </summary>
    ConvTensors WithoutBias(ConvTensors t)
    {
        if (plainTensors.TryGetValue(t, out var kept)) return kept;
        var plain = t with { Bias = null };
        if (residentTensors.TryGetValue(t.W, out var set) && ReferenceEquals(set, t)) plainTensors.AddOrUpdate(t, plain);
        return plain;
    }

    /// <summary>What one device-resident run needs inside the planner's Execute, and whether the activation was applied with it.</summary>
    struct ResidentCall(ConvEngine engine, ConvProblem problem, ConvTensors tensors, Activation? fuse)
    {
        public readonly ConvEngine Engine = engine;
        public readonly ConvProblem Problem = problem;
        public readonly ConvTensors Tensors = tensors;
        public readonly Activation? Fuse = fuse;
        public bool ActivationDone;
    }

    /// <summary>
    /// Issues one run on <paramref name="backend"/>. Returns true when the activation was applied with it (fused, or by the PTX bias kernel).
    /// A backend in another memory than the engine's (a CPU plan on a GPU engine) runs on copies.
    /// </summary>
    bool Issue(ConvProblem problem, ConvAlgorithm algorithm, IConvBackend backend, ConvTensors t, Activation? fuse)
    {
        if (!ReferenceEquals(backend.Memory, Memory))
            return IssueStaged(problem, algorithm, backend, t, fuse);
        var ordered = backend as IStreamOrderedBackend;
        if (fuse is { } act)
        {
            // The fused calls are forward convolutions. problem.Spec is never transposed (a transposed layer is stored
            // as the backward-data of its convolution, writing X), so the op says which it is. Without a bias cuDNN
            // declines and the CPU backend fuses the activation alone.
            bool forward = problem.Op == ConvOp.Forward;
            if (forward && ordered?.TryEnqueueBiasActivation(problem, algorithm, t, act) == true) return true;
            if (forward && ordered is null && backend is IFusedBiasActivation f && f.TryRunBiasActivation(problem, algorithm, t, act)) return true;
            // Not fusable (anything but ReLU on cuDNN, or a transposed layer): the PTX bias kernel adds bias and the activation on the
            // device, to the tensor the run wrote (Y, or X for a transposed layer), after a plain run.
            if (t.Bias is not null && act != Activation.Identity && ResidentKernels.Ptx is { } ptx)
            {
                var plain = WithoutBias(t);
                if (ordered is not null) ordered.Enqueue(problem, algorithm, plain); else backend.Run(problem, algorithm, plain);
                ptx.AddBias(forward ? t.Y : t.X, t.Bias, act, synchronize: false); // ordered on the stream after the run
                return true;
            }
        }
        if (ordered is not null) ordered.Enqueue(problem, algorithm, t);
        else backend.Run(problem, algorithm, t);
        return false;
    }

    /// <summary>
    /// <see cref="Issue"/> for a backend in another memory: runs on copies. A method of its own because its lambda's
    /// captures would otherwise be allocated on every call to Issue, staged or not.
    /// </summary>
    bool IssueStaged(ConvProblem problem, ConvAlgorithm algorithm, IConvBackend backend, ConvTensors t, Activation? fuse)
    {
        var written = problem.Op switch { ConvOp.Forward => t.Y, ConvOp.BackwardData => t.X, _ => t.W };
        return StagedRun.Run(problem, backend, t, Memory, written, copies =>
        {
            // problem.Spec is the underlying convolution's (never transposed): a transposed layer is its backward-data.
            bool fused = fuse is { } act && problem.Op == ConvOp.Forward
                && backend is IFusedBiasActivation f && f.TryRunBiasActivation(problem, algorithm, copies, act);
            if (!fused) backend.Run(problem, algorithm, copies);
            return fused;
        });
    }

    /// <summary>
    /// The activation in place when no backend fused it (no ptx backend beside cudnn, e.g. without cuBLAS; a transposed
    /// layer on the CPU, a backward-data run the CPU backend does not fuse): the element-wise op of the activation (<see cref="ActivationOp"/>), so on a GPU a kernel on the stream rather than a download and
    /// an upload (see <see cref="Elementwise"/> for the one memory kind that still goes through the host). Runs inside the
    /// caller's stream scope.
    /// </summary>
    void ApplyActivation(Tensor y, Activation activation)
    {
        Interlocked.Increment(ref separateActivationPasses);
        Elementwise(ActivationOp(activation), y, y, null, 0f);
    }

    long separateActivationPasses;

    /// <summary>
    /// ForwardBiasActivation calls whose activation ran as a separate element-wise pass over the output (no backend fused
    /// it): tests read it to see that the CPU backend's fusion is used (it stays 0 there except for transposed layers).
    /// </summary>
    internal long SeparateActivationPasses => Interlocked.Read(ref separateActivationPasses);

    /// <summary>The element-wise op of a (non-identity) activation: one definition for the fused epilogues and the ops.</summary>
    internal static ElementwiseOp ActivationOp(Activation activation) => activation switch
    {
        Activation.Relu => ElementwiseOp.Relu,
        Activation.Relu6 => ElementwiseOp.Relu6,
        Activation.Silu => ElementwiseOp.Silu,
        Activation.Hardswish => ElementwiseOp.Hardswish,
        Activation.Sigmoid => ElementwiseOp.Sigmoid,
        Activation.Hardsigmoid => ElementwiseOp.Hardsigmoid,
        Activation.Gelu => ElementwiseOp.Gelu,
        Activation.GeluTanh => ElementwiseOp.GeluTanh,
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "no element-wise op for this activation"),
    };

    /// <summary>Accumulating adds to a tensor the caller holds: without <paramref name="output"/> there is nothing to add to.</summary>
    static void CheckAccumulate(bool accumulate, Tensor? output)
    {
        if (accumulate && output is null)
            throw new ArgumentException("accumulate = true adds the result to output, but output is null; pass the tensor to accumulate into.", nameof(output));
    }

    /// <summary>The given output (checked: shape, memory, not an input) or a new tensor of <paramref name="shape"/>.</summary>
    Tensor TakeOutput(Tensor? output, TensorShape shape, ReadOnlySpan<Tensor?> inputs)
    {
        if (output is null) return Memory.Allocate(shape);
        CheckTensorShape(output, shape, nameof(output));
        CheckResident(output, nameof(output));
        foreach (var input in inputs)
            if (ReferenceEquals(input, output))
                throw new ArgumentException("output is also an input of this call; write into a separate tensor.", nameof(output));
            else if (input is not null && SharesMemory(input, output))
                throw new ArgumentException("output shares memory with an input of this call (a view from Reshape, or Wrap of the same memory); write into a separate tensor.", nameof(output));
        return output;
    }

    /// <summary>True when the two tensors' elements overlap: the same host array, or overlapping device ranges.</summary>
    static bool SharesMemory(Tensor a, Tensor b) => (a, b) switch
    {
        (HostTensor ha, HostTensor hb) => ReferenceEquals(ha.Data, hb.Data),
        (DeviceTensor da, DeviceTensor db) => da.Pointer < db.Pointer + (ulong)db.ByteCount && db.Pointer < da.Pointer + (ulong)da.ByteCount,
        _ => false,
    };

    /// <summary>
    /// True when writing <paramref name="a"/> could change what <paramref name="b"/> holds: the same tensor, the same host
    /// array, or overlapping device bytes (views from Reshape or Wrap included).
    /// </summary>
    bool Overlaps(Tensor a, Tensor b) => ReferenceEquals(a, b) || SharesMemory(a, b)
        || (RangeOf(a) is { } ra && RangeOf(b) is { } rb && ra.Start < rb.Start + rb.Bytes && rb.Start < ra.Start + ra.Bytes);

    /// <summary>
    /// Refuses a tensor <paramref name="op"/> writes that shares memory with another it writes or with one it reads (the
    /// same tensor, a Reshape view, overlapping device ranges): the kernels read inputs after outputs are written, and a
    /// running statistic updated through an alias would be read half-updated. Spans, so that the call sites' lists live
    /// on the stack (warm calls allocate nothing).
    /// </summary>
    void CheckSeparate(string op, ReadOnlySpan<(Tensor? T, string Name)> written, ReadOnlySpan<(Tensor? T, string Name)> read)
    {
        for (int i = 0; i < written.Length; i++)
        {
            if (written[i].T is not { } w) continue;
            for (int j = i + 1; j < written.Length; j++)
                if (written[j].T is { } o && Overlaps(w, o))
                    throw new ArgumentException($"{written[i].Name} and {written[j].Name} share memory; {op} writes both, so pass separate tensors.", written[i].Name);
            foreach (var (r, name) in read)
                if (r is not null && Overlaps(w, r))
                    throw new ArgumentException($"{written[i].Name} shares memory with {name}, which {op} reads; write into a separate tensor.", written[i].Name);
        }
    }

    /// <summary>
    /// The given output (shape, memory, sharing no element with <paramref name="input"/>) or a new tensor, for the ops
    /// that read elements other than the one they write; <paramref name="reads"/> says what the op reads, for the message.
    /// </summary>
    Tensor TakeSeparateOutput(Tensor? output, TensorShape shape, Tensor input, string inputName, string reads)
    {
        if (output is null) return Memory.Allocate(shape);
        CheckTensorShape(output, shape, nameof(output));
        CheckResident(output, nameof(output));
        if (Overlaps(output, input))
            throw new ArgumentException($"output shares memory with {inputName}; {reads}, so write into a separate tensor.", nameof(output));
        return output;
    }

    /// <summary>Throws unless <paramref name="t"/> lives in <see cref="Memory"/> (and, for a GPU, in this engine's context).</summary>
    void CheckResident(Tensor t, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        var kind = Memory.Kind;
        if (t.Memory != kind)
        {
            var hint = kind == MemoryKind.Device
                ? "upload it first (engine.Upload) or call the HostTensor overload"
                : $"this engine runs on the CPU ({GpuUnavailableReason ?? "a CPU backend was asked for"}); make tensors with engine.Allocate/Upload";
            throw new ArgumentException($"{name} is in {t.Memory} memory but this engine works in {kind} memory: {hint}.", name);
        }
        // A disposed host tensor still holds its data; refusing it here makes the CPU path fail where a GPU would.
        if (t is HostTensor { IsDisposed: true })
            throw new ArgumentException($"{name} was disposed.", name);
        if (t is DeviceTensor d)
        {
            if (d.IsDisposed) throw new ArgumentException($"{name} was disposed.", name);
            if (Gpu is { } rt && !ReferenceEquals(d.Runtime, rt.Context))
                throw new ArgumentException(
                    $"{name} belongs to another engine (or CUDA context) than this one on {rt.Context.Device.Name}; each engine has its own stream and pool, so upload it through this engine.", name);
        }
    }

    static void CheckTensorShape(Tensor t, TensorShape expected, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (!t.Shape.Equals(expected))
            throw new ArgumentException($"{name} has shape {t.Shape}, expected {expected}.", name);
    }

    /// <summary>
    /// Makes the engine's CUDA context current for the whole call (the caller's is put back on dispose), so the driver
    /// steps inside find it current and each pays one cuCtxGetCurrent instead of a set and a restore.
    /// With an application stream in use also: holds the stream gate and makes the engine's stream wait for the
    /// application's; disposing makes the application's stream wait for the engine's work and releases the gate.
    /// </summary>
    StreamScope EnterStream()
    {
        var context = Gpu is { } gpu ? gpu.EnterContext() : default;
        if (appStream == 0) return new StreamScope(null, 0, context);
        Monitor.Enter(streamGate);
        var stream = appStream;
        if (stream == 0 || streamJoin is null)
        {
            Monitor.Exit(streamGate);
            return new StreamScope(null, 0, context);
        }
        try { streamJoin.Enter(stream); }
        catch
        {
            Monitor.Exit(streamGate);
            context.Dispose();
            throw;
        }
        return new StreamScope(this, stream, context);
    }

    readonly struct StreamScope(ConvEngine? engine, nint stream, CurrentContextScope context) : IDisposable
    {
        public void Dispose()
        {
            try
            {
                if (engine is null) return;
                try { engine.streamJoin!.Leave(stream); }
                finally { Monitor.Exit(engine.streamGate); }
            }
            finally { context.Dispose(); }
        }
    }

    void DisposeDeviceResident()
    {
        DisposeAsyncDownloads();
        lock (streamGate)
        {
            streamJoin?.Dispose();
            streamJoin = null;
            appStream = 0;
            residentTensors.Clear();
            plainTensors.Clear();
        }
    }
}
