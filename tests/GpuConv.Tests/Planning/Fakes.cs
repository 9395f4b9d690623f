using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Planning;
using GpuConv.Tensors;

namespace GpuConv.Tests.Planning;

/// <summary>How a fake candidate behaves: its fake time per TimeRun call and whether it fails (and how).</summary>
/// <summary>PerCallTimeMs, when set, is the time when W is not declared constant (a backend that prepares W on every such call).</summary>
sealed record FakeAlgorithm(ConvAlgorithm Algorithm, double[] Times, bool FailsAllocation = false, bool ThrowsWhenTimed = false,
    bool DeclinedAtRunTime = false, double? PerCallTimeMs = null);

/// <summary>
/// A backend that reports fixed fake times and computes real results with the reference (so engine
/// tests through it can be checked), in host memory or in a fake device memory.
/// </summary>
sealed class FakeBackend : IConvBackend
{
    readonly List<FakeAlgorithm> algorithms = [];
    readonly Dictionary<string, int> timeCalls = [];

    public FakeBackend(string name, int priority, IMemorySpace? memory = null)
    {
        Name = name;
        Priority = priority;
        Memory = memory ?? HostMemorySpace.Instance;
    }

    public string Name { get; }
    public IMemorySpace Memory { get; }
    public int Priority { get; }
    public Func<ConvProblem, string?> Unsupported { get; set; } = _ => null;
    public Dictionary<string, int> RunCalls { get; } = [];
    public bool Disposed { get; private set; }
    /// <summary>Makes Run write a wrong answer (to prove validation notices).</summary>
    public bool Corrupt { get; set; }

    /// <summary>
    /// Adds a candidate, ranked after those added before; times cycle when TimeRun is called more often than listed.
    /// Its id is its place unless <paramref name="id"/> fixes it (as a real backend's algorithm keeps its id whatever its rank).
    /// </summary>
    public FakeBackend With(string name, double timeMs = 1, long workspace = 0, bool deterministic = true, MathMode math = MathMode.Strict,
        bool failsAllocation = false, bool throwsWhenTimed = false, double[]? times = null, bool declinedAtRunTime = false,
        double? perCallTimeMs = null, int? id = null)
    {
        algorithms.Add(new FakeAlgorithm(new ConvAlgorithm(Name, name, id ?? algorithms.Count, workspace, deterministic, math),
            times ?? [timeMs], failsAllocation, throwsWhenTimed, declinedAtRunTime, perCallTimeMs));
        return this;
    }

    public int TimeCalls(string algorithm) => timeCalls.GetValueOrDefault(algorithm);

    /// <summary>Whether any Run call got tensors whose weights were declared constant.</summary>
    public bool RanWithConstantWeights { get; private set; }

    /// <summary>Whether any TimeRun call got tensors whose weights were not declared constant.</summary>
    public bool TimedWithVariableWeights { get; private set; }

    public string? WhyUnsupported(ConvProblem problem) => Unsupported(problem);

    public IReadOnlyList<ConvAlgorithm> GetAlgorithms(ConvProblem problem, ConvPrecision precision) =>
        algorithms.Where(a => precision == ConvPrecision.AllowTF32 || a.Algorithm.Math == MathMode.Strict).Select(a => a.Algorithm).ToList();

    FakeAlgorithm Find(ConvAlgorithm algorithm) => algorithms.Single(a => a.Algorithm.Equals(algorithm));

    public void Run(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
    {
        var fake = Find(algorithm);
        RunCalls[algorithm.Name] = RunCalls.GetValueOrDefault(algorithm.Name) + 1;
        RanWithConstantWeights |= tensors.ConstantWeights;
        if (fake.FailsAllocation) throw new WorkspaceAllocationException(algorithm.Key, algorithm.WorkspaceBytes);
        if (fake.DeclinedAtRunTime) throw new AlgorithmDeclinedException(algorithm.Key, "CUDNN_STATUS_NOT_SUPPORTED");
        tensors.Validate(problem, Memory.Kind);
        float[] Data(Tensor? t) => t switch { null => [], HostTensor h => h.Data, FakeDeviceTensor d => d.Data, _ => throw new InvalidOperationException() };
        var result = ReferenceConv.Run(problem, Data(tensors.X), Data(tensors.W), Data(tensors.Y), Data(tensors.Bias));
        var target = Data(problem.Op switch { ConvOp.Forward => tensors.Y, ConvOp.BackwardData => tensors.X, _ => tensors.W });
        for (int i = 0; i < target.Length; i++) target[i] = (float)result[i] + (Corrupt ? 0.5f : 0f);
    }

    public double TimeRun(ConvProblem problem, ConvAlgorithm algorithm, ConvTensors tensors)
    {
        var fake = Find(algorithm);
        tensors.Validate(problem, Memory.Kind);
        int call = timeCalls.GetValueOrDefault(algorithm.Name);
        timeCalls[algorithm.Name] = call + 1;
        TimedWithVariableWeights |= !tensors.ConstantWeights;
        if (fake.FailsAllocation) throw new WorkspaceAllocationException(algorithm.Key, algorithm.WorkspaceBytes);
        if (fake.DeclinedAtRunTime) throw new AlgorithmDeclinedException(algorithm.Key, "CUDNN_STATUS_NOT_SUPPORTED");
        if (fake.ThrowsWhenTimed) throw new InvalidOperationException("fake launch failure");
        if (!tensors.ConstantWeights && fake.PerCallTimeMs is { } perCall) return perCall;
        return fake.Times[call % fake.Times.Length];
    }

    public void Dispose() => Disposed = true;
}

/// <summary>A stand-in for device memory: separate buffers the engine must copy to and from.</summary>
sealed class FakeDeviceMemory : IMemorySpace
{
    public int Allocated { get; private set; }
    public int Freed { get; private set; }
    public int CopiesIn { get; private set; }
    public int CopiesOut { get; private set; }
    public MemoryKind Kind => MemoryKind.Device;

    public Tensor Allocate(TensorShape shape)
    {
        Allocated++;
        var t = new FakeDeviceTensor(shape, this);
        // Garbage, so a missing copy shows up as a wrong result.
        Array.Fill(t.Data, float.NaN);
        return t;
    }

    public void CopyFromHost(ReadOnlySpan<float> source, Tensor destination) { CopiesIn++; source.CopyTo(((FakeDeviceTensor)destination).Data); }
    public void CopyToHost(Tensor source, Span<float> destination) { CopiesOut++; ((FakeDeviceTensor)source).Data.CopyTo(destination); }
    internal void OnFree() => Freed++;
}

sealed class FakeDeviceTensor(TensorShape shape, FakeDeviceMemory owner) : Tensor(shape), IDisposable
{
    public float[] Data { get; } = new float[shape.ElementCountInt];
    public override MemoryKind Memory => MemoryKind.Device;
    bool disposed;
    public new void Dispose() { if (!disposed) { disposed = true; owner.OnFree(); } }
}

static class Problems
{
    /// <summary>A small 2-d forward problem; batch varies to make distinct keys.</summary>
    public static ConvProblem Small(int n = 1, ConvOp op = ConvOp.Forward) =>
        ConvProblem.Create(new ConvSpec([3, 3], padBegin: [1]), new TensorShape(n, 2, 5, 5), new TensorShape(3, 2, 3, 3), op);

    public static PlannerOptions Options(PlanPolicy policy) => new()
    {
        Policy = policy,
        Device = new DeviceIdentity("cpu", "test-cpu", MultiprocessorCount: 4, SimdTier: "vector256"),
        Host = new DeviceIdentity("cpu", "test-cpu", MultiprocessorCount: 4, SimdTier: "vector256"),
    };
}

/// <summary>A temporary folder per test, removed afterwards.</summary>
sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "gpuconv-tests-" + Guid.NewGuid().ToString("N"));
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}
