namespace GpuConv.Tests.Support;

/// <summary>Asserts a bad-input error: an ArgumentException naming the field and quoting the values.</summary>
public static class ExpectArgument
{
    public static ArgumentException Throws(Action action, string paramName, params string[] messageFragments)
    {
        var ex = Assert.Throws<ArgumentException>(action)!;
        Assert.That(ex.ParamName, Is.EqualTo(paramName), $"parameter name in: {ex.Message}");
        foreach (var fragment in messageFragments)
            Assert.That(ex.Message, Does.Contain(fragment), "message");
        return ex;
    }
}
