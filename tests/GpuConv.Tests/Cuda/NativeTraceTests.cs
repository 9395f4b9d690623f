using GpuConv.Cuda.Native;

namespace GpuConv.Tests.Cuda;

/// <summary>GPUCONV_TRACE's switch, line format and the entry-point fallback used for renamed driver functions.</summary>
public class NativeTraceTests
{
    [TestCase("1", true)] [TestCase("true", true)] [TestCase(" ON ", true)] [TestCase("yes", true)]
    [TestCase("0", false)] [TestCase("", false)] [TestCase(null, false)] [TestCase("off", false)]
    public void SwitchValues(string? value, bool on) => Assert.That(NativeTrace.IsOn(value), Is.EqualTo(on));

    [Test]
    public void LineNamesCallArgumentsStatusAndMilliseconds() =>
        Assert.That(NativeTrace.Format("cudnnConvolutionForward", "algo=1 ws=256", "NotSupported 3000", 0.25),
            Is.EqualTo("[gpuconv-trace] cudnnConvolutionForward(algo=1 ws=256) -> NotSupported 3000 0.25 ms"));

    [Test]
    public void ACallNamedWithItsPurposeGetsItsArgumentsAfterASpace() =>
        Assert.That(NativeTrace.Format("cudnnTransformTensor(pad)", "src 0x10 -> dst 0x28", "OK", 1),
            Is.EqualTo("[gpuconv-trace] cudnnTransformTensor(pad) src 0x10 -> dst 0x28 -> OK 1 ms"));

    [Test]
    public void StatusLabelIsOkForSuccessElseNameAndNumber()
    {
        Assert.That(NativeText.StatusLabel(CudnnStatus.Success), Is.EqualTo("OK"));
        Assert.That(NativeText.StatusLabel(CudnnStatus.BadParamMisalignedPointer), Is.EqualTo("BadParamMisalignedPointer 2003"));
        Assert.That(NativeText.StatusLabel(CuResult.ErrorOutOfMemory), Is.EqualTo("ErrorOutOfMemory 2"));
    }

    [Test]
    public void ArgumentsAreNotFormattedWhenTracingIsOff()
    {
        if (NativeTrace.Enabled) Assert.Ignore("GPUCONV_TRACE is set for this process");
        int formatted = 0;
        var probe = new CountingFormattable(() => formatted++);
        NativeTrace.Record(NativeTrace.Start(), "call", "OK", $"x={probe}");
        Assert.That(formatted, Is.Zero);
        Assert.That(NativeTrace.Start(), Is.Zero, "no clock read when off");
    }

    [Test]
    public void FallbackIsUsedAndRememberedWhenThePreferredEntryPointIsMissing()
    {
        int preferredCalls = 0, fallbackCalls = 0;
        var f = new EntryPointFallback<Func<int>>(
            () => { preferredCalls++; throw new EntryPointNotFoundException("cuEventElapsedTime_v2"); }, "new",
            () => ++fallbackCalls, "old");
        Assert.That(f.Name, Is.EqualTo("new"));
        Assert.That(f.Invoke(fn => fn()), Is.EqualTo(1));
        Assert.That(f.Invoke(fn => fn()), Is.EqualTo(2));
        Assert.That(preferredCalls, Is.EqualTo(1), "the missing entry point is looked up once");
        Assert.That(f.Name, Is.EqualTo("old"));
    }

    [Test]
    public void PreferredEntryPointIsUsedWhenPresent()
    {
        var f = new EntryPointFallback<Func<int>>(() => 7, "new", () => throw new AssertionException("fallback called"), "old");
        Assert.That(f.Invoke(fn => fn()), Is.EqualTo(7));
        Assert.That(f.Name, Is.EqualTo("new"));
    }

    sealed class CountingFormattable(Action onFormat) : IFormattable
    {
        public string ToString(string? format, IFormatProvider? provider) { onFormat(); return "x"; }
        public override string ToString() { onFormat(); return "x"; }
    }
}
