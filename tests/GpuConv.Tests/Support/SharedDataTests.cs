namespace GpuConv.Tests.Support;

public class SharedDataTests
{
    [Test]
    public void RepositoryRootHoldsTheSolution()
    {
        var root = SharedData.RepositoryRoot();
        Assert.That(root, Is.Not.Null, "GpuConv.sln not found above the test assembly");
        Assert.That(File.Exists(Path.Combine(root!, "GpuConv.sln")), Is.True);
    }

    [Test]
    public void EnvironmentVariableTakesPrecedence()
    {
        var temp = Directory.CreateTempSubdirectory("gpuconv-shared-");
        var saved = Environment.GetEnvironmentVariable(SharedData.EnvironmentVariable);
        try
        {
            Directory.CreateDirectory(Path.Combine(temp.FullName, "probe"));
            Environment.SetEnvironmentVariable(SharedData.EnvironmentVariable, temp.FullName);
            Assert.That(SharedData.Find("probe", out var lookedIn), Is.EqualTo(Path.Combine(temp.FullName, "probe")));
            Assert.That(lookedIn, Does.Contain(temp.FullName));
            Assert.That(SharedData.Find("no-such-folder-here", out lookedIn), Is.Null);
            Assert.That(lookedIn, Does.Contain("no-such-folder-here"));
        }
        finally
        {
            Environment.SetEnvironmentVariable(SharedData.EnvironmentVariable, saved);
            temp.Delete(recursive: true);
        }
    }
}
