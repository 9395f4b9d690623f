using System.Diagnostics;
using GpuConv.Cpu.Elementwise;
using GpuConv.Cpu.Threading;

namespace GpuConv.Tests.Cpu;

/// <summary>
/// ParallelElementwise's struct loop on shared workers: several callers at once, each with its own operands and ops,
/// interleaved with other loop types on the same workers. Every chunk must be computed once, from this call's
/// operands: the result is compared bit for bit with one loop over the whole tensor (CpuElementwise.Run).
/// </summary>
public class ParallelElementwiseConcurrencyTests
{
    static readonly ElementwiseOp[] Ops = [ElementwiseOp.Add, ElementwiseOp.Relu, ElementwiseOp.ReluBackward, ElementwiseOp.Relu6,
        ElementwiseOp.Relu6Backward, ElementwiseOp.Silu, ElementwiseOp.SiluBackward, ElementwiseOp.Scale, ElementwiseOp.AddScaled];

    [TestCase(2, 3), TestCase(5, 2), TestCase(8, 3)]
    public void ConcurrentCallsGiveTheBitsOfOneSerialLoop(int threads, int callers) => CpuWorkersConcurrencyTests.WithinLimit(() =>
    {
        using var workers = new CpuWorkers(threads);
        var parallel = new ParallelElementwise(workers);
        var clock = Stopwatch.StartNew();
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var callerThreads = Enumerable.Range(0, callers).Select(c => new Thread(() =>
        {
            try
            {
                var random = new Random(17 + c);
                for (int call = 0; clock.Elapsed < TimeSpan.FromSeconds(1) || call < 20; call++)
                {
                    int n = ParallelElementwise.MinParallelElements + random.Next(5000);
                    var a = Enumerable.Range(0, n).Select(_ => random.NextSingle() * 16 - 8).ToArray();
                    var b = Enumerable.Range(0, n).Select(_ => random.NextSingle() * 16 - 8).ToArray();
                    var op = Ops[(call + c) % Ops.Length];
                    float alpha = 0.5f + c;
                    var expected = new float[n];
                    CpuElementwise.Run(op, a, b, alpha, expected);
                    var output = new float[n];
                    Array.Fill(output, float.NaN);      // an unwritten chunk stays NaN
                    parallel.Run(op, a, b, alpha, output);
                    for (int i = 0; i < n; i++)
                        if (BitConverter.SingleToInt32Bits(output[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                            throw new Exception($"caller {c}, call {call} ({op}, n = {n}): element {i} is {output[i]}, one loop gives {expected[i]}");
                    // Another loop type on the same workers between the element-wise calls.
                    var hits = new int[3 * threads];
                    workers.For(hits.Length, (i, _) => Interlocked.Increment(ref hits[i]));
                    if (hits.Any(h => h != 1)) throw new Exception($"caller {c}, call {call}: a delegate loop's task ran {string.Join(",", hits)} times");
                }
            }
            catch (Exception e) { errors.Enqueue(e.Message); }
        }) { IsBackground = true }).ToList();
        callerThreads.ForEach(t => t.Start());
        callerThreads.ForEach(t => t.Join());
        Assert.That(errors, Is.Empty);
    });
}
