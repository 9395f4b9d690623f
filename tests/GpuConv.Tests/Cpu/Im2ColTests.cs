using GpuConv.Conv;
using GpuConv.Cpu.Columns;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// Im2Col defines the column layout of every GEMM path: forward through it and a naive GEMM must be
/// the reference forward, and its Backward must be its adjoint. Grid inputs (2^-10) keep the float32
/// column sums of Backward exact, so both checks hold to float64 rounding (1e-12 relative).
/// </summary>
public class Im2ColTests
{
    public static IEnumerable<TestCaseData> Cases() =>
        ConvCases.All().Select(c => new TestCaseData(c).SetArgDisplayNames(c.Name));

    [TestCaseSource(nameof(Cases))]
    public void Im2ColThenGemmEqualsReferenceForward(ConvCase c)
    {
        var p = c.Problem;
        var x = TestData.Grid(p.XShape.ElementCount, 31);
        var w = TestData.Grid(p.WShape.ElementCount, 32);
        int rows = (int)Im2Col.Rows(p), cols = (int)Im2Col.Cols(p);
        Assert.That(rows, Is.EqualTo(p.CPerGroup * (int)p.KernelVolume));
        Assert.That(cols, Is.EqualTo((int)p.YShape.SpatialSize));
        var col = new float[rows * cols];
        var y = new double[p.YShape.ElementCount];
        for (int n = 0; n < p.N; n++)
        for (int g = 0; g < p.Groups; g++)
        {
            Im2Col.Forward(p, x, n, g, col);
            // Y[n, g] (K/g × cols) = W[g] (K/g × rows) · col (rows × cols)
            for (int kl = 0; kl < p.KPerGroup; kl++)
            {
                int k = g * p.KPerGroup + kl;
                for (int j = 0; j < cols; j++)
                {
                    double sum = 0;
                    for (int r = 0; r < rows; r++)
                        sum += (double)w[k * rows + r] * col[r * cols + j];
                    y[((long)n * p.K + k) * cols + j] = sum;
                }
            }
        }
        var reference = ReferenceConv.Forward(p, x, w);
        double scale = TestData.MaxAbs(reference);
        Assert.That(scale, Is.GreaterThan(0));
        for (int i = 0; i < y.Length; i++)
            Assert.That(y[i], Is.EqualTo(reference[i]).Within(1e-12 * scale), $"y[{i}]");
    }

    [TestCaseSource(nameof(Cases))]
    public void Col2ImIsAdjointOfIm2Col(ConvCase c)
    {
        var p = c.Problem;
        var x = TestData.Grid(p.XShape.ElementCount, 41);
        int size = (int)(Im2Col.Rows(p) * Im2Col.Cols(p));
        var col = new float[size];
        var dx = new float[p.XShape.ElementCount];
        double lhs = 0, rhs = 0;
        int seed = 100;
        for (int n = 0; n < p.N; n++)
        for (int g = 0; g < p.Groups; g++)
        {
            var c2 = TestData.Grid(size, seed++);
            Im2Col.Forward(p, x, n, g, col);
            for (int i = 0; i < size; i++) lhs += (double)col[i] * c2[i];
            Array.Fill(dx, float.NaN); // Backward must overwrite its slice, not accumulate into it
            Im2Col.Backward(p, c2, n, g, dx);
            long plane = p.XShape.SpatialSize;
            long begin = ((long)n * p.C + g * p.CPerGroup) * plane, end = begin + p.CPerGroup * plane;
            for (long i = begin; i < end; i++)
            {
                Assert.That(float.IsNaN(dx[i]), Is.False, $"dx[{i}] not written (n {n}, group {g})");
                rhs += (double)dx[i] * x[i];
            }
            // Everything outside image n, group g stays untouched.
            Assert.That(dx.Take((int)begin).Concat(dx.Skip((int)end)).All(float.IsNaN), Is.True, $"Backward wrote outside image {n}, group {g}");
        }
        Assert.That(lhs, Is.EqualTo(rhs).Within(1e-12 * Math.Max(1, Math.Abs(lhs))), "<im2col(x), c> vs <x, col2im(c)>");
    }

    [Test]
    public void ColumnLayoutOfATinyCase()
    {
        // x = 1..9 in a 3x3 image, kernel 2x2, no padding: rows are the 4 taps, cols the 4 output positions.
        var p = ConvProblem.Create(new ConvSpec([2, 2]), new TensorShape(1, 1, 3, 3), new TensorShape(1, 1, 2, 2));
        float[] x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        var col = new float[16];
        Im2Col.Forward(p, x, 0, 0, col);
        Assert.That(col, Is.EqualTo(new float[]
        {
            1, 2, 4, 5,   // tap (0,0)
            2, 3, 5, 6,   // tap (0,1)
            4, 5, 7, 8,   // tap (1,0)
            5, 6, 8, 9,   // tap (1,1)
        }));
    }

    [Test]
    public void PaddingTapsAreZero()
    {
        var p = ConvProblem.Create(new ConvSpec([3], padBegin: [1]), new TensorShape(1, 1, 2), new TensorShape(1, 1, 3));
        float[] x = [5, 7];
        var col = new float[3 * 2];
        Im2Col.Forward(p, x, 0, 0, col);
        Assert.That(col, Is.EqualTo(new float[] { 0, 5, 5, 7, 7, 0 }));
    }
}
