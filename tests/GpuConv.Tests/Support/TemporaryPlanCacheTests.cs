using GpuConv.Conv;
using GpuConv.Planning;
using GpuConv.Tensors;

namespace GpuConv.Tests.Support;

public class TemporaryPlanCacheTests
{
    [Test]
    public void TheDefaultPlanCacheIsATemporaryFile()
    {
        string? resolved = PlanCache.ResolvePath(null);
        Assert.That(resolved, Is.Not.Null.And.EqualTo(TemporaryPlanCache.PathInUse));
        Assert.That(Path.GetFullPath(resolved!), Does.StartWith(Path.GetFullPath(Path.GetTempPath())));
        var perUser = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        if (!string.IsNullOrEmpty(perUser))
            Assert.That(Path.GetFullPath(resolved!), Does.Not.StartWith(Path.GetFullPath(perUser)), "tests must not touch the per-user cache");
    }

    [Test]
    public void AnEngineOpenedWithoutACachePathWritesOnlyTheTemporaryFile()
    {
        using (var engine = ConvEngine.Open(new ConvEngineOptions { Backend = "cpu" }))
        {
            var p = ConvProblem.Create(new ConvSpec([3]), new TensorShape(1, 2, 9), new TensorShape(3, 2, 3));
            engine.GetPlan(p);
        }
        Assert.That(File.Exists(TemporaryPlanCache.PathInUse), Is.True, "the plan went to the temporary cache");
    }
}
