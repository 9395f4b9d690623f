using GpuConv.Conv;
using GpuConv.Cpu.Gemm;
using Geometry = GpuConv.Cpu.ReferenceConv.Geometry;

namespace GpuConv.Cpu;

/// <summary>
/// One run of a convolution on the CPU: the problem's sizes computed once, the pinned tensor
/// pointers, the workers (with their workspaces), the GEMM tier and the thread budget. The per-op kernels read it.
/// Pointers are valid only while the caller keeps the tensors pinned (for the duration of the run).
/// </summary>
internal sealed unsafe class CpuConvContext
{
    public CpuConvContext(ConvProblem p, float* x, float* w, float* y, float* bias, CpuWorkers workers, WorkspaceSet shared, GemmTier tier)
    {
        Problem = p;
        G = Geometry.Of(p);
        X = x; W = w; Y = y; Bias = bias;
        Workers = workers; Shared = shared; Tier = tier; Threads = workers.Threads;
        N = p.N; C = p.C; K = p.K; Groups = p.Groups; Cg = p.CPerGroup; Kg = p.KPerGroup;
        Kvol = (int)p.KernelVolume;
        InPlane = (nint)p.XShape.SpatialSize;
        OutPlane = (nint)p.YShape.SpatialSize;
        Rows = Cg * Kvol;
        Cols = (int)OutPlane;
    }

    public ConvProblem Problem { get; }
    public Geometry G { get; }
    public float* X { get; }
    public float* W { get; }
    public float* Y { get; }
    /// <summary>Bias of the op's output channels, or null.</summary>
    public float* Bias { get; }
    public CpuWorkers Workers { get; }
    /// <summary>Scratch shared by every task of the run (e.g. the padded input), filled before the tasks that read it.</summary>
    public WorkspaceSet Shared { get; }
    public GemmTier Tier { get; }
    public int Threads { get; }
    public int N { get; }
    public int C { get; }
    public int K { get; }
    public int Groups { get; }
    public int Cg { get; }
    public int Kg { get; }
    public int Kvol { get; }
    /// <summary>Spatial size of X (one channel plane).</summary>
    public nint InPlane { get; }
    /// <summary>Spatial size of Y (one channel plane) = columns of the column matrix.</summary>
    public nint OutPlane { get; }
    /// <summary>Rows of the column matrix per group: C/g × kernel volume.</summary>
    public int Rows { get; }
    public int Cols { get; }

    /// <summary>First plane of channel c of image n of X / of Y.</summary>
    public float* XPlane(int n, int c) => X + ((nint)n * C + c) * InPlane;
    public float* YPlane(int n, int k) => Y + ((nint)n * K + k) * OutPlane;
}
