using System.Runtime.CompilerServices;
using GpuConv.Conv;
using GpuConv.Cpu.Elementwise;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;
using Geometry = GpuConv.Cpu.ConvGeometry;

namespace GpuConv.Cpu;

/// <summary>
/// One run of a convolution on the CPU: the problem's sizes computed once, the pinned tensor
/// pointers, the workers (with their workspaces), the GEMM tier and the thread budget. The per-op kernels read it.
/// A backend keeps one and fills it for each run (<see cref="Begin"/>; runs are serialised), so a
/// steady-state run does not allocate it. Pointers are valid only between <see cref="Begin"/> and
/// <see cref="End"/>, while the caller keeps the tensors pinned.
/// </summary>
internal sealed unsafe class CpuConvContext(CpuWorkers workers, WorkspaceSet shared, GemmTier tier)
{
    /// <summary>Starts a run of <paramref name="p"/> on the given pinned tensors.</summary>
    public void Begin(ConvProblem p, float* x, float* w, float* y, float* bias, Activation activation = Activation.Identity)
    {
        Problem = p;
        Activation = activation;
        G = Geometry.Of(p);
        X = x; W = w; Y = y; Bias = bias;
        N = p.N; C = p.C; K = p.K; Groups = p.Groups; Cg = p.CPerGroup; Kg = p.KPerGroup;
        Kvol = (int)p.KernelVolume;
        InPlane = (nint)p.XShape.SpatialSize;
        OutPlane = (nint)p.YShape.SpatialSize;
        Rows = Cg * Kvol;
        Cols = (int)OutPlane;
    }

    /// <summary>Ends the run: the tensors are about to be unpinned, so their pointers are dropped.</summary>
    public void End()
    {
        X = W = Y = Bias = null;
        Problem = null!;
        Activation = Activation.Identity;
    }

    public ConvProblem Problem { get; private set; } = null!;
    public Geometry G { get; private set; }
    public float* X { get; private set; }
    public float* W { get; private set; }
    public float* Y { get; private set; }
    /// <summary>Bias of the op's output channels, or null.</summary>
    public float* Bias { get; private set; }
    /// <summary>
    /// The activation each forward task applies to the output region it wrote, after the bias (see <see cref="CpuActivation"/>);
    /// Identity for every other run. Settable: Winograd runs that may overflow compute without it and apply it after their check.
    /// </summary>
    public Activation Activation { get; set; }
    public CpuWorkers Workers { get; } = workers;
    /// <summary>Scratch shared by every task of the run (e.g. the padded input), filled before the tasks that read it.</summary>
    public WorkspaceSet Shared { get; } = shared;
    public GemmTier Tier { get; } = tier;
    public int Threads { get; } = workers.Threads;
    public int N { get; private set; }
    public int C { get; private set; }
    public int K { get; private set; }
    public int Groups { get; private set; }
    public int Cg { get; private set; }
    public int Kg { get; private set; }
    public int Kvol { get; private set; }
    /// <summary>Spatial size of X (one channel plane).</summary>
    public nint InPlane { get; private set; }
    /// <summary>Spatial size of Y (one channel plane) = columns of the column matrix.</summary>
    public nint OutPlane { get; private set; }
    /// <summary>Rows of the column matrix per group: C/g × kernel volume.</summary>
    public int Rows { get; private set; }
    public int Cols { get; private set; }

    /// <summary>First plane of channel c of image n of X / of Y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* XPlane(int n, int c) => X + ((nint)n * C + c) * InPlane;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* YPlane(int n, int k) => Y + ((nint)n * K + k) * OutPlane;
}
