using GpuConv.Conv;
using GpuConv.Tensors;
using GpuConv.Tests.Support;

namespace GpuConv.Tests.Conv;

/// <summary>ConvProblem.Create rejects every inconsistency between spec, input and filter, naming the field.</summary>
public class ConvProblemValidationTests
{
    static TensorShape S(params int[] dims) => new(dims);

    // An undefined op (a cast integer) was accepted, planned and "run" as nothing at all.
    [Test]
    public void UndefinedOpIsRejected()
    {
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([3]), S(1, 3, 8), S(4, 3, 3), (ConvOp)7), "op", "op 7");
        var problem = ConvProblem.Create(new ConvSpec([3]), S(1, 3, 8), S(4, 3, 3));
        ExpectArgument.Throws(() => problem.WithOp((ConvOp)(-1)), "op", "op -1");
    }

    [Test]
    public void InputRankDoesNotMatchSpec() =>
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([3, 3]), S(1, 3, 8), S(4, 3, 3, 3)), "input",
            "rank 4", "2-d spec", "[1, 3, 8]");

    [Test]
    public void FilterRankDoesNotMatchSpec() =>
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([3]), S(1, 3, 8), S(4, 3, 3, 3)), "filter",
            "rank 3", "1-d spec", "[4, 3, 3, 3]");

    [Test]
    public void FilterKernelDoesNotMatchSpec() =>
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([3, 3]), S(1, 3, 8, 8), S(4, 3, 3, 5)), "filter",
            "3x5", "spec kernel 3x3", "dimension 1");

    [Test]
    public void InputChannelsNotDivisibleByGroups() =>
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([3], groups: 2), S(1, 5, 8), S(4, 2, 3)), "input",
            "input channels 5", "groups 2");

    [Test]
    public void OutputChannelsNotDivisibleByGroups() =>
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([3], groups: 3), S(1, 6, 8), S(4, 2, 3)), "filter",
            "output channels (filter[0]) 4", "groups 3");

    [Test]
    public void FilterChannelsDoNotMatchInputChannels() =>
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([3, 3]), S(1, 3, 8, 8), S(4, 2, 3, 3)), "filter",
            "filter[1] = 2", "3/1 = 3");

    [Test]
    public void GroupedFilterChannelsDoNotMatchInputChannelsPerGroup() =>
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([3, 3], groups: 2), S(1, 8, 8, 8), S(4, 8, 3, 3)), "filter",
            "filter[1] = 8", "8/2 = 4");

    [Test]
    public void OutputSizeBelowOne() =>
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([5, 5]), S(1, 1, 8, 4), S(1, 1, 5, 5)), "inputSpatial",
            "spatial dimension 1 would be 0", "input 4", "kernel 5");

    [Test]
    public void TransposedFilterFirstDimensionMustBeInputChannels() =>
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([3], transposed: true), S(1, 4, 8), S(3, 4, 3)), "filter",
            "transposed filter[0] = 3", "input channels 4", "[Cin, Cout/groups, k…]");

    [Test]
    public void TransposedInputChannelsNotDivisibleByGroups() =>
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([3], groups: 2, transposed: true), S(1, 3, 8), S(3, 2, 3)), "input",
            "input channels 3", "groups 2");

    [Test]
    public void TransposedInputRankMismatch() =>
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([3, 3, 3], transposed: true), S(1, 3, 8, 8), S(3, 2, 3, 3, 3)), "input",
            "rank 5", "3-d spec");

    [Test]
    public void TransposedOutputPaddingAtOrAboveTheStrideIsAcceptedAsInPyTorch()
    {
        // output_padding 1 >= stride 1 is allowed (it is < dilation 2): PyTorch gives (5-1)*1 + 2*2 + 1 + 1 = 10,
        // the last element reached by no input (issue 14 item 9; this used to be refused as "inconsistent").
        var p = ConvProblem.Create(new ConvSpec([3], dilation: [2], transposed: true, outputPadding: [1]), S(1, 2, 5), S(2, 2, 3));
        Assert.That(p.XShape, Is.EqualTo(S(1, 2, 10)));
        Assert.That(p.HasUnreachedInput, Is.True);
    }

    [Test]
    public void TransposedOutputSizeBelowOne() =>
        ExpectArgument.Throws(() => ConvProblem.Create(new ConvSpec([1], padBegin: [2], transposed: true), S(1, 2, 2), S(2, 2, 1)), "inputSpatial",
            "would be -2");

    [Test]
    public void NullArgumentsAreRejected()
    {
        var spec = new ConvSpec([3]);
        Assert.Throws<ArgumentNullException>(() => ConvProblem.Create(null!, S(1, 1, 4), S(1, 1, 3)));
        Assert.Throws<ArgumentNullException>(() => ConvProblem.Create(spec, null!, S(1, 1, 3)));
        Assert.Throws<ArgumentNullException>(() => ConvProblem.Create(spec, S(1, 1, 4), null!));
    }

    [Test]
    public void WithBatchZeroIsRejected()
    {
        var p = ConvProblem.Create(new ConvSpec([3]), S(2, 1, 4), S(1, 1, 3));
        ExpectArgument.Throws(() => p.WithBatch(0), "batch", "batch must be >= 1, got 0");
    }
}
