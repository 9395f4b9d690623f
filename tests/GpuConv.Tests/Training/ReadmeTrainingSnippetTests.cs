using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Training;

/// <summary>
/// The training-step snippet in README.md's library section, kept here so it cannot silently break: it runs, the loss
/// falls, and the updates of W and b it makes match the same ten SGD steps computed in float64 by the reference
/// (max relative error of the summed update below 1e-4: ten fp32 steps, each within ~1e-6 of the reference).
/// </summary>
public class ReadmeTrainingSnippetTests
{
    [Test]
    public void TrainingSnippet_LowersTheLossWithTheReferenceUpdates()
    {
        var w0 = HostTensor.Random(new TensorShape(16, 16, 3, 3), seed: 2).Data;

        // --- README snippet (keep identical; TheSnippetIsTheOneInTheReadme checks) ---
        using var engine = ConvEngine.Open();
        var spec = new ConvSpec(kernel: [3, 3], padBegin: [1]);               // y = F.conv2d(x, W, b, padding=1)
        var xShape = new TensorShape(4, 16, 16, 16);
        var wShape = new TensorShape(16, 16, 3, 3);
        float[] W = HostTensor.Random(wShape, seed: 2).Data, b = new float[16];
        using var x = engine.Upload(HostTensor.Random(xShape, seed: 1));
        using var minusT = engine.Upload(HostTensor.Random(xShape, seed: 3)); // the target t …
        engine.Scale(minusT, -1f, output: minusT);                             // … negated once, in place
        using var w = engine.Upload(W, wShape);
        using var bias = engine.Upload(b, new TensorShape(16));
        using var y = engine.Allocate(xShape);
        using var dy = engine.Allocate(xShape);
        using var dx = engine.Allocate(xShape);                                // for the layer below, if any
        using var dw = engine.Allocate(wShape);
        using var db = engine.Allocate(bias.Shape);
        const float lr = 3e-5f;
        for (int step = 0; step < 10; step++)                                  // no host copy inside the loop
        {
            engine.Forward(spec, x, w, bias, output: y);                      // constantWeights: false, W changes
            engine.Add(y, minusT, output: dy);                                 // loss = ½‖y − t‖², dL/dy = y − t
            engine.BackwardData(spec, dy, w, xShape, output: dx);             // dL/dx in x's shape
            engine.BackwardFilter(spec, x, dy, wShape, output: dw);           // dL/dW in W's layout (overwritten)
            engine.BackwardBias(dy, output: db);                               // dL/db, [16]
            engine.AddScaled(w, -lr, dw);                                      // optimizer.step(): W -= lr·dW
            engine.AddScaled(bias, -lr, db);                                   //                   b -= lr·db
        }
        engine.Download(w, W);                                                 // the trained weights, once
        engine.Download(bias, b);
        // --- end of snippet ---

        // The same ten steps in float64: the reference's gradients of its own weights.
        var target = HostTensor.Random(xShape, seed: 3).Data;
        var problem = ConvProblem.Create(spec, xShape, wShape);
        var xs = HostTensor.Random(xShape, seed: 1).Data;
        var rw = w0.Select(v => (double)v).ToArray();
        var rb = new double[16];
        double Loss(double[] weights, double[] biases, out float[] residual)
        {
            var wf = weights.Select(v => (float)v).ToArray();
            var yr = ReferenceConv.Forward(problem, xs, wf, biases.Select(v => (float)v).ToArray());
            residual = new float[yr.Length];
            double sum = 0;
            for (int i = 0; i < yr.Length; i++) { double d = yr[i] - target[i]; residual[i] = (float)d; sum += 0.5 * d * d; }
            return sum;
        }
        double first = Loss(rw, rb, out _);
        for (int step = 0; step < 10; step++)
        {
            Loss(rw, rb, out var residual);
            var gw = ReferenceConv.BackwardFilter(problem, xs, residual);
            var gb = ReferenceConv.BiasGradient(xShape, residual);
            for (int i = 0; i < rw.Length; i++) rw[i] -= lr * gw[i];
            for (int i = 0; i < rb.Length; i++) rb[i] -= lr * gb[i];
        }
        double last = Loss(W.Select(v => (double)v).ToArray(), b.Select(v => (double)v).ToArray(), out _);
        Assert.That(last, Is.LessThan(0.9 * first), $"loss {first} -> {last} in ten steps");

        var update = W.Select((v, i) => v - w0[i]).ToArray();
        var referenceUpdate = rw.Select((v, i) => v - w0[i]).ToArray();
        double wError = ErrorMetrics.Compare(update, referenceUpdate).MaxRelative, bError = ErrorMetrics.Compare(b, rb).MaxRelative;
        TestContext.Out.WriteLine($"loss {first:G6} -> {last:G6}; update error against float64: W {wError:E2}, b {bError:E2}");
        Assert.That(wError, Is.LessThan(1e-4), "W's update");
        Assert.That(bError, Is.LessThan(1e-4), "b's update");
    }

    [Test]
    public void TheSnippetIsTheOneInTheReadme()
    {
        var root = SharedData.RepositoryRoot();
        if (root is null) Assert.Ignore($"no repository above {AppContext.BaseDirectory} (a packed test run): no README to compare");
        var readme = File.ReadAllText(Path.Combine(root!, "README.md"));
        var source = File.ReadAllText(Path.Combine(root!, "tests", "GpuConv.Tests", "Training", "ReadmeTrainingSnippetTests.cs"));
        const string Begin = "// --- README snippet (keep identical; TheSnippetIsTheOneInTheReadme checks) ---\n", End = "        // --- end of snippet ---";
        int from = source.IndexOf(Begin, StringComparison.Ordinal) + Begin.Length;
        var lines = source[from..source.IndexOf(End, from, StringComparison.Ordinal)].Split('\n')
            .Select(l => l.Length >= 8 ? l[8..] : l.Trim());
        var snippet = string.Join("\n", lines).TrimEnd();
        Assert.That(readme.Replace("\r\n", "\n"), Does.Contain("```csharp\n" + snippet + "\n```"));
    }
}
