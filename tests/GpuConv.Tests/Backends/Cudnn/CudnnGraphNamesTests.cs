using GpuConv.Backends;
using GpuConv.Backends.Cudnn;
using GpuConv.Cuda.Native;

namespace GpuConv.Tests.Backends.Cudnn;

/// <summary>
/// The graph candidates' names and filters without a GPU: a name encodes engine index and knobs and parses back to
/// the same config; tags mark the transform engines for the looser tolerance; numerical notes decide the math mode;
/// the enum values GpuConv passes to cuDNN are the ones in cudnn_graph.h 9.6.0.
/// </summary>
public class CudnnGraphNamesTests
{
    [Test]
    public void ANameRoundTripsEngineIndexKnobsAndTag()
    {
        var choice = new CudnnGraphEngineChoice(42, [(14, 3), (2, -1), (1, 0)], "WINOGRAD");
        Assert.That(choice.Name, Is.EqualTo("GRAPH_E42_K1=0_K2=-1_K14=3_WINOGRAD"), "knobs sorted by type");
        var back = CudnnGraphEngineChoice.TryParse(choice.Name)!;
        Assert.That(back.EngineIndex, Is.EqualTo(42));
        Assert.That(back.Knobs, Is.EqualTo(new[] { (1, 0L), (2, -1L), (14, 3L) }));
        Assert.That(back.Tag, Is.EqualTo("WINOGRAD"));
        Assert.That(back.Name, Is.EqualTo(choice.Name));
        Assert.That(back.Id, Is.EqualTo(CudnnGraphEngineChoice.IdBase + 42));
        Assert.That(CudnnGraphEngineChoice.TryParse("GRAPH_E7")!.Knobs, Is.Empty);
    }

    [TestCase("IMPLICIT_GEMM")]
    [TestCase("GRAPH_E")]
    [TestCase("GRAPH_E1_K2")]
    [TestCase("GRAPH_E1_K2=x")]
    [TestCase("GRAPH_E1_FOO")]
    [TestCase("GRAPH_E1 ")]
    public void WhatIsNotAGraphNameDoesNotParse(string name) => Assert.That(CudnnGraphEngineChoice.TryParse(name), Is.Null);

    [TestCase("GRAPH_E3_WINOGRAD", true)]
    [TestCase("GRAPH_E9_K1=2_FFT", true)]
    [TestCase("GRAPH_E9_K1=2", false)]
    [TestCase("WINOGRAD_NONFUSED", true)]
    [TestCase("IMPLICIT_GEMM", false)]
    public void TransformTagsGetTheTransformTolerance(string name, bool transform) =>
        Assert.That(CudnnAlgorithmNames.IsTransformBased(name), Is.EqualTo(transform));

    [Test]
    public void NotesDecideTheMathMode()
    {
        CudnnBackendNumericalNote[] none = [], tc = [CudnnBackendNumericalNote.TensorCore],
            down = [CudnnBackendNumericalNote.TensorCore, CudnnBackendNumericalNote.DownConvertInputs],
            reduced = [CudnnBackendNumericalNote.ReducedPrecisionReduction], fft = [CudnnBackendNumericalNote.Fft, CudnnBackendNumericalNote.Nondeterministic];
        Assert.That(CudnnGraphHeuristics.MathFor(none, ConvPrecision.Strict), Is.EqualTo(MathMode.Strict));
        Assert.That(CudnnGraphHeuristics.MathFor(fft, ConvPrecision.Strict), Is.EqualTo(MathMode.Strict));
        Assert.That(CudnnGraphHeuristics.MathFor(tc, ConvPrecision.Strict), Is.Null, "no tensor cores (TF32) at strict precision");
        Assert.That(CudnnGraphHeuristics.MathFor(tc, ConvPrecision.AllowTF32), Is.EqualTo(MathMode.TF32));
        Assert.That(CudnnGraphHeuristics.MathFor(down, ConvPrecision.AllowTF32), Is.Null, "down-converted inputs are not TF32");
        Assert.That(CudnnGraphHeuristics.MathFor(reduced, ConvPrecision.AllowTF32), Is.Null);
        Assert.That(CudnnGraphEngineChoice.TagOf(fft), Is.EqualTo("FFT"));
        Assert.That(CudnnGraphEngineChoice.TagOf([CudnnBackendNumericalNote.WinogradTile6x6]), Is.EqualTo("WINOGRAD"));
        Assert.That(CudnnGraphEngineChoice.TagOf(tc), Is.Empty);
    }

    [Test]
    public void EnumValuesAreCudnnGraph96s()
    {
        // Spot checks of the values read from cudnn_graph.h 9.6.0, including the implicitly numbered enums.
        Assert.That((int)CudnnBackendDescriptorType.OperationConvolutionBackwardFilterDescriptor, Is.EqualTo(11));
        Assert.That((int)CudnnBackendDescriptorType.OperationConvolutionBackwardDataDescriptor, Is.EqualTo(12));
        Assert.That((int)CudnnBackendDescriptorType.OperationGraphDescriptor, Is.EqualTo(15));
        Assert.That((int)CudnnBackendDescriptorType.TensorDescriptor, Is.EqualTo(17));
        Assert.That((int)CudnnBackendAttributeType.BackendDescriptor, Is.EqualTo(15));
        Assert.That((int)CudnnBackendAttributeType.NumericalNote, Is.EqualTo(11));
        Assert.That((int)CudnnBackendAttributeType.Int32, Is.EqualTo(23));
        Assert.That((int)CudnnBackendAttributeName.OperationConvolutionBwdFilterDy, Is.EqualTo(717));
        Assert.That((int)CudnnBackendAttributeName.EngineNumericalNote, Is.EqualTo(1303));
        Assert.That((int)CudnnBackendHeurMode.A, Is.EqualTo(3));
        Assert.That((int)CudnnBackendHeurMode.Fallback, Is.EqualTo(2));
        Assert.That((int)CudnnBackendNumericalNote.StrictNanProp, Is.EqualTo(9));
        Assert.That((int)CudnnBackendKnobType.Counts, Is.EqualTo(37));
    }
}
