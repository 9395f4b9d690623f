using GpuConv.Backends;
using GpuConv.Planning;
using GpuConv.Tensors;

namespace GpuConv.Tests.Planning;

/// <summary>
/// A candidate the library refuses at run time (cuDNN's NOT_SUPPORTED / BAD_PARAM / EXECUTION_FAILED
/// from the convolution call) is handled like one whose workspace cannot be allocated: next candidate,
/// remembered for the key in memory and in the cache.
/// </summary>
public class PlannerFallbackTests
{
    [Test]
    public void Execute_ADeclinedAlgorithm_FallsBackToTheNextAndSaysWhy()
    {
        var be = new FakeBackend("be", 1).With("listed-but-refused", declinedAtRunTime: true).With("works");
        var planner = new Planner([be], Problems.Options(PlanPolicy.Heuristic), new PlanCache(null), _ => { });
        var problem = Problems.Small();
        var tensors = Tensors(problem);

        var ran = planner.Execute(problem, (p, b) => b.Run(problem, p.Algorithm, tensors));

        Assert.That(ran.Algorithm.Name, Is.EqualTo("works"));
        Assert.That(ran.Source, Is.EqualTo(PlanSource.Fallback));
        Assert.That(ran.Why, Does.Contain("be/listed-but-refused declined at run time: CUDNN_STATUS_NOT_SUPPORTED"));
        Assert.That(be.RunCalls, Is.EqualTo(new Dictionary<string, int> { ["listed-but-refused"] = 1, ["works"] = 1 }));
    }

    [Test]
    public void Execute_ADeclinedAlgorithm_IsNotRetriedAfterARestart()
    {
        var be = new FakeBackend("be", 1).With("refused", declinedAtRunTime: true).With("works");
        var cache = new PlanCache(null);
        var problem = Problems.Small();
        var tensors = Tensors(problem);
        new Planner([be], Problems.Options(PlanPolicy.Cached), cache, _ => { }).Execute(problem, (p, b) => b.Run(problem, p.Algorithm, tensors));

        var restarted = new Planner([be], Problems.Options(PlanPolicy.Cached), cache, _ => { });
        restarted.Execute(problem, (p, b) => b.Run(problem, p.Algorithm, tensors));

        Assert.That(be.RunCalls["refused"], Is.EqualTo(1));
        Assert.That(restarted.GetPlan(problem).Algorithm.Name, Is.EqualTo("works"));
    }

    [Test]
    public void Execute_WhenEveryCandidateIsDeclined_ThrowsNamingThemAll()
    {
        var be = new FakeBackend("be", 1).With("a", declinedAtRunTime: true).With("b", failsAllocation: true);
        var planner = new Planner([be], Problems.Options(PlanPolicy.Heuristic), new PlanCache(null), _ => { });
        var problem = Problems.Small();
        var tensors = Tensors(problem);
        var e = Assert.Throws<InvalidOperationException>(() => planner.Execute(problem, (p, b) => b.Run(problem, p.Algorithm, tensors)));
        Assert.That(e!.Message, Does.Contain("be/a").And.Contain("be/b"));
        Assert.That(e.InnerException, Is.InstanceOf<CandidateUnavailableException>());
    }

    [Test]
    public void Exhaustive_ADeclinedCandidateIsMarkedFailedWithTheStatusAndNotTimedAgain()
    {
        var be = new FakeBackend("be", 1).With("fast-but-refused", 0.1, declinedAtRunTime: true).With("slow", 5);
        var planner = new Planner([be], Problems.Options(PlanPolicy.Exhaustive), new PlanCache(null), _ => { });
        var first = planner.Explain(Problems.Small());
        Assert.That(first.Chosen!.Algorithm.Name, Is.EqualTo("slow"));
        var row = first.Rows.Single(r => r.Algorithm == "fast-but-refused");
        Assert.That(row.Status, Is.EqualTo(CandidateStatus.Failed));
        Assert.That(row.Reason, Does.Contain("declined at run time: CUDNN_STATUS_NOT_SUPPORTED"));
        int tries = be.TimeCalls("fast-but-refused");
        var second = planner.Explain(Problems.Small());
        Assert.That(be.TimeCalls("fast-but-refused"), Is.EqualTo(tries), "not timed again");
        Assert.That(second.Rows.Single(r => r.Algorithm == "fast-but-refused").Reason, Does.Contain("run-time refusal"));
    }

    [Test]
    public void ADeclineIsACandidateFailureNotAnError()
    {
        CandidateUnavailableException declined = new AlgorithmDeclinedException("cudnn/FFT", "CUDNN_STATUS_EXECUTION_FAILED");
        CandidateUnavailableException workspace = new WorkspaceAllocationException("cudnn/GEMM", 4096);
        Assert.That(declined.Reason, Is.EqualTo("declined at run time: CUDNN_STATUS_EXECUTION_FAILED"));
        Assert.That(declined.Algorithm, Is.EqualTo("cudnn/FFT"));
        Assert.That(workspace.Reason, Is.EqualTo("could not allocate 4096 B of workspace"));
    }

    internal static ConvTensors Tensors(GpuConv.Conv.ConvProblem p) =>
        new(HostTensor.Random(p.XShape, 1), HostTensor.Random(p.WShape, 2), new HostTensor(p.YShape));
}
