using GpuConv.Tensors;

namespace GpuConv.Tests.Softmax;

/// <summary>
/// Bad input to the softmax calls: an exception naming the parameter and the values, before any work — the output
/// given is still as it was.
/// </summary>
public class SoftmaxValidationTests
{
    static readonly TensorShape Shape = new(2, 6, 4, 5);

    static HostTensor X() => new(Shape, SoftmaxTestData.Values(Shape.ElementCount, 1, 2f));

    static ConvEngine Open() => ConvEngine.Open(new ConvEngineOptions { Device = DeviceKind.Cpu, PersistPlans = false });

    static void Refused(Action call, string param, params string[] fragments)
    {
        var e = Assert.Catch<ArgumentException>(() => call())!;
        Assert.That(e.ParamName, Is.EqualTo(param), e.Message);
        foreach (var f in fragments) Assert.That(e.Message, Does.Contain(f));
    }

    [TestCase(4)]
    [TestCase(-5)]
    [TestCase(100)]
    [TestCase(int.MinValue)]
    public void ADimOutsideTheRankIsRefused_NamingDimAndTheRange(int dim)
    {
        using var cpu = Open();
        var x = X();
        var output = new HostTensor(Shape);
        Refused(() => cpu.Softmax(x, dim, output), "dim", $"dim = {dim}", "[-4, 3]", "[2, 6, 4, 5]");
        Refused(() => cpu.LogSoftmax(x, dim), "dim", $"dim = {dim}");
        Refused(() => cpu.SoftmaxBackward(x, x, dim), "dim", $"dim = {dim}");
        Refused(() => cpu.LogSoftmaxBackward(x, x, dim), "dim", $"dim = {dim}");
        Assert.That(output.Data, Is.All.EqualTo(0f), "the output is untouched");
        Assert.That(Assert.Catch<ArgumentException>(() => cpu.Softmax(x, dim)), Is.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void AnOutputOfAnotherShapeIsRefused_NamingIt()
    {
        using var cpu = Open();
        var x = X();
        Refused(() => cpu.Softmax(x, 1, new HostTensor(new TensorShape(2, 6, 20))), "output", "[2, 6, 20]");
        Refused(() => cpu.LogSoftmax(x, 1, new HostTensor(new TensorShape(2, 6, 4, 4))), "output", "[2, 6, 4, 4]");
        Refused(() => cpu.SoftmaxBackward(x, x, 1, new HostTensor(new TensorShape(120, 2))), "dx", "[120, 2]");
    }

    [Test]
    public void ADyOfAnotherShapeIsRefused_NamingIt()
    {
        using var cpu = Open();
        var y = X();
        var dy = new HostTensor(new TensorShape(2, 6, 5, 4), new float[240]);
        var dx = new HostTensor(Shape);
        Refused(() => cpu.SoftmaxBackward(dy, y, 1, dx), "dy", "[2, 6, 5, 4]");
        Refused(() => cpu.LogSoftmaxBackward(dy, y, -1, dx), "dy", "[2, 6, 5, 4]");
        Assert.That(dx.Data, Is.All.EqualTo(0f), "dx is untouched");
    }

    [Test]
    public void AnOutputSharingMemoryWithAnInputIsRefused()
    {
        using var cpu = Open();
        var x = X();
        var dy = X();
        Refused(() => cpu.Softmax(x, 1, x), "output", "shares memory with x");
        Refused(() => cpu.LogSoftmax(x, -1, cpu.Reshape(x, Shape)), "output", "shares memory with x"); // a view of x
        Refused(() => cpu.SoftmaxBackward(dy, x, 1, dy), "dx", "shares memory with dy");
        Refused(() => cpu.LogSoftmaxBackward(dy, x, 1, x), "dx", "shares memory with y");
    }

    [Test]
    public void NullTensorsAreRefused()
    {
        using var cpu = Open();
        var x = X();
        Assert.That(Assert.Catch<ArgumentNullException>(() => cpu.Softmax(null!, 1))!.ParamName, Is.EqualTo("x"));
        Assert.That(Assert.Catch<ArgumentNullException>(() => cpu.SoftmaxBackward(null!, x, 1))!.ParamName, Is.EqualTo("dy"));
        Assert.That(Assert.Catch<ArgumentNullException>(() => cpu.LogSoftmaxBackward(x, null!, 1))!.ParamName, Is.EqualTo("y"));
    }
}
