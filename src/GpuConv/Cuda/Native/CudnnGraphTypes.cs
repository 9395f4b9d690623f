namespace GpuConv.Cuda.Native;

// cuDNN's backend ("graph") API enums. Values read from NVIDIA's public cudnn_graph.h of cuDNN 9.6.0
// (CUDNN_GRAPH_MAJOR 9, MINOR 6, PATCH 0; repository zspace/system.cuda-12.6, include/cudnn_graph.h).
// Only the members GpuConv uses are listed; the C enums are int-sized. Where the C header numbers
// members implicitly (descriptor types, attribute types, numerical notes) the value is the position.

/// <summary>cudnnBackendDescriptorType_t (implicitly numbered from 0 in the header).</summary>
internal enum CudnnBackendDescriptorType
{
    PointwiseDescriptor = 0,
    ConvolutionDescriptor = 1,
    EngineDescriptor = 2,
    EngineCfgDescriptor = 3,
    EngineHeurDescriptor = 4,
    ExecutionPlanDescriptor = 5,
    IntermediateInfoDescriptor = 6,
    KnobChoiceDescriptor = 7,
    KnobInfoDescriptor = 8,
    LayoutInfoDescriptor = 9,
    OperationConvolutionForwardDescriptor = 10,
    /// <remarks>BACKWARD_FILTER comes before BACKWARD_DATA in the header.</remarks>
    OperationConvolutionBackwardFilterDescriptor = 11,
    OperationConvolutionBackwardDataDescriptor = 12,
    OperationPointwiseDescriptor = 13,
    OperationGenStatsDescriptor = 14,
    OperationGraphDescriptor = 15,
    VariantPackDescriptor = 16,
    TensorDescriptor = 17,
}

/// <summary>cudnnBackendAttributeType_t (implicitly numbered from 0 in the header).</summary>
internal enum CudnnBackendAttributeType
{
    Handle = 0,
    DataType = 1,
    Boolean = 2,
    Int64 = 3,
    Float = 4,
    Double = 5,
    VoidPtr = 6,
    ConvolutionMode = 7,
    HeurMode = 8,
    KnobType = 9,
    NanPropagation = 10,
    NumericalNote = 11,
    LayoutType = 12,
    AttribName = 13,
    PointwiseMode = 14,
    BackendDescriptor = 15,
    GenStatsMode = 16,
    BnFinalizeStatsMode = 17,
    ReductionOperatorType = 18,
    BehaviorNote = 19,
    TensorReorderingMode = 20,
    ResampleMode = 21,
    PaddingMode = 22,
    Int32 = 23,
    Char = 24,
}

/// <summary>cudnnBackendAttributeName_t: the members for convolutions, explicitly numbered in the header.</summary>
internal enum CudnnBackendAttributeName
{
    ConvolutionCompType = 100,
    ConvolutionConvMode = 101,
    ConvolutionDilations = 102,
    ConvolutionFilterStrides = 103,
    ConvolutionPostPaddings = 104,
    ConvolutionPrePaddings = 105,
    ConvolutionSpatialDims = 106,

    EngineHeurMode = 200,
    EngineHeurOperationGraph = 201,
    EngineHeurResults = 202,

    EngineCfgEngine = 300,
    EngineCfgIntermediateInfo = 301,
    EngineCfgKnobChoices = 302,
    EngineCfgWorkspaceSize = 303,

    ExecutionPlanHandle = 400,
    ExecutionPlanEngineConfig = 401,
    ExecutionPlanWorkspaceSize = 402,

    KnobChoiceKnobType = 600,
    KnobChoiceKnobValue = 601,

    OperationConvolutionForwardAlpha = 700,
    OperationConvolutionForwardBeta = 701,
    OperationConvolutionForwardConvDesc = 702,
    OperationConvolutionForwardW = 703,
    OperationConvolutionForwardX = 704,
    OperationConvolutionForwardY = 705,
    OperationConvolutionBwdDataAlpha = 706,
    OperationConvolutionBwdDataBeta = 707,
    OperationConvolutionBwdDataConvDesc = 708,
    OperationConvolutionBwdDataW = 709,
    OperationConvolutionBwdDataDx = 710,
    OperationConvolutionBwdDataDy = 711,
    OperationConvolutionBwdFilterAlpha = 712,
    OperationConvolutionBwdFilterBeta = 713,
    OperationConvolutionBwdFilterConvDesc = 714,
    OperationConvolutionBwdFilterDw = 715,
    OperationConvolutionBwdFilterX = 716,
    OperationConvolutionBwdFilterDy = 717,

    OperationGraphHandle = 800,
    OperationGraphOps = 801,
    OperationGraphEngineGlobalCount = 802,

    TensorByteAlignment = 900,
    TensorDataType = 901,
    TensorDimensions = 902,
    TensorStrides = 903,
    TensorVectorCount = 904,
    TensorVectorizedDimension = 905,
    TensorUniqueId = 906,
    TensorIsVirtual = 907,

    VariantPackUniqueIds = 1000,
    VariantPackDataPointers = 1001,
    VariantPackIntermediates = 1002,
    VariantPackWorkspace = 1003,

    KnobInfoType = 1200,
    KnobInfoMaximumValue = 1201,
    KnobInfoMinimumValue = 1202,
    KnobInfoStride = 1203,

    EngineOperationGraph = 1300,
    EngineGlobalIndex = 1301,
    EngineKnobInfo = 1302,
    EngineNumericalNote = 1303,
    EngineLayoutInfo = 1304,
    EngineBehaviorNote = 1305,
}

/// <summary>cudnnBackendHeurMode_t.</summary>
internal enum CudnnBackendHeurMode
{
    Instant = 0,
    B = 1,
    Fallback = 2,
    A = 3,
}

/// <summary>cudnnBackendNumericalNote_t (implicitly numbered from 0 in the header).</summary>
internal enum CudnnBackendNumericalNote
{
    TensorCore = 0,
    DownConvertInputs = 1,
    ReducedPrecisionReduction = 2,
    Fft = 3,
    Nondeterministic = 4,
    Winograd = 5,
    WinogradTile4x4 = 6,
    WinogradTile6x6 = 7,
    WinogradTile13x13 = 8,
    StrictNanProp = 9,
    /// <summary>CUDNN_NUMERICAL_NOTE_TYPE_COUNT: the most notes an engine can carry.</summary>
    TypeCount = 10,
}

/// <summary>cudnnBackendBehaviorNote_t.</summary>
internal enum CudnnBackendBehaviorNote
{
    RuntimeCompilation = 0,
    RequiresFilterInt8x32Reorder = 1,
    RequiresBiasInt8x32Reorder = 2,
    SupportsCudaGraphNativeApi = 3,
    TypeCount = 4,
}

/// <summary>
/// cudnnBackendKnobType_t: GpuConv never interprets knobs, it stores the (type, value) pairs the heuristics
/// chose and sets them back; <see cref="Counts"/> (CUDNN_KNOB_TYPE_COUNTS, 37 in 9.6.0) bounds how many one
/// engine config can carry.
/// </summary>
internal enum CudnnBackendKnobType
{
    SplitK = 0,
    Swizzle = 1,
    TileSize = 2,
    Edge = 4,
    Multiply = 11,
    SplitKBuf = 12,
    TileK = 13,
    Stages = 14,
    ReductionMode = 15,
    SplitKSlc = 17,
    SpecFilt = 23,
    KernelCfg = 24,
    Workspace = 25,
    TileCgaM = 27,
    TileCgaN = 28,
    BlockSize = 29,
    Occupancy = 30,
    ArraySizePerThread = 31,
    SplitCols = 33,
    TileRows = 34,
    TileCols = 35,
    LoadSize = 36,
    Counts = 37,
}
