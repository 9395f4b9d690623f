using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Concat;

/// <summary>
/// On a GPU host: Concat, Narrow and Split on a device engine (kernels/strided_copy.ptx through cuLaunchKernel on the
/// engine's stream) against the CPU engine bit for bit, ranks 2–5 and every dim; a U-Net decoder step that keeps its
/// activations on the device (skip join, convolution, gradient split); a tensor of another engine refused. Skipped with
/// discovery's reason when no GPU is usable. Under the native fakes the kernel runs in the PTX interpreter, so there this
/// proves the launches (arguments, pointers, stream order), not the device.
/// </summary>
[TestFixture, Category("Gpu"), NonParallelizable]
public class ConcatGpuTests : GpuAgainstCpuEngines
{
    public static IEnumerable<TestCaseData> Cases()
    {
        for (int rank = 2; rank <= 5; rank++)
            for (int dim = 0; dim < rank; dim += rank == 5 ? 2 : 1)
                yield return new TestCaseData(rank, dim).SetArgDisplayNames($"rank {rank}, dim {dim}");
    }

    [TestCaseSource(nameof(Cases))]
    public void ConcatNarrowAndSplitMatchTheCpuEngine(int rank, int dim)
    {
        Assert.That(gpu.Memory.Kind, Is.EqualTo(MemoryKind.Device));
        var rng = new Random(300 + rank * 10 + dim);
        var xs = ConcatReference.RandomInputs(rank, dim, 1 + (rank + dim) % 4, rng);
        var onDevice = xs.Select(gpu.Upload).ToArray();
        try
        {
            using var y = gpu.Concat(onDevice, dim - rank);
            var cy = cpu.Concat(xs, dim);
            Assert.That(Bits(gpu.Download(y).Data), Is.EqualTo(Bits(cpu.Download(cy).Data)), "concat");
            int size = y.Shape[dim], start = rng.Next(size), length = rng.Next(1, size - start + 1);
            using (var n = gpu.Narrow(y, dim, start - size, length))
                Assert.That(Bits(gpu.Download(n).Data), Is.EqualTo(Bits(cpu.Download(cpu.Narrow(cy, dim, start, length)).Data)), $"narrow [{start}, +{length})");
            var parts = gpu.Split(y, dim, [.. xs.Select(x => (long)x.Shape[dim])]);
            for (int i = 0; i < parts.Length; i++)
            {
                Assert.That(Bits(gpu.Download(parts[i]).Data), Is.EqualTo(Bits(xs[i].Data)), $"part {i}");
                ((IDisposable)parts[i]).Dispose();
            }
            // The same parts into tensors the caller holds, written over other data.
            var given = xs.Select(x => gpu.Upload(ConcatReference.Random(x.Shape, rng))).ToArray();
            try
            {
                gpu.SplitInto(y, dim - rank, given);
                for (int i = 0; i < given.Length; i++)
                    Assert.That(Bits(gpu.Download(given[i]).Data), Is.EqualTo(Bits(xs[i].Data)), $"SplitInto part {i}");
            }
            finally
            {
                foreach (var t in given) ((IDisposable)t).Dispose();
            }
        }
        finally
        {
            foreach (var t in onDevice) ((IDisposable)t).Dispose();
        }
    }

    /// <summary>A U-Net decoder step on the device: join the upsampled path with the skip, a 3x3 convolution, and the join's gradient split back.</summary>
    [Test]
    public void AUNetSkipJoinStaysOnTheDevice()
    {
        var rng = new Random(42);
        var up = ConcatReference.Random(new TensorShape(2, 4, 6, 6), rng);
        var skip = ConcatReference.Random(new TensorShape(2, 3, 6, 6), rng);
        var w = ConcatReference.Random(new TensorShape(5, 7, 3, 3), rng);
        var spec = new GpuConv.Conv.ConvSpec([3, 3], padBegin: [1, 1], padEnd: [1, 1]);
        using var gup = gpu.Upload(up);
        using var gskip = gpu.Upload(skip);
        using var gw = gpu.Upload(w);
        using var joined = gpu.Concat([gup, gskip]);
        using var y = gpu.Forward(spec, joined, gw);
        using var dy = gpu.Upload(ConcatReference.Random(y.Shape, rng));
        using var djoined = gpu.BackwardData(spec, dy, gw, joined.Shape);
        var grads = gpu.Split(djoined, 1, [4, 3]);
        var cjoined = cpu.Concat([up, skip]);
        var cdjoined = cpu.BackwardData(spec, cpu.Upload(gpu.Download(dy)), w, cjoined.Shape);
        Assert.That(Bits(gpu.Download(joined).Data), Is.EqualTo(Bits(cpu.Download(cjoined).Data)), "the join");
        Assert.That(Bits(gpu.Download(grads[0]).Data), Is.EqualTo(Bits(gpu.Download(gpu.Narrow(djoined, 1, 0, 4)).Data)), "up's gradient");
        Assert.That(Bits(gpu.Download(grads[1]).Data), Is.EqualTo(Bits(gpu.Download(gpu.Narrow(djoined, 1, 4, 3)).Data)), "skip's gradient");
        var e = ErrorMetrics.Compare(gpu.Download(djoined).Data, [.. cpu.Download(cdjoined).Data.Select(v => (double)v)]);
        Assert.That(e.MaxRelative, Is.LessThan(1e-4), $"the join's gradient as the CPU's: {e}");
    }

    [Test]
    public void ATensorOfAnotherEngineIsRefused()
    {
        using var other = ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Gpu, PersistPlans = false });
        using var foreign = other.Upload(HostTensor.Random(new TensorShape(1, 2, 4), 1));
        using var own = gpu.Upload(HostTensor.Random(new TensorShape(1, 2, 4), 2));
        var e = Assert.Throws<ArgumentException>(() => gpu.Concat([own, foreign]))!;
        Assert.That(e.ParamName, Is.EqualTo("inputs[1]"));
        Assert.That(e.Message, Does.Contain("belongs to another engine"));
        e = Assert.Throws<ArgumentException>(() => gpu.Narrow(foreign, 1, 0, 1))!;
        Assert.That(e.ParamName, Is.EqualTo("x"));
    }
}
