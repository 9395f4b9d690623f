using GpuConv.Backends;
using GpuConv.Conv;
using GpuConv.Cpu;
using GpuConv.Cpu.ChannelTiled;
using GpuConv.Cpu.Gemm;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Backends;

/// <summary>
/// How channel-tiled cuts a layer into pixel ranges and runs (<see cref="ChannelTiledConv.Split"/>,
/// <see cref="ChannelTiledConv.RangeStart"/>): ranges of whole tiles covering the plane, few uneven units cut finer on
/// several threads, and the layers so cut against float64 and bit for bit against one thread.
/// </summary>
public class ChannelTiledSplitTests
{
    const int Tile = ChannelTileKernels.MaxPixels, Width = ChannelTileKernels.Channels;

    [Test]
    public void RangesCoverThePlaneInWholeTilesDifferingByATileAtMost()
    {
        foreach (int plane in new[] { 1, 5, 6, 7, 13, 49, 100, 196, 784, 3136, 12544 })
            for (int splits = 1; splits <= Math.Min(60, (plane + Tile - 1) / Tile); splits++)
            {
                Assert.That(ChannelTiledConv.RangeStart(0, splits, plane), Is.Zero);
                Assert.That(ChannelTiledConv.RangeStart(splits, splits, plane), Is.EqualTo(plane), $"{plane} in {splits}");
                var sizes = new List<int>();
                for (int s = 0; s < splits; s++)
                {
                    int q0 = ChannelTiledConv.RangeStart(s, splits, plane), q1 = ChannelTiledConv.RangeStart(s + 1, splits, plane);
                    Assert.That(q0 % Tile, Is.Zero, $"{plane} in {splits}: range {s} starts inside a tile");
                    Assert.That(q1, Is.GreaterThan(q0), $"{plane} in {splits}: range {s} is empty");
                    sizes.Add(q1 - q0);
                }
                // Whole ranges differ by a tile at most; the last one also holds the plane's partial tile.
                var whole = sizes.Take(splits - 1).Append(sizes[^1] + (plane % Tile == 0 ? 0 : Tile - plane % Tile)).ToList();
                Assert.That(whole.Max() - whole.Min(), Is.LessThanOrEqualTo(Tile), $"{plane} in {splits}: {string.Join(", ", sizes)}");
            }
    }

    /// <summary>
    /// The finish of the slowest of <paramref name="threads"/> equally fast threads over the even share (1: perfectly
    /// balanced), the runs claimed as CpuWorkers hands them out: each thread its own range of runs first
    /// ([p·runs/P, (p+1)·runs/P)), then the next unclaimed run of the others' ranges; a run costs its channels ×
    /// pixels. At equal times the thread owning a run claims it before a thief does.
    /// </summary>
    static double Makespan(int plane, int k, int threads)
    {
        int blocks = (k + Width - 1) / Width;
        var (splits, cap) = ChannelTiledConv.Split(plane, 1, blocks, k, threads);
        int units = blocks * splits, runs = Math.Min(units, cap);
        double Cost(int t)
        {
            double c = 0;
            for (int u = (int)((long)units * t / runs); u < (int)((long)units * (t + 1) / runs); u++)
            {
                int s = u % splits, kb = u / splits;
                c += (double)Math.Min(Width, k - kb * Width) * (ChannelTiledConv.RangeStart(s + 1, splits, plane) - ChannelTiledConv.RangeStart(s, splits, plane));
            }
            return c;
        }
        var next = Enumerable.Range(0, threads).Select(p => (int)((long)runs * p / threads)).ToArray();
        var time = new double[threads];
        var done = new bool[threads];
        double total = Enumerable.Range(0, runs).Sum(Cost);
        while (!done.All(d => d))
        {
            // The earliest thread still looking claims next (ties: the highest index, so an owner beats a thief to its run).
            int p = Enumerable.Range(0, threads).Where(i => !done[i]).OrderBy(i => time[i]).ThenByDescending(i => i).First();
            int claimed = -1;
            for (int j = 0; j < threads && claimed < 0; j++)
            {
                int owner = (p + j) % threads, end = (int)((long)runs * (owner + 1) / threads);
                if (next[owner] < end) claimed = next[owner]++;
            }
            if (claimed < 0) done[p] = true;
            else time[p] += Cost(claimed);
        }
        return time.Max() / (total / threads);
    }

    /// <summary>
    /// MobileNetV2's 1x1 layers whose units did not share evenly between two threads (5 blocks of 64 on 7 × 7: one
    /// thread ran 3, the other 2; 64 + 32 channels on 14 × 14: the one with the 64 ran twice the other's work; 9 blocks
    /// and 64 + 64 + 32 channels): within 12 % of even now (they were 1.2–1.33), in no more ranges than 4-tile pieces
    /// of the plane would make.
    /// </summary>
    [TestCase(49, 320)]
    [TestCase(196, 96)]
    [TestCase(196, 576)]
    [TestCase(49, 160)]
    public void FewUnevenUnitsShareEvenlyOnTwoThreads(int plane, int k)
    {
        Assert.That(Makespan(plane, k, 2), Is.LessThan(1.12), $"{plane} pixels, K = {k}");
        var (splits, _) = ChannelTiledConv.Split(plane, 1, (k + Width - 1) / Width, k, 2);
        Assert.That(splits, Is.LessThanOrEqualTo((plane + 4 * Tile - 1) / (4 * Tile)));
    }

    /// <summary>Units that already share evenly, and one thread, keep the cut from before: no extra ranges.</summary>
    [TestCase(196, 384, 2, 1)]   // 6 whole blocks on two threads
    [TestCase(49, 960, 2, 1)]    // 15 blocks: enough runs to balance
    [TestCase(196, 64, 2, 4)]    // one block: 4 ranges of about 49 pixels
    [TestCase(49, 320, 1, 1)]
    [TestCase(196, 96, 1, 1)]
    [TestCase(12544, 96, 2, 49)]
    public void EvenOrSingleThreadLayersKeepTheirCut(int plane, int k, int threads, int expectedSplits)
    {
        var (splits, cap) = ChannelTiledConv.Split(plane, 1, (k + Width - 1) / Width, k, threads);
        Assert.That(splits, Is.EqualTo(expectedSplits));
        Assert.That(cap, Is.EqualTo(2 * ConvTiling.TasksPerThread * threads));
    }

    /// <summary>
    /// The layers cut finer on two threads (1x1 in place, and a padded 3x3 whose whole-image tasks take the same ranges)
    /// against float64, and bit for bit equal to one thread's result (each output's sum runs in the same order
    /// whatever range holds it).
    /// </summary>
    [TestCase(576, 14, 96, 1, 0)]
    [TestCase(960, 7, 320, 1, 0)]
    [TestCase(960, 7, 160, 1, 0)]
    [TestCase(96, 14, 576, 1, 0)]
    [TestCase(384, 14, 64, 1, 0)]
    [TestCase(40, 7, 96, 3, 1)]
    public void CutLayersMatchReferenceAndOneThreadBits(int c, int hw, int k, int kernel, int pad)
    {
        ChannelTileTier.RequireOffered(CpuBackend.ChannelTiled, ConvProblem.Create(new ConvSpec([3, 3], [1], [1], [1]),
            new TensorShape(1, 16, 5, 5), new TensorShape(64, 16, 3, 3)));
        var p = ConvProblem.Create(new ConvSpec([kernel, kernel], [1], [1], [pad]), new TensorShape(1, c, hw, hw), new TensorShape(k, c, kernel, kernel));
        var (x, w, bias) = (HostTensor.Random(p.XShape, 11), HostTensor.Random(p.WShape, 12), HostTensor.Random(new TensorShape(k), 13));
        double[] expected = ReferenceConv.Run(p, x.Data, w.Data, new float[p.YShape.ElementCountInt], bias.Data);
        float[] Run(int threads)
        {
            using var cpu = new CpuBackend(threads);
            var algo = cpu.GetAlgorithms(p, ConvPrecision.Strict).Single(a => a.Name == CpuBackend.ChannelTiled);
            var y = new HostTensor(p.YShape);
            Array.Fill(y.Data, float.NaN);
            for (int run = 0; run < 3; run++) cpu.Run(p, algo, new ConvTensors(x, w, y, bias) { ConstantWeights = true });
            return y.Data;
        }
        var two = Run(2);
        var err = ErrorMetrics.Compare(two, expected);
        Assert.That(err.MaxRelative, Is.LessThan(1e-5), $"{p} on two threads: {err}");
        Assert.That(two, Is.EqualTo(Run(1)), $"{p}: two threads' bits against one thread's");
    }
}
