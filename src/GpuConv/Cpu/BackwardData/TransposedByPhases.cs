using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using GpuConv.Conv;
using GpuConv.Cpu.ChannelTiled;
using GpuConv.Cpu.Gemm;
using GpuConv.Cpu.Threading;
using GpuConv.Tensors;

namespace GpuConv.Cpu.BackwardData;

/// <summary>
/// Backward-data (transposed convolution) as forward convolutions of dy, so it runs on the forward
/// kernels. Per spatial dimension with stride s, the positions i of dx fall into s phases by
/// (i + padBegin) mod s; dx restricted to phase φ is a stride-1 convolution of dy with the taps
/// r ≡ φ (mod s), flipped (tap φ + (M−1−m)·s at sub-kernel position m). Stride 1 is the one-phase case
/// (all taps flipped, the dilation kept); the phases of a problem are the products of its dimensions'
/// phases. Per group the channel roles swap: W'[g·Cg + c, k, m…] = W[g·Kg + k, c, tap(m)…]. A phase
/// without taps is bias (or zero). With every stride 1 the one sub-convolution writes dx itself;
/// otherwise each phase writes its part of a temporary ([N, C, Q…] per phase) and one pass scatters
/// them all into dx's sub-grids.
/// Where a phase's sub-convolution would need negative padding (padding beyond the kernel: it would skip
/// rows of dy), it pads by zero instead and computes that many extra outputs, which the scatter skips.
/// Not built (null) where a dimension has stride and dilation both above 1: gemm-col2im runs those.
/// </summary>
internal sealed class TransposedByPhases
{
    /// <summary>One phase: the sub-grid of dx it writes and, when it has taps, the forward problem that computes it.</summary>
    internal sealed class Phase
    {
        /// <summary>The forward convolution of dy with this phase's sub-kernel; null when the phase has no taps.</summary>
        public ConvProblem? Sub;
        /// <summary>The forward algorithm the backend's heuristic picks for <see cref="Sub"/>.</summary>
        public string Algorithm = "";
        /// <summary>Per widened dimension (D, H, W): first dx position, count of positions, and taps of the sub-kernel.</summary>
        public int StartD, StartH, StartW, CountD, CountH, CountW;
        /// <summary>Per widened dimension: the residue φ and the tap count M (taps φ + (M−1−m)·s).</summary>
        public int PhaseD, PhaseH, PhaseW, TapsD, TapsH, TapsW;
        /// <summary>Per widened dimension: the sub-convolution's output extent and the leading outputs to skip (extra outputs instead of negative padding).</summary>
        public int SubD, SubH, SubW, SkipD, SkipH, SkipW;
        /// <summary>Floats of the sub-kernel: C × Kg × taps.</summary>
        public long WeightFloats;
        /// <summary>Where this phase's output starts in the temporary holding all of them.</summary>
        public long TempOffset;
        /// <summary>Where this phase's per-call sub-kernel starts in the scratch holding all of them.</summary>
        public long ScratchOffset;
        /// <summary>True when the sub-run takes channel panels (channel-tiled): the per-call transform writes them.</summary>
        public bool Panels;
        /// <summary>Sub-kernel position m (row-major over the sub-kernel) → tap of the full kernel (row-major), flipped.</summary>
        public int[] TapIndex = [];
        /// <summary>The sub-kernel's panel rows written from W inside the sub-run's tasks (made on first use).</summary>
        public PhasePanelRows? Rows;
        public long Outputs => (long)CountD * CountH * CountW;
        public long SubOutputs { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (long)SubD * SubH * SubW; }
        public bool Skips => SubOutputs != Outputs;
    }

    TransposedByPhases(ConvProblem problem, Phase[] phases, bool direct)
    {
        Problem = problem;
        Phases = phases;
        Direct = direct;
        Destinations = new nint[phases.Length];
        foreach (var ph in phases)
        {
            ph.ScratchOffset = ScratchFloats;
            ScratchFloats += ph.Panels ? ChannelPanels.Floats(problem.Groups, problem.CPerGroup, problem.KPerGroup * ph.TapIndex.Length) : ph.WeightFloats;
            ph.TempOffset = TempFloats;
            if (!direct && ph.Sub is not null) TempFloats += (long)problem.N * problem.C * ph.SubOutputs;
        }
    }

    /// <summary>Per-phase destinations of the per-call transform (filled under the backend's run lock).</summary>
    public nint[] Destinations { get; } = [];

    /// <summary>The backward-data problem this plan runs.</summary>
    public ConvProblem Problem { get; }
    /// <summary>Phases with at least one dx position.</summary>
    public Phase[] Phases { get; }
    /// <summary>True when every stride is 1: one phase, written straight into dx.</summary>
    public bool Direct { get; }
    /// <summary>Floats of the phases' outputs together (0 when <see cref="Direct"/>): about dx's size.</summary>
    public long TempFloats { get; }
    /// <summary>Floats of the per-call sub-kernels together (panels where the sub-run takes them).</summary>
    public long ScratchFloats { get; }

    /// <summary>
    /// The plan for a backward-data problem, or null where it does not apply. <paramref name="pick"/> names
    /// the forward algorithm for a sub-problem (the backend's first candidate); <paramref name="takesPanels"/>
    /// says whether that algorithm, with per-call weights, runs on channel panels.
    /// </summary>
    public static TransposedByPhases? TryCreate(ConvProblem p, Func<ConvProblem, string> pick, Func<string, bool> takesPanels)
    {
        if (p.Op != ConvOp.BackwardData) return null;
        int rank = p.Rank;
        var spec = p.Spec;
        // Per dimension, its phases with dx positions: residue φ, taps M, first position and count in dx, the
        // sub-convolution's padding (clamped at 0), the outputs it computes to skip (for negative padding), its output extent.
        var dims = new List<(int Phase, int Taps, int Start, int Count, int PadBegin, int PadEnd, int Skip, int Sub)>[rank];
        for (int d = 0; d < rank; d++)
        {
            int s = spec.Stride[d], dil = spec.Dilation[d], r = spec.Kernel[d], pb = spec.PadBegin[d];
            int h = p.XShape[2 + d], ho = p.YShape[2 + d];
            if (s > 1 && dil > 1) return null;
            int step = s == 1 ? dil : 1;      // the sub-kernel's dilation
            dims[d] = [];
            for (int phase = 0; phase < s; phase++)
            {
                int taps = phase < r ? (r - 1 - phase) / s + 1 : 0;
                int start = ((phase - pb) % s + s) % s;
                int count = start < h ? (h - start + s - 1) / s : 0;
                if (count == 0) continue;
                long q0 = ((long)start + pb - phase) / s;        // dy index of the phase's first position (tap φ)
                long padBegin = (long)(taps - 1) * step - q0, padEnd = count - (long)ho + q0;
                long skip = Math.Max(0, -padBegin), sub = count + skip + Math.Max(0, -padEnd);
                if (taps > 0 && (padBegin > int.MaxValue || padEnd > int.MaxValue || sub > int.MaxValue)) return null;
                if (taps == 0) (skip, sub) = (0, count);
                dims[d].Add((phase, taps, start, count, (int)Math.Max(0, padBegin), (int)Math.Max(0, padEnd), (int)skip, (int)sub));
            }
        }
        var phases = new List<Phase>();
        int lead = 3 - rank;
        foreach (var combo in Combinations(dims))
        {
            var ph = new Phase();
            int[] at(int i) => i < lead ? [0, 1, 0, 1, 0, 1]
                : [combo[i - lead].Phase, combo[i - lead].Taps, combo[i - lead].Start, combo[i - lead].Count, combo[i - lead].Skip, combo[i - lead].Sub];
            (ph.PhaseD, ph.TapsD, ph.StartD, ph.CountD, ph.SkipD, ph.SubD) = Tuple(at(0));
            (ph.PhaseH, ph.TapsH, ph.StartH, ph.CountH, ph.SkipH, ph.SubH) = Tuple(at(1));
            (ph.PhaseW, ph.TapsW, ph.StartW, ph.CountW, ph.SkipW, ph.SubW) = Tuple(at(2));
            long taps = (long)ph.TapsD * ph.TapsH * ph.TapsW;
            if (taps > 0)
            {
                var subSpec = new ConvSpec(
                    combo.Select(c => c.Taps).ToArray(), stride: null,
                    dilation: Enumerable.Range(0, rank).Select(d => spec.Stride[d] == 1 ? spec.Dilation[d] : 1).ToArray(),
                    padBegin: combo.Select(c => c.PadBegin).ToArray(), padEnd: combo.Select(c => c.PadEnd).ToArray(),
                    groups: p.Groups);
                var dy = new TensorShape([p.N, p.K, .. p.YShape.Spatial]);
                var w = new TensorShape([p.C, p.KPerGroup, .. combo.Select(c => c.Taps)]);
                ConvProblem sub;
                try { sub = ConvProblem.Create(subSpec, dy, w); }
                catch (ArgumentException) { return null; }
                for (int d = 0; d < rank; d++)
                    if (sub.YShape[2 + d] != combo[d].Sub) return null;     // a sizing slip must not run
                ph.Sub = sub;
                ph.Algorithm = pick(sub);
                ph.Panels = takesPanels(ph.Algorithm);
                ph.WeightFloats = (long)p.C * p.KPerGroup * taps;
                ph.TapIndex = TapsOf(ph, ConvGeometry.Of(p));
            }
            phases.Add(ph);
        }
        // With every stride 1 there is one phase; it writes dx itself unless it computes outputs to skip.
        return new TransposedByPhases(p, [.. phases], spec.IsUnitStride && !phases.Any(ph => ph.Skips));
    }

    static int[] TapsOf(Phase ph, ConvGeometry g)
    {
        var index = new int[ph.TapsD * ph.TapsH * ph.TapsW];
        int m = 0;
        for (int md = 0; md < ph.TapsD; md++)
        for (int mh = 0; mh < ph.TapsH; mh++)
        for (int mw = 0; mw < ph.TapsW; mw++)
        {
            int td = ph.PhaseD + (ph.TapsD - 1 - md) * g.SD, th = ph.PhaseH + (ph.TapsH - 1 - mh) * g.SH, tw = ph.PhaseW + (ph.TapsW - 1 - mw) * g.SW;
            index[m++] = (td * g.KH + th) * g.KW + tw;
        }
        return index;
    }

    static (int, int, int, int, int, int) Tuple(int[] v) => (v[0], v[1], v[2], v[3], v[4], v[5]);

    static IEnumerable<T[]> Combinations<T>(List<T>[] lists)
    {
        IEnumerable<T[]> acc = [[]];
        foreach (var list in lists)
            acc = acc.SelectMany(prefix => list.Select(item => (T[])[.. prefix, item])).ToList();
        return acc;
    }

    // Blocks of one panel's width: a panel row is written whole at once (blocks of 16 wrote a quarter
    // of each row's cache lines at a time, and every line went to memory and back four times).
    const int Block = ChannelTileKernels.Channels;

    /// <summary>
    /// Writes every phase's sub-kernel in one pass over W: W'[g·Cg + c, k, m…] = W[g·Kg + k, c, tap(m)…]
    /// with tap(m) = φ + (M−1−m)·s per dimension, phase i's to <paramref name="destinations"/>[i] (unused
    /// for phases without taps) — as that plain tensor, or, where <paramref name="panels"/> is set and the
    /// phase's <see cref="Phase.Panels"/>, straight as the channel-tiled kernel's panels
    /// (<see cref="ChannelPanels"/>: 64 of dx's channels per panel row), which spares the sub-run its own
    /// packing pass over the sub-kernel. The phases' taps partition the kernel, so each weight is read
    /// once. Tasks over blocks of 64 channels of a group (one panel): each reads W's rows for those channels
    /// (64 × kernel volume contiguous floats per k; transposed tap-major in the worker's Columns scratch for panels,
    /// kernel volumes padded to a multiple of 16 first; a 1x1 kernel's 64 floats are a panel row as they lie).
    /// </summary>
    public unsafe void TransformWeights(CpuWorkers workers, float* w, nint[] destinations, bool panels)
    {
        var p = Problem;
        int groups = p.Groups, cg = p.CPerGroup, kg = p.KPerGroup, kvol = (int)p.KernelVolume;
        int blocks = (cg + Block - 1) / Block, units = groups * blocks, panelBlocks = ChannelPanels.Blocks(cg);
        int tasks = Math.Min(units, workers.Threads * 4);
        var phases = Phases;
        int padded = Vector512.IsHardwareAccelerated ? (kvol + 15) / 16 * 16 : kvol;
        float* wEnd = w + p.WShape.ElementCount;
        workers.For(tasks, new WeightTasks(phases, w, wEnd, destinations, panels, units, tasks, blocks, panelBlocks, cg, kg, kvol, padded));
    }

    /// <summary>Runs of (group, block of 64 input channels) units: their weights into every phase's sub-kernel.</summary>
    readonly unsafe struct WeightTasks(Phase[] phases, float* w, float* wEnd, nint[] destinations, bool panels, int units, int tasks, int blocks, int panelBlocks, int cg, int kg, int kvol, int padded) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet ws)
        {
            int u0 = (int)((long)units * t / tasks), u1 = (int)((long)units * (t + 1) / tasks);
            float* tapMajor = ws.Get(WorkspaceSlot.Columns, 2L * Block * padded), rowsPadded = tapMajor + (nint)Block * padded;
            for (int u = u0; u < u1; u++)
            {
                int grp = u / blocks, c0 = u % blocks * Block, c1 = Math.Min(cg, c0 + Block), lanes = c1 - c0;

                for (int k = 0; k < kg; k++)
                {
                    float* src = w + ((nint)(grp * kg + k) * cg + c0) * kvol;     // [lanes][kvol]
                    bool transposed = false;
                    for (int i = 0; i < phases.Length; i++)
                    {
                        var ph = phases[i];
                        if (ph.Sub is null) continue;
                        int taps = ph.TapIndex.Length;
                        fixed (int* index = ph.TapIndex)
                        {
                            if (panels && ph.Panels)
                            {
                                // The block's weights tap-major once per k (16 × 16 register transposes), then
                                // panel (group, c / 64) row k·taps + m is tap index[m]'s 64 lanes; lanes past Cg are zero.
                                // A 1x1 kernel's row k is already the panel row: its lanes lie contiguous in W.
                                if (!transposed && kvol > 1)
                                {
                                    TapMajor(src, lanes, kvol, padded, wEnd, tapMajor, rowsPadded);
                                    transposed = true;
                                }
                                float* panel = (float*)destinations[i] + ((nint)grp * panelBlocks + c0 / Block) * Block * (kg * taps);
                                PanelRows(kvol == 1 ? src : tapMajor, index, taps, lanes, panel + (nint)k * taps * Block);
                                continue;
                            }
                            for (int c = c0; c < c1; c++)
                            {
                                float* dst = (float*)destinations[i] + ((nint)(grp * cg + c) * kg + k) * taps;
                                float* sc = src + (nint)(c - c0) * kvol;
                                for (int m = 0; m < taps; m++) dst[m] = sc[index[m]];
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// One k's weights of a block of <paramref name="lanes"/> (≤ 64) channels, tap-major: tapMajor[t · 64 + lane] =
    /// src[lane · kvol + t]. Kernel volumes that are not a multiple of 16 would transpose element by element: those are
    /// transposed as rows padded to a multiple of 16 taps (<paramref name="padded"/>), in 16 × 16 tiles (at W's end, from
    /// a padded copy in <paramref name="rowsPadded"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void TapMajor(float* src, int lanes, int kvol, int padded, float* wEnd, float* tapMajor, float* rowsPadded)
    {
        if (src + (nint)(lanes - 1) * kvol + padded <= wEnd)
            // Reads as wide as the padded row run into the next channel's taps (ignored); never past W.
            BlockTranspose.ToPlanes(src, kvol, lanes, padded, tapMajor, Block, null);
        else if (padded != kvol)
        {
            for (int r = 0; r < lanes; r++)
            {
                float* from = src + (nint)r * kvol, to = rowsPadded + (nint)r * padded;
                for (int v = 0; v < padded; v += 16)
                    if (from + v + 16 <= wEnd) Vector512.Store(Vector512.Load(from + v), to + v);
                    else for (int e = v; e < kvol; e++) to[e] = from[e];
            }
            BlockTranspose.ToPlanes(rowsPadded, padded, lanes, padded, tapMajor, Block, null);
        }
        else BlockTranspose.ToPlanes(src, kvol, lanes, kvol, tapMajor, Block, null);
    }

    /// <summary>
    /// A phase's <paramref name="taps"/> panel rows of one k: row m is tap index[m]'s 64 lanes of
    /// <paramref name="tapMajor"/> (lanes from <paramref name="lanes"/> on zero).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void PanelRows(float* tapMajor, int* index, int taps, int lanes, float* rows)
    {
        for (int m = 0; m < taps; m++)
        {
            float* row = rows + (nint)m * Block;
            float* from = tapMajor + (nint)index[m] * Block;
            if (lanes == Block && Vector512.IsHardwareAccelerated)
            {
                // A whole panel row: four vector copies.
                Vector512.Store(Vector512.Load(from), row);
                Vector512.Store(Vector512.Load(from + 16), row + 16);
                Vector512.Store(Vector512.Load(from + 32), row + 32);
                Vector512.Store(Vector512.Load(from + 48), row + 48);
                continue;
            }
            for (int r = 0; r < lanes; r++) row[r] = from[r];
            for (int r = lanes; r < Block; r++) row[r] = 0f;
        }
    }

    /// <summary>
    /// Writes dx from the phases' outputs (phase i's [N, C, Sub…] at <paramref name="temp"/> + its
    /// <see cref="Phase.TempOffset"/>, less the skipped outputs) into their sub-grids (positions start +
    /// t·stride); phases without taps get the bias (or zero). One pass, plane by plane, every phase of a
    /// plane while the plane is in cache.
    /// </summary>
    public unsafe void Scatter(CpuWorkers workers, float* temp, float* dx, float* bias)
    {
        var p = Problem;
        var g = ConvGeometry.Of(p);
        int planes = p.N * p.C, c = p.C;
        nint inPlane = (nint)g.InD * g.InH * g.InW;
        var phases = Phases;
        int tasks = Math.Min(planes, workers.Threads * 4);
        workers.For(tasks, new ScatterTasks(phases, g, temp, dx, bias, planes, tasks, c, inPlane));
    }

    /// <summary>Ranges of dx planes: every phase's outputs (or the bias) into them.</summary>
    readonly unsafe struct ScatterTasks(Phase[] phases, ConvGeometry g, float* temp, float* dx, float* bias, int planes, int tasks, int c, nint inPlane) : ICpuLoop
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int t, WorkspaceSet _)
        {
            int p0 = (int)((long)planes * t / tasks), p1 = (int)((long)planes * (t + 1) / tasks);
            for (int pl = p0; pl < p1; pl++)
            {
                float fill = bias == null ? 0f : bias[pl % c];
                float* plane = dx + pl * inPlane;
                foreach (var ph in phases)
                {
                    float* src = ph.Sub is null ? null : temp + ph.TempOffset + pl * ph.SubOutputs;
                    for (int td = 0; td < ph.CountD; td++)
                    for (int th = 0; th < ph.CountH; th++)
                    {
                        float* row = plane + ((nint)(ph.StartD + td * g.SD) * g.InH + ph.StartH + th * g.SH) * g.InW + ph.StartW;
                        int n = ph.CountW, sw = g.SW;
                        if (src == null)
                        {
                            for (int tw = 0; tw < n; tw++) row[tw * sw] = fill;
                            continue;
                        }
                        float* s = src + ((nint)(ph.SkipD + td) * ph.SubH + ph.SkipH + th) * ph.SubW + ph.SkipW;
                        if (sw == 1) new ReadOnlySpan<float>(s, n).CopyTo(new Span<float>(row, n));
                        else for (int tw = 0; tw < n; tw++) row[tw * sw] = s[tw];
                    }
                }
            }
        }
    }
}
