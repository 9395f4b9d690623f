using GpuConv.Backends;
using GpuConv.Backends.Ptx;
using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.NativeFakes;

namespace GpuConv.Tests.Allocation;

/// <summary>Every public engine op a training or inference loop repeats, as one warm call each.</summary>
public enum WarmOp
{
    Forward,
    ForwardBias,
    ForwardConstantWeights,
    ForwardAccumulate,
    ForwardBiasRelu,
    ForwardBiasReluResidual,
    ForwardBiasRelu6,
    ForwardBiasRelu6Residual,
    ForwardBiasSilu,
    ForwardBiasSiluResidual,
    ForwardBiasHardswish,
    ForwardBiasGelu,
    ForwardBiasGeluTanhResidual,
    BackwardData,
    BackwardDataAccumulate,
    BackwardFilter,
    BackwardFilterAccumulate,
    BackwardBias,
    BackwardBiasAccumulate,
    UploadInto,
    DownloadInto,
    Add,
    Relu,
    ReluBackward,
    Relu6,
    Relu6Backward,
    Silu,
    SiluBackward,
    Scale,
    AddScaled,
    MaxPool,
    AvgPool,
    GlobalAvgPool,
    MaxPoolBackward,
    AvgPoolBackward,
    // The HostTensor overloads: each returns a new host tensor, so each allocates at least its output.
    HostForward,
    HostForwardBiasRelu,
    HostForwardBiasRelu6,
    HostForwardBiasSilu,
    HostBackwardData,
    HostBackwardFilter,
    HostBackwardBias,
}

/// <summary>
/// One engine and the tensors of one layer, with the warm call of each <see cref="WarmOp"/> and the managed bytes it
/// allocates on the calling thread (deterministic for a warm call, unlike its time). Under the native fakes a kernel
/// launch runs the PTX interpreter on the calling thread; its bytes are not the engine's (on a device a launch runs
/// no managed code) and are taken out.
/// </summary>
sealed class WarmCalls : IDisposable
{
    public readonly ConvEngine Engine;
    readonly ConvSpec spec;
    readonly TensorShape xShape, wShape;
    readonly Tensor x, w, b, y, dy, dx, dw, db, upload, e1, e2, pooled, pooledGradient, channelMeans;
    // A 2-wide window at stride 1 over x (every spatial rank): small enough for any layer's input.
    readonly PoolSpec pool;
    readonly HostTensor hx, hw, hb, hdy;
    readonly float[] uploadData, downloadBuffer;

    public WarmCalls(ConvEngine engine, ConvSpec spec, TensorShape xShape, TensorShape wShape)
    {
        Engine = engine;
        this.spec = spec;
        this.xShape = xShape;
        this.wShape = wShape;
        var problem = ConvProblem.Create(spec, xShape, wShape);
        var yShape = problem.YShape;
        hx = HostTensor.Random(xShape, 1);
        hw = HostTensor.Random(wShape, 2);
        hb = HostTensor.Random(new TensorShape(problem.BiasLength), 3);
        hdy = HostTensor.Random(yShape, 4);
        x = engine.Upload(hx);
        w = engine.Upload(hw);
        b = engine.Upload(hb);
        dy = engine.Upload(hdy);
        y = engine.Upload(HostTensor.Random(yShape, 5));
        dx = engine.Upload(HostTensor.Random(xShape, 6));
        dw = engine.Upload(HostTensor.Random(wShape, 7));
        db = engine.Upload(HostTensor.Random(new TensorShape(problem.BiasLength), 8));
        upload = engine.Allocate(yShape);
        e1 = engine.Upload(HostTensor.Random(yShape, 9));
        e2 = engine.Upload(HostTensor.Random(yShape, 10));
        uploadData = HostTensor.Random(yShape, 11).Data;
        downloadBuffer = new float[yShape.ElementCountInt];
        int rank = xShape.Rank - 2;
        pool = new PoolSpec(Enumerable.Repeat(2, rank).ToArray(), Enumerable.Repeat(1, rank).ToArray());
        var pooledShape = pool.OutputShape(xShape);
        pooled = engine.Allocate(pooledShape);
        pooledGradient = engine.Upload(HostTensor.Random(pooledShape, 12));
        channelMeans = engine.Allocate(new TensorShape([xShape[0], xShape[1], .. Enumerable.Repeat(1, rank)]));
    }

    /// <summary>Whether <paramref name="op"/> runs a convolution (so has a plan).</summary>
    public static bool IsConvolution(WarmOp op) => op is not (WarmOp.BackwardBias or WarmOp.BackwardBiasAccumulate or WarmOp.UploadInto or WarmOp.DownloadInto
        or WarmOp.Add or WarmOp.Relu or WarmOp.ReluBackward or WarmOp.Relu6 or WarmOp.Relu6Backward or WarmOp.Silu or WarmOp.SiluBackward or WarmOp.Scale or WarmOp.AddScaled
        or WarmOp.HostBackwardBias
        or WarmOp.MaxPool or WarmOp.AvgPool or WarmOp.GlobalAvgPool or WarmOp.MaxPoolBackward or WarmOp.AvgPoolBackward);

    /// <summary>Whether <paramref name="op"/> is a HostTensor overload, which returns a new tensor by design.</summary>
    public static bool ReturnsANewHostTensor(WarmOp op) => op >= WarmOp.HostForward;

    /// <summary>The problem <paramref name="op"/> runs (for its plan); null when it runs no convolution.</summary>
    public ConvProblem? ProblemOf(WarmOp op) => !IsConvolution(op) ? null : ConvProblem.Create(spec, xShape, wShape, op switch
    {
        WarmOp.BackwardData or WarmOp.BackwardDataAccumulate or WarmOp.HostBackwardData => ConvOp.BackwardData,
        WarmOp.BackwardFilter or WarmOp.BackwardFilterAccumulate or WarmOp.HostBackwardFilter => ConvOp.BackwardFilter,
        _ => ConvOp.Forward,
    });

    /// <summary>The warm call of <paramref name="op"/>: always the same tensors, the output passed where the op takes one.</summary>
    public Action Call(WarmOp op) => op switch
    {
        WarmOp.Forward => () => Engine.Forward(spec, x, w, output: y),
        WarmOp.ForwardBias => () => Engine.Forward(spec, x, w, b, output: y),
        WarmOp.ForwardConstantWeights => () => Engine.Forward(spec, x, w, b, output: y, constantWeights: true),
        WarmOp.ForwardAccumulate => () => Engine.Forward(spec, x, w, b, output: y, accumulate: true),
        WarmOp.ForwardBiasRelu => () => Engine.ForwardBiasActivation(spec, x, w, b, Activation.Relu, output: y),
        WarmOp.ForwardBiasReluResidual => () => Engine.ForwardBiasActivation(spec, x, w, b, Activation.Relu, output: y, accumulate: true),
        WarmOp.ForwardBiasRelu6 => () => Engine.ForwardBiasActivation(spec, x, w, b, Activation.Relu6, output: y),
        WarmOp.ForwardBiasRelu6Residual => () => Engine.ForwardBiasActivation(spec, x, w, b, Activation.Relu6, output: y, accumulate: true),
        WarmOp.ForwardBiasSilu => () => Engine.ForwardBiasActivation(spec, x, w, b, Activation.Silu, output: y),
        WarmOp.ForwardBiasSiluResidual => () => Engine.ForwardBiasActivation(spec, x, w, b, Activation.Silu, output: y, accumulate: true),
        WarmOp.ForwardBiasHardswish => () => Engine.ForwardBiasActivation(spec, x, w, b, Activation.Hardswish, output: y),
        WarmOp.ForwardBiasGelu => () => Engine.ForwardBiasActivation(spec, x, w, b, Activation.Gelu, output: y),
        WarmOp.ForwardBiasGeluTanhResidual => () => Engine.ForwardBiasActivation(spec, x, w, b, Activation.GeluTanh, output: y, accumulate: true),
        WarmOp.BackwardData => () => Engine.BackwardData(spec, dy, w, xShape, output: dx),
        WarmOp.BackwardDataAccumulate => () => Engine.BackwardData(spec, dy, w, xShape, output: dx, accumulate: true),
        WarmOp.BackwardFilter => () => Engine.BackwardFilter(spec, x, dy, wShape, output: dw),
        WarmOp.BackwardFilterAccumulate => () => Engine.BackwardFilter(spec, x, dy, wShape, output: dw, accumulate: true),
        WarmOp.BackwardBias => () => Engine.BackwardBias(dy, db),
        WarmOp.BackwardBiasAccumulate => () => Engine.BackwardBias(dy, db, accumulate: true),
        WarmOp.UploadInto => () => Engine.Upload(uploadData, upload),
        WarmOp.DownloadInto => () => Engine.Download(y, downloadBuffer),
        WarmOp.Add => () => Engine.Add(y, e1, output: e2),
        WarmOp.Relu => () => Engine.Relu(y, output: e2),
        WarmOp.ReluBackward => () => Engine.ReluBackward(dy, y, output: e2),
        WarmOp.Relu6 => () => Engine.Relu6(y, output: e2),
        WarmOp.Relu6Backward => () => Engine.Relu6Backward(dy, y, output: e2),
        WarmOp.Silu => () => Engine.Silu(y, output: e2),
        WarmOp.SiluBackward => () => Engine.SiluBackward(dy, y, output: e2),
        WarmOp.Scale => () => Engine.Scale(y, 0.5f, output: e2),
        WarmOp.AddScaled => () => Engine.AddScaled(e2, 0.5f, e1),
        WarmOp.MaxPool => () => Engine.MaxPool(pool, x, output: pooled),
        WarmOp.AvgPool => () => Engine.AvgPool(pool, x, output: pooled),
        WarmOp.GlobalAvgPool => () => Engine.GlobalAvgPool(x, output: channelMeans),
        WarmOp.MaxPoolBackward => () => Engine.MaxPoolBackward(pool, pooledGradient, x, output: dx),
        WarmOp.AvgPoolBackward => () => Engine.AvgPoolBackward(pool, pooledGradient, xShape, output: dx),
        WarmOp.HostForward => () => Engine.Forward(spec, hx, hw, hb),
        WarmOp.HostForwardBiasRelu => () => Engine.ForwardBiasActivation(spec, hx, hw, hb, Activation.Relu),
        WarmOp.HostForwardBiasRelu6 => () => Engine.ForwardBiasActivation(spec, hx, hw, hb, Activation.Relu6),
        WarmOp.HostForwardBiasSilu => () => Engine.ForwardBiasActivation(spec, hx, hw, hb, Activation.Silu),
        WarmOp.HostBackwardData => () => Engine.BackwardData(spec, hdy, hw, xShape),
        WarmOp.HostBackwardFilter => () => Engine.BackwardFilter(spec, hx, hdy, wShape),
        WarmOp.HostBackwardBias => () => Engine.BackwardBias(hdy),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };

    /// <summary>What the element-wise replays of <see cref="BelowTheEngine"/> launch through (a test's planted launcher); null: the engine's runtime.</summary>
    public Func<IPtxRuntime, IPtxRuntime>? LaunchThrough { get; set; }

    /// <summary>
    /// The same device work as <paramref name="op"/>'s engine call, issued straight to what the engine calls (the planned
    /// backend, the PTX bias or element-wise kernels) on the same tensors: what those allocate themselves. Null when the
    /// op reaches no such call (uploads, downloads, host loops, cuDNN's bias gradient, the pools, whose kernel launch is
    /// the engine's own): then the engine call alone is measured.
    /// The replays follow ConvEngine.Issue: a backend on the stream fuses bias + ReLU if it can (cuDNN declines ReLU6), else
    /// the PTX bias kernel adds both after a plain run; a host backend fuses or runs and the engine's ReLU / ReLU6 loop
    /// allocates nothing.
    /// </summary>
    public Action? BelowTheEngine(WarmOp op)
    {
        var ptx = Engine.Backends.OfType<PtxConvBackend>().FirstOrDefault(b => ReferenceEquals(b.Memory, Engine.Memory));
        bool cudnnPresent = Engine.Backends.Any(b => b.Name == "cudnn" && ReferenceEquals(b.Memory, Engine.Memory));
        switch (op)
        {
            case WarmOp.BackwardBias or WarmOp.BackwardBiasAccumulate:
                if (Engine.Memory.Kind == MemoryKind.Host || cudnnPresent) return null;
                bool add = op == WarmOp.BackwardBiasAccumulate;
                return () => ptx!.BackwardBias(dy, db, add);
            case WarmOp.Add or WarmOp.Relu or WarmOp.ReluBackward or WarmOp.Relu6 or WarmOp.Relu6Backward or WarmOp.Silu or WarmOp.SiluBackward or WarmOp.Scale
                or WarmOp.AddScaled:
                if (Engine.Memory is not IPtxRuntime engineRuntime) return null;
                var rt = LaunchThrough?.Invoke(engineRuntime) ?? engineRuntime;
                var (eop, output, a, b2, alpha) = op switch
                {
                    WarmOp.Add => (ElementwiseOp.Add, e2, y, e1, 0f),
                    WarmOp.Relu => (ElementwiseOp.Relu, e2, y, null, 0f),
                    WarmOp.ReluBackward => (ElementwiseOp.ReluBackward, e2, dy, y, 0f),
                    WarmOp.Relu6 => (ElementwiseOp.Relu6, e2, y, null, 0f),
                    WarmOp.Relu6Backward => (ElementwiseOp.Relu6Backward, e2, dy, y, 0f),
                    WarmOp.Silu => (ElementwiseOp.Silu, e2, y, null, 0f),
                    WarmOp.SiluBackward => (ElementwiseOp.SiluBackward, e2, dy, y, 0f),
                    WarmOp.Scale => (ElementwiseOp.Scale, e2, y, null, 0.5f),
                    _ => (ElementwiseOp.AddScaled, e2, e1, e2, 0.5f),
                };
                ulong po = rt.PointerOf(output), pa = rt.PointerOf(a), pb = b2 is null ? 0 : rt.PointerOf(b2);
                long count = output.Shape.ElementCount;
                return () => ElementwiseKernels.Launch(rt, eop, po, pa, pb, alpha, count);
        }
        if (!IsConvolution(op) || ReturnsANewHostTensor(op)) return null;

        bool constant = op == WarmOp.ForwardConstantWeights;
        bool accumulate = op is WarmOp.ForwardAccumulate or WarmOp.ForwardBiasReluResidual or WarmOp.ForwardBiasRelu6Residual or WarmOp.ForwardBiasSiluResidual
            or WarmOp.ForwardBiasGeluTanhResidual or WarmOp.BackwardDataAccumulate or WarmOp.BackwardFilterAccumulate;
        var problem = ProblemOf(op)!.WithConstantWeights(constant);
        var plan = Engine.GetPlan(problem);
        var backend = Engine.Planner.BackendOf(plan);
        var algorithm = plan.Algorithm;
        var bias = op is WarmOp.ForwardBias or WarmOp.ForwardConstantWeights or WarmOp.ForwardAccumulate or WarmOp.ForwardBiasRelu or WarmOp.ForwardBiasReluResidual
            or WarmOp.ForwardBiasRelu6 or WarmOp.ForwardBiasRelu6Residual or WarmOp.ForwardBiasSilu or WarmOp.ForwardBiasSiluResidual or WarmOp.ForwardBiasHardswish
            or WarmOp.ForwardBiasGelu or WarmOp.ForwardBiasGeluTanhResidual ? b : null;
        var tensors = (problem.Op switch
        {
            ConvOp.Forward => new ConvTensors(x, w, y, bias),
            ConvOp.BackwardData => new ConvTensors(dx, w, dy),
            _ => new ConvTensors(x, dw, dy),
        }) with { ConstantWeights = constant, Accumulate = accumulate };
        var plain = tensors with { Bias = null };
        Activation? activation = op switch
        {
            WarmOp.ForwardBiasRelu or WarmOp.ForwardBiasReluResidual => Activation.Relu,
            WarmOp.ForwardBiasRelu6 or WarmOp.ForwardBiasRelu6Residual => Activation.Relu6,
            WarmOp.ForwardBiasSilu or WarmOp.ForwardBiasSiluResidual => Activation.Silu,
            WarmOp.ForwardBiasHardswish => Activation.Hardswish,
            WarmOp.ForwardBiasGelu => Activation.Gelu,
            WarmOp.ForwardBiasGeluTanhResidual => Activation.GeluTanh,
            _ => null,
        };
        if (backend is IStreamOrderedBackend ordered)
            return () =>
            {
                if (activation is { } act && ordered.TryEnqueueBiasActivation(problem, algorithm, tensors, act)) return;
                if (activation is { } unfused && ptx is not null)
                {
                    ordered.Enqueue(problem, algorithm, plain);
                    ptx.AddBias(y, b, unfused, synchronize: false);
                }
                else ordered.Enqueue(problem, algorithm, tensors);
            };
        return () =>
        {
            if (activation is { } act && backend is IFusedBiasActivation fused && fused.TryRunBiasActivation(problem, algorithm, tensors, act)) return;
            backend.Run(problem, algorithm, tensors);
        };
    }

    /// <summary>The shape of the tensor a HostTensor overload returns.</summary>
    public TensorShape OutputShape(WarmOp op) => op switch
    {
        WarmOp.HostBackwardData => xShape,
        WarmOp.HostBackwardFilter => wShape,
        WarmOp.HostBackwardBias => hb.Shape,
        _ => hdy.Shape,
    };

    /// <summary>Calls of each action in one round of <see cref="BytesPerCall"/>.</summary>
    public const int RoundCalls = 10;

    /// <summary>
    /// Bytes this thread allocates per call of <paramref name="call"/>, and per call of <paramref name="below"/> (0 when
    /// null), after <paramref name="warm"/> warm-up calls, less what the fake driver's PTX interpreter allocated meanwhile:
    /// the smallest per-call mean over rounds of <see cref="RoundCalls"/> calls of each (<paramref name="calls"/> calls
    /// of each in all). An allocation of every call shows in every round, so in the smallest; a one-off (a cache grown
    /// once, a first-time path of the runtime) falls in one round and not in the others, where an average over all the
    /// calls spread it as "x B per call" (15 B in one full run). The two alternate call by call, so that a cost that fades
    /// as the process warms falls on both alike. Each round starts with a gen-0 collection (outside the measured calls): a
    /// cache that the runtime drops at a collection and the next call rebuilds (Enum.IsDefined's type cache cost 240 B
    /// after each collection) then shows in every round, as tens of bytes per call.
    /// </summary>
    public (double Call, double Below) BytesPerCall(Action call, Action? below, int warm, int calls)
    {
        for (int i = 0; i < warm; i++)
        {
            call();
            below?.Invoke();
        }
        Engine.Synchronize();
        long fewestCall = long.MaxValue, fewestBelow = long.MaxValue;
        for (int round = 0; round < Math.Max(1, calls / RoundCalls); round++)
        {
            GC.Collect(0);
            long callBytes = 0, belowBytes = 0;
            for (int i = 0; i < RoundCalls; i++)
            {
                callBytes += BytesOf(call);
                if (below is not null) belowBytes += BytesOf(below);
            }
            fewestCall = Math.Min(fewestCall, callBytes);
            fewestBelow = Math.Min(fewestBelow, belowBytes);
        }
        Engine.Synchronize();
        return ((double)fewestCall / RoundCalls, (double)fewestBelow / RoundCalls);
    }

    /// <summary>
    /// Bytes the whole process allocates per call of <paramref name="call"/> (<c>GC.GetTotalAllocatedBytes(precise: true)</c>:
    /// every thread, the CPU backend's workers included), after <paramref name="warm"/> calls: the fewest over up to
    /// <paramref name="batches"/> batches of <paramref name="calls"/> calls (done at the first batch under 1 B per call),
    /// so that what other threads of the process allocate meanwhile (the test host's output, timers) does not count
    /// unless it falls in every batch. A cost of the call itself falls in every batch.
    /// </summary>
    public static double ProcessBytesPerCall(Action call, int warm = 8, int batches = 25, int calls = 16)
    {
        for (int i = 0; i < warm; i++) call();
        long fewest = long.MaxValue;
        for (int b = 0; b < batches && fewest >= calls; b++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < calls; i++) call();
            fewest = Math.Min(fewest, GC.GetTotalAllocatedBytes(precise: true) - before);
        }
        return (double)fewest / calls;
    }

    /// <summary>The bytes <paramref name="action"/> allocates on this thread, the fake driver's interpreter's taken out.</summary>
    static long BytesOf(Action action)
    {
        long interpreted = NativeFakeLaunchHook.BytesAllocatedOnThisThread;
        long before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before - (NativeFakeLaunchHook.BytesAllocatedOnThisThread - interpreted);
    }

    public void Dispose()
    {
        foreach (var t in new[] { x, w, b, y, dy, dx, dw, db, upload, e1, e2, pooled, pooledGradient, channelMeans })
            ((IDisposable)t).Dispose();
    }
}
