/* Fake libcudnn.so.9: cuDNN 9's legacy convolution API as GpuConv binds it (src/GpuConv/Cuda/Native/CuDnn*.cs),
 * computed naively in double on the host. Follows the documented semantics of cudnn_graph.h / cudnn_ops.h /
 * cudnn_cnn.h 9.x (read through the reference tools; no code copied):
 *  - statuses are cuDNN 9's numbering (BAD_PARAM 2000, NOT_SUPPORTED 3000, ...);
 *  - perf structs are { int algo; int status; float time; size_t memory; int determinism; int mathType; int reserved[3]; };
 *  - output = alpha * op(inputs) + beta * output, and with beta == 0 the output is NOT read (it may hold NaN);
 *  - descriptors are validated when used: x, w, y dims must agree with the output-dim formula
 *    y = 1 + (x + 2 pad - ((k - 1) dilation + 1)) / stride, groups must divide C and K, data type FLOAT;
 *  - every device pointer must lie inside a live allocation of the fake driver with enough bytes for the
 *    extent its descriptor describes, and be 4-byte aligned; outputs may not overlap inputs;
 *  - the workspace passed to a convolution must be at least what the workspace query returned for that
 *    algorithm, and lie in device memory; the fake scribbles NaN over it before computing, so a workspace
 *    that overlaps a tensor the call reads corrupts the result.
 * Which algorithm supports what is a MODEL (documented per algorithm below), chosen so that some
 * algorithms need a workspace and some are refused, as on a real device; it is not NVIDIA's exact table.
 * Uncertain points are marked UNSURE. GPUCONV_FAKE_VERBOSE=1 logs the reason of every refusal.
 * GPUCONV_FAKE_NO_COMPUTE=1 skips only the arithmetic of the convolutions, legacy and graph (outputs keep what they
 * held); every check and the stream bookkeeping still run. For timing the host-side cost of callers (gpuconv probe's overhead
 * section); results are then wrong, so no test that checks results may set it. */
#define _GNU_SOURCE
#include "fake_common.h"
#include "fake_faults.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int cudnnStatus_t;
enum {
    OK = 0, NOT_INITIALIZED = 1001, BAD_PARAM = 2000, BAD_PARAM_NULL_POINTER = 2002, BAD_PARAM_MISALIGNED_POINTER = 2003,
    NOT_SUPPORTED = 3000, INTERNAL_ERROR = 4000, EXECUTION_FAILED = 5000,
};
enum { DT_FLOAT = 0, DT_DOUBLE = 1, DT_HALF = 2 };
enum { FMT_NCHW = 0, FMT_NHWC = 1 };
enum { MATH_DEFAULT = 0, MATH_TENSOR_OP = 1, MATH_TENSOR_OP_ALLOW_CONVERSION = 2, MATH_FMA = 3 };
enum { OP_FWD = 0, OP_BWD_DATA = 1, OP_BWD_FILTER = 2 };
#define MAX_DIMS 8
#define VERSION 91000 /* 9.10.0 */

/* The last refusal's message, per thread (a pthread key, not thread-local storage, for tcc). */
static pthread_key_t error_key;
static pthread_once_t error_once = PTHREAD_ONCE_INIT;
static void make_error_key(void) { pthread_key_create(&error_key, free); }
static char *last_error_buffer(void)
{
    static char fallback[512];
    pthread_once(&error_once, make_error_key);
    char *b = pthread_getspecific(error_key);
    if (!b && (b = calloc(1, 512))) pthread_setspecific(error_key, b);
    return b ? b : fallback;
}
#define last_error (last_error_buffer())
#define LAST_ERROR_BYTES 512

__attribute__((format(printf, 2, 3))) static cudnnStatus_t fail(cudnnStatus_t status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, LAST_ERROR_BYTES, fmt, ap);
    va_end(ap);
    gpuconv_fake_count_refusal();
    char line[700];
    snprintf(line, sizeof line, "%s -> cudnnStatus %d", last_error, status);
    gpuconv_fake_log("libcudnn", line);
    return status;
}

/* ---------------------------------------------------------------- objects */

enum { K_HANDLE = 0x4e444831, K_TENSOR, K_FILTER, K_CONV, K_ACT };
typedef struct obj {
    int kind, set, busy;
    struct obj *next;
    void *stream;                                   /* handle */
    int dtype, format, nb, dims[MAX_DIMS], strides[MAX_DIMS]; /* tensor, filter (filters are packed) */
    int spatial, pad[MAX_DIMS], stride[MAX_DIMS], dil[MAX_DIMS], mode, compute, groups, math; /* convolution */
    int act_mode, nan_opt; double coef;            /* activation */
} obj;

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static obj *objects;

static cudnnStatus_t create(void **out, int kind, const char *call)
{
    if (!out) return fail(BAD_PARAM_NULL_POINTER, "%s(NULL)", call);
    FAKE_LIBRARY_FAULT(call, -1, kind == K_HANDLE, INTERNAL_ERROR);
    obj *o = calloc(1, sizeof *o);
    if (!o) return fail(INTERNAL_ERROR, "%s: out of host memory", call);
    o->kind = kind;
    o->groups = 1;
    pthread_mutex_lock(&gate);
    o->next = objects;
    objects = o;
    pthread_mutex_unlock(&gate);
    gpuconv_fake_live_add(kind == K_HANDLE ? "cudnn_handles" : "cudnn_descriptors", 1);
    *out = o;
    return OK;
}

static obj *find(const void *p, int kind)
{
    obj *found = NULL;
    pthread_mutex_lock(&gate);
    for (obj *o = objects; o; o = o->next)
        if (o == p && o->kind == kind) { found = o; break; }
    pthread_mutex_unlock(&gate);
    return found;
}

static cudnnStatus_t destroy(void *p, int kind, const char *call)
{
    pthread_mutex_lock(&gate);
    for (obj **pp = &objects; *pp; pp = &(*pp)->next)
        if (*pp == p && (*pp)->kind == kind) {
            obj *o = *pp;
            *pp = o->next;
            pthread_mutex_unlock(&gate);
            free(o);
            gpuconv_fake_live_add(kind == K_HANDLE ? "cudnn_handles" : "cudnn_descriptors", -1);
            return OK;
        }
    pthread_mutex_unlock(&gate);
    return fail(BAD_PARAM, "%s(%p): not a live object of this kind", call, p);
}

/* A descriptor argument: live, of the right kind, and set. */
#define GET(var, p, kind, what) obj *var = find(p, kind); \
    if (!var) return fail(BAD_PARAM, "%s: %s %p is not a live descriptor", __func__, what, (void *)(p)); \
    if (!var->set) return fail(BAD_PARAM, "%s: %s was created but never set", __func__, what)

/* ---------------------------------------------------------------- library */

FAKE_EXPORT size_t cudnnGetVersion(void) { return VERSION; }
FAKE_EXPORT cudnnStatus_t cudnnGraphVersionCheck(void) { return OK; }
FAKE_EXPORT cudnnStatus_t cudnnOpsVersionCheck(void) { return OK; }
FAKE_EXPORT cudnnStatus_t cudnnCnnVersionCheck(void) { return OK; }

/* cuDNN 9's status names (cudnn_graph.h, as src/GpuConv/Cuda/Native/CudnnTypes.cs carries them): the real library
 * names every status, so a test that reads a status name sees the same text here as on a GPU host. */
FAKE_EXPORT const char *cudnnGetErrorString(cudnnStatus_t s)
{
    static const struct { int status; const char *name; } names[] = {
        { 0, "CUDNN_STATUS_SUCCESS" },
        { 1001, "CUDNN_STATUS_NOT_INITIALIZED" },
        { 1002, "CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH" },
        { 1003, "CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH" },
        { 1004, "CUDNN_STATUS_DEPRECATED" },
        { 1005, "CUDNN_STATUS_LICENSE_ERROR" },
        { 1006, "CUDNN_STATUS_RUNTIME_IN_PROGRESS" },
        { 1007, "CUDNN_STATUS_RUNTIME_FP_OVERFLOW" },
        { 1008, "CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED" },
        { 2000, "CUDNN_STATUS_BAD_PARAM" },
        { 2002, "CUDNN_STATUS_BAD_PARAM_NULL_POINTER" },
        { 2003, "CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER" },
        { 2004, "CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED" },
        { 2005, "CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND" },
        { 2006, "CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT" },
        { 2007, "CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH" },
        { 2008, "CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH" },
        { 2009, "CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES" },
        { 2010, "CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE" },
        { 2011, "CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH" },
        { 2012, "CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE" },
        { 3000, "CUDNN_STATUS_NOT_SUPPORTED" },
        { 3001, "CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN" },
        { 3002, "CUDNN_STATUS_NOT_SUPPORTED_SHAPE" },
        { 3003, "CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE" },
        { 3004, "CUDNN_STATUS_NOT_SUPPORTED_LAYOUT" },
        { 3005, "CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER" },
        { 3006, "CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART" },
        { 3007, "CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH" },
        { 3008, "CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING" },
        { 3009, "CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE" },
        { 3010, "CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT" },
        { 3011, "CUDNN_STATUS_NOT_SUPPORTED_PADDING" },
        { 3012, "CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM" },
        { 3013, "CUDNN_STATUS_NOT_SUPPORTED_CUDA_GRAPH_NATIVE_API" },
        { 4000, "CUDNN_STATUS_INTERNAL_ERROR" },
        { 4001, "CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED" },
        { 4002, "CUDNN_STATUS_INTERNAL_ERROR_UNEXPECTED_VALUE" },
        { 4003, "CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED" },
        { 4004, "CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED" },
        { 4005, "CUDNN_STATUS_INTERNAL_ERROR_BAD_LAUNCH_PARAM" },
        { 4006, "CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED" },
        { 5000, "CUDNN_STATUS_EXECUTION_FAILED" },
        { 5001, "CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER" },
        { 5002, "CUDNN_STATUS_EXECUTION_FAILED_CUBLAS" },
        { 5003, "CUDNN_STATUS_EXECUTION_FAILED_CUDART" },
        { 5004, "CUDNN_STATUS_EXECUTION_FAILED_CURAND" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].status == (int)s) return names[i].name;
    return "CUDNN_STATUS_UNKNOWN (gpuconv fake)";
}

/* The message of the last refusal on this thread, then cleared (cuDNN 9 documents a per-thread last error). */
FAKE_EXPORT void cudnnGetLastErrorString(char *message, size_t max)
{
    if (!message || !max) return;
    snprintf(message, max, "%s", last_error);
    last_error[0] = 0;
}

FAKE_EXPORT cudnnStatus_t cudnnCreate(void **handle)
{
    /* cudnnCreate initialises on the current device: like the real one, it needs a CUDA context. UNSURE
     * whether cuDNN 9 creates the primary context itself when none is current; GpuConv always makes its own current first. */
    if (!gpuconv_fake_has_current_context()) return fail(NOT_INITIALIZED, "cudnnCreate with no current CUDA context");
    return create(handle, K_HANDLE, __func__);
}
FAKE_EXPORT cudnnStatus_t cudnnDestroy(void *h) { return destroy(h, K_HANDLE, __func__); }

FAKE_EXPORT cudnnStatus_t cudnnSetStream(void *handle, void *stream)
{
    obj *h = find(handle, K_HANDLE);
    if (!h) return fail(BAD_PARAM, "cudnnSetStream: handle %p is not live", handle);
    FAKE_LIBRARY_FAULT(__func__, -1, 0, EXECUTION_FAILED);
    if (gpuconv_fake_check_stream(stream)) return fail(BAD_PARAM, "cudnnSetStream: stream %p is not a live stream", stream);
    h->stream = stream;
    return OK;
}

/* cuDNN handles are not thread-safe: "the handle must not be used by two threads at once" (cudnnCreate's notes).
 * Every call on a handle goes through exclusive(): it marks the handle busy for the call and refuses a second
 * thread meanwhile (EXECUTION_FAILED; the real library would give undefined results). */
static int acquire_busy(obj *h)
{
    pthread_mutex_lock(&gate);
    int was = h->busy;
    h->busy = 1;
    pthread_mutex_unlock(&gate);
    return was;
}
static void release_busy(obj *h)
{
    pthread_mutex_lock(&gate);
    h->busy = 0;
    pthread_mutex_unlock(&gate);
}
#define EXCLUSIVE(handle, call) do { \
        obj *held_ = find(handle, K_HANDLE); \
        if (held_ && acquire_busy(held_)) \
            return fail(EXECUTION_FAILED, "%s: handle %p is in use by another thread at the same time", __func__, (void *)(handle)); \
        cudnnStatus_t status_ = call; \
        if (held_) release_busy(held_); \
        return status_; \
    } while (0)

/* Every call that works on a handle checks it and that its stream is still alive. */
#define GET_HANDLE(var, p) obj *var = find(p, K_HANDLE); \
    if (!var) return fail(BAD_PARAM, "%s: handle %p is not live", __func__, (void *)(p)); \
    if (gpuconv_fake_check_stream(var->stream)) return fail(EXECUTION_FAILED, "%s: the handle's stream was destroyed", __func__)

/* Records the call as one operation on the handle's stream for the ordering check; EXECUTION_FAILED on a race. */
#define STREAM_OP(h, nr, reads, nw, writes) \
    if (gpuconv_fake_stream_op((h)->stream, __func__, nr, reads, nw, writes)) \
        return fail(EXECUTION_FAILED, "%s: stream race (logged above): the inputs or outputs are in use on another stream", __func__)

/* ---------------------------------------------------------------- descriptors */

FAKE_EXPORT cudnnStatus_t cudnnCreateTensorDescriptor(void **d) { return create(d, K_TENSOR, __func__); }
FAKE_EXPORT cudnnStatus_t cudnnDestroyTensorDescriptor(void *d) { return destroy(d, K_TENSOR, __func__); }
FAKE_EXPORT cudnnStatus_t cudnnCreateFilterDescriptor(void **d) { return create(d, K_FILTER, __func__); }
FAKE_EXPORT cudnnStatus_t cudnnDestroyFilterDescriptor(void *d) { return destroy(d, K_FILTER, __func__); }
FAKE_EXPORT cudnnStatus_t cudnnCreateConvolutionDescriptor(void **d) { return create(d, K_CONV, __func__); }
FAKE_EXPORT cudnnStatus_t cudnnDestroyConvolutionDescriptor(void *d) { return destroy(d, K_CONV, __func__); }
FAKE_EXPORT cudnnStatus_t cudnnCreateActivationDescriptor(void **d) { return create(d, K_ACT, __func__); }
FAKE_EXPORT cudnnStatus_t cudnnDestroyActivationDescriptor(void *d) { return destroy(d, K_ACT, __func__); }

static int valid_dtype(int t) { return t == DT_FLOAT || t == DT_DOUBLE || t == DT_HALF || t == 3 || t == 4 || t == 6 || t == 9; }

/* cudnnSetTensorNdDescriptor: nbDims in [3, 8] (the docs: do not use 2 dims; 4 to 8 for convolutions);
 * every dim and stride > 0 (BAD_PARAM); more than 2^31 - 1 elements is NOT_SUPPORTED. */
FAKE_EXPORT cudnnStatus_t cudnnSetTensorNdDescriptor(void *desc, int dtype, int nb, const int *dims, const int *strides)
{
    obj *d = find(desc, K_TENSOR);
    if (!d) return fail(BAD_PARAM, "%s: %p is not a live tensor descriptor", __func__, desc);
    if (!dims || !strides) return fail(BAD_PARAM_NULL_POINTER, "%s: null dims or strides", __func__);
    if (!valid_dtype(dtype)) return fail(BAD_PARAM, "%s: data type %d", __func__, dtype);
    if (nb < 3 || nb > MAX_DIMS) return fail(nb > MAX_DIMS ? NOT_SUPPORTED : BAD_PARAM, "%s: nbDims %d outside [3, 8]", __func__, nb);
    long long elements = 1;
    for (int i = 0; i < nb; i++) {
        if (dims[i] <= 0 || strides[i] <= 0) return fail(BAD_PARAM, "%s: dim %d = %d, stride %d (both must be > 0)", __func__, i, dims[i], strides[i]);
        elements *= dims[i];
    }
    if (elements > 2147483647LL) return fail(NOT_SUPPORTED, "%s: %lld elements, over 2^31 - 1", __func__, elements);
    d->dtype = dtype; d->nb = nb; d->format = FMT_NCHW;
    memcpy(d->dims, dims, nb * sizeof(int));
    memcpy(d->strides, strides, nb * sizeof(int));
    d->set = 1;
    return OK;
}

FAKE_EXPORT cudnnStatus_t cudnnSetTensor4dDescriptor(void *desc, int format, int dtype, int n, int c, int h, int w)
{
    if (format != FMT_NCHW && format != FMT_NHWC) return fail(BAD_PARAM, "%s: format %d", __func__, format);
    int dims[4] = { n, c, h, w };
    int strides[4] = { c * h * w, h * w, w, 1 };
    if (format == FMT_NHWC) { strides[1] = 1; strides[2] = w * c; strides[3] = c; }
    return cudnnSetTensorNdDescriptor(desc, dtype, 4, dims, strides);
}

/* Filters are always packed; NHWC filters are accepted by the call but refused by every convolution here. */
FAKE_EXPORT cudnnStatus_t cudnnSetFilterNdDescriptor(void *desc, int dtype, int format, int nb, const int *dims)
{
    obj *d = find(desc, K_FILTER);
    if (!d) return fail(BAD_PARAM, "%s: %p is not a live filter descriptor", __func__, desc);
    if (!dims) return fail(BAD_PARAM_NULL_POINTER, "%s: null dims", __func__);
    if (!valid_dtype(dtype)) return fail(BAD_PARAM, "%s: data type %d", __func__, dtype);
    if (format != FMT_NCHW && format != FMT_NHWC) return fail(BAD_PARAM, "%s: format %d", __func__, format);
    if (nb < 3 || nb > MAX_DIMS) return fail(nb > MAX_DIMS ? NOT_SUPPORTED : BAD_PARAM, "%s: nbDims %d outside [3, 8]", __func__, nb);
    for (int i = 0; i < nb; i++)
        if (dims[i] <= 0) return fail(BAD_PARAM, "%s: dim %d = %d", __func__, i, dims[i]);
    d->dtype = dtype; d->format = format; d->nb = nb;
    memcpy(d->dims, dims, nb * sizeof(int));
    int s = 1;
    for (int i = nb - 1; i >= 0; i--) { d->strides[i] = s; s *= dims[i]; }
    d->set = 1;
    return OK;
}

FAKE_EXPORT cudnnStatus_t cudnnSetFilter4dDescriptor(void *desc, int dtype, int format, int k, int c, int h, int w)
{
    int dims[4] = { k, c, h, w };
    return cudnnSetFilterNdDescriptor(desc, dtype, format, 4, dims);
}

/* arrayLength = spatial dims (1 to 6); pads >= 0, strides and dilations > 0; mode CONVOLUTION (0) or
 * CROSS_CORRELATION (1); computeType FLOAT/DOUBLE/HALF. */
FAKE_EXPORT cudnnStatus_t cudnnSetConvolutionNdDescriptor(void *desc, int n, const int *pad, const int *stride, const int *dil, int mode, int compute)
{
    obj *d = find(desc, K_CONV);
    if (!d) return fail(BAD_PARAM, "%s: %p is not a live convolution descriptor", __func__, desc);
    if (!pad || !stride || !dil) return fail(BAD_PARAM_NULL_POINTER, "%s: null array", __func__);
    if (n < 1 || n > 6) return fail(n > 6 ? NOT_SUPPORTED : BAD_PARAM, "%s: arrayLength %d", __func__, n);
    if (mode != 0 && mode != 1) return fail(BAD_PARAM, "%s: mode %d", __func__, mode);
    if (compute != DT_FLOAT && compute != DT_DOUBLE && compute != DT_HALF) return fail(BAD_PARAM, "%s: compute type %d", __func__, compute);
    for (int i = 0; i < n; i++)
        if (pad[i] < 0 || stride[i] <= 0 || dil[i] <= 0)
            return fail(BAD_PARAM, "%s: dim %d pad %d stride %d dilation %d", __func__, i, pad[i], stride[i], dil[i]);
    d->spatial = n; d->mode = mode; d->compute = compute;
    memcpy(d->pad, pad, n * sizeof(int));
    memcpy(d->stride, stride, n * sizeof(int));
    memcpy(d->dil, dil, n * sizeof(int));
    d->set = 1;
    return OK;
}

FAKE_EXPORT cudnnStatus_t cudnnSetConvolution2dDescriptor(void *desc, int ph, int pw, int u, int v, int dh, int dw, int mode, int compute)
{
    int pad[2] = { ph, pw }, stride[2] = { u, v }, dil[2] = { dh, dw };
    return cudnnSetConvolutionNdDescriptor(desc, 2, pad, stride, dil, mode, compute);
}

FAKE_EXPORT cudnnStatus_t cudnnSetConvolutionGroupCount(void *desc, int groups)
{
    obj *d = find(desc, K_CONV);
    if (!d) return fail(BAD_PARAM, "%s: %p is not a live convolution descriptor", __func__, desc);
    if (groups < 1) return fail(BAD_PARAM, "%s: groupCount %d", __func__, groups);
    d->groups = groups;
    return OK;
}

FAKE_EXPORT cudnnStatus_t cudnnSetConvolutionMathType(void *desc, int math)
{
    obj *d = find(desc, K_CONV);
    if (!d) return fail(BAD_PARAM, "%s: %p is not a live convolution descriptor", __func__, desc);
    if (math < MATH_DEFAULT || math > MATH_FMA) return fail(BAD_PARAM, "%s: math type %d", __func__, math);
    d->math = math;
    return OK;
}

FAKE_EXPORT cudnnStatus_t cudnnSetActivationDescriptor(void *desc, int mode, int nan_opt, double coef)
{
    obj *d = find(desc, K_ACT);
    if (!d) return fail(BAD_PARAM, "%s: %p is not a live activation descriptor", __func__, desc);
    if (mode < 0 || mode > 5) return fail(BAD_PARAM, "%s: mode %d", __func__, mode);
    if (nan_opt != 0 && nan_opt != 1) return fail(BAD_PARAM, "%s: NaN option %d", __func__, nan_opt);
    d->act_mode = mode; d->nan_opt = nan_opt; d->coef = coef;
    d->set = 1;
    return OK;
}

/* ---------------------------------------------------------------- geometry */

/* A convolution with every shape lifted to 3 spatial dims (missing ones are 1). */
typedef struct {
    int n, c, k, g, cg, kg;
    int in[3], out[3], ker[3], pad[3], str[3], dil[3];
    int xs[5], ys[5];   /* element strides of x and y: n, c, d0, d1, d2 */
    int flip;           /* CUDNN_CONVOLUTION: the kernel is applied flipped */
} geometry;

static long long extent(const obj *t)
{
    long long e = 1;
    for (int i = 0; i < t->nb; i++) e += (long long)(t->dims[i] - 1) * t->strides[i];
    return e;
}

static int out_dim(int in, int pad, int k, int dil, int str) { return 1 + (in + 2 * pad - ((k - 1) * dil + 1)) / str; }

/* Checks x, w, conv, y against each other the way the convolution calls document (BAD_PARAM on a mismatch,
 * NOT_SUPPORTED on a data type or layout this fake does not compute) and fills the geometry. */
static cudnnStatus_t geometry_of(const char *call, const obj *x, const obj *w, const obj *cv, const obj *y, geometry *g)
{
    if (x->dtype != DT_FLOAT || w->dtype != DT_FLOAT || y->dtype != DT_FLOAT)
        return fail(NOT_SUPPORTED, "%s: data types x %d w %d y %d: the fake computes FLOAT only", call, x->dtype, w->dtype, y->dtype);
    if (cv->compute != DT_FLOAT) return fail(BAD_PARAM, "%s: compute type %d with FLOAT data", call, cv->compute);
    if (w->format != FMT_NCHW) return fail(NOT_SUPPORTED, "%s: NHWC filter", call);
    if (x->nb != y->nb || x->nb != w->nb || x->nb != cv->spatial + 2)
        return fail(BAD_PARAM, "%s: ranks x %d w %d y %d, convolution %d spatial dims", call, x->nb, w->nb, y->nb, cv->spatial);
    if (x->nb > 5) return fail(NOT_SUPPORTED, "%s: %d-d tensors (the fake computes up to 3 spatial dims)", call, x->nb);
    memset(g, 0, sizeof *g);
    g->n = x->dims[0]; g->c = x->dims[1]; g->k = w->dims[0]; g->g = cv->groups;
    if (y->dims[0] != g->n) return fail(BAD_PARAM, "%s: batch x %d vs y %d", call, g->n, y->dims[0]);
    if (g->c % g->g || g->k % g->g) return fail(BAD_PARAM, "%s: %d groups do not divide C %d and K %d", call, g->g, g->c, g->k);
    g->cg = g->c / g->g; g->kg = g->k / g->g;
    if (w->dims[1] != g->cg) return fail(BAD_PARAM, "%s: filter has %d input channels, x has %d in %d groups (%d each)", call, w->dims[1], g->c, g->g, g->cg);
    if (y->dims[1] != g->k) return fail(BAD_PARAM, "%s: y has %d channels, the filter %d", call, y->dims[1], g->k);
    int s = cv->spatial;
    for (int i = 0; i < 3; i++) {
        int lifted = i < s;
        g->in[i] = lifted ? x->dims[2 + i] : 1;
        g->out[i] = lifted ? y->dims[2 + i] : 1;
        g->ker[i] = lifted ? w->dims[2 + i] : 1;
        g->pad[i] = lifted ? cv->pad[i] : 0;
        g->str[i] = lifted ? cv->stride[i] : 1;
        g->dil[i] = lifted ? cv->dil[i] : 1;
        if (!lifted) continue;
        int span = (g->ker[i] - 1) * g->dil[i] + 1;
        if (g->in[i] + 2 * g->pad[i] < span)
            return fail(BAD_PARAM, "%s: spatial dim %d: input %d + 2*pad %d is smaller than the dilated kernel %d", call, i, g->in[i], g->pad[i], span);
        int want = out_dim(g->in[i], g->pad[i], g->ker[i], g->dil[i], g->str[i]);
        if (g->out[i] != want)
            return fail(BAD_PARAM, "%s: spatial dim %d: y has %d, the output-dim formula gives %d (in %d pad %d kernel %d dilation %d stride %d)",
                call, i, g->out[i], want, g->in[i], g->pad[i], g->ker[i], g->dil[i], g->str[i]);
    }
    for (int i = 0; i < 5; i++) {
        g->xs[i] = i < x->nb ? x->strides[i] : 1;
        g->ys[i] = i < y->nb ? y->strides[i] : 1;
    }
    g->flip = cv->mode == 0;
    return OK;
}

FAKE_EXPORT cudnnStatus_t cudnnGetConvolutionNdForwardOutputDim(void *conv, void *xd, void *wd, int nb, int *out)
{
    GET(cv, conv, K_CONV, "convolution");
    GET(x, xd, K_TENSOR, "x");
    GET(w, wd, K_FILTER, "w");
    if (!out) return fail(BAD_PARAM_NULL_POINTER, "%s: null output", __func__);
    if (nb != x->nb || w->nb != x->nb || cv->spatial + 2 != nb) return fail(BAD_PARAM, "%s: nbDims %d, x %d, w %d, conv %d", __func__, nb, x->nb, w->nb, cv->spatial);
    if (x->dims[1] != w->dims[1] * cv->groups) return fail(BAD_PARAM, "%s: x channels %d vs filter %d x %d groups", __func__, x->dims[1], w->dims[1], cv->groups);
    out[0] = x->dims[0];
    out[1] = w->dims[0];
    for (int i = 0; i < cv->spatial; i++) {
        out[2 + i] = out_dim(x->dims[2 + i], cv->pad[i], w->dims[2 + i], cv->dil[i], cv->stride[i]);
        if (out[2 + i] <= 0) return fail(BAD_PARAM, "%s: output dim %d would be %d", __func__, i, out[2 + i]);
    }
    return OK;
}

/* ---------------------------------------------------------------- algorithms (the model)
 * forward:  0 IMPLICIT_GEMM (no workspace), 1 IMPLICIT_PRECOMP_GEMM (index table), 2 GEMM (im2col of one image),
 *           3 DIRECT (never: "not implemented" in cuDNN), 4 FFT (2-d, stride 1, dilation 1), 5 FFT_TILING (2-d, stride 1,
 *           dilation 1), 6 WINOGRAD (2-d 3x3, stride 1, dilation 1), 7 WINOGRAD_NONFUSED (2-d 3x3 or 5x5, stride 1, dilation 1);
 * bwd data: 0 ALGO_0 (non-deterministic, none), 1 ALGO_1, 2 FFT, 3 FFT_TILING, 4 WINOGRAD, 5 WINOGRAD_NONFUSED;
 * bwd filter: 0 ALGO_0 (non-deterministic), 1 ALGO_1, 2 FFT, 3 ALGO_3 (non-deterministic), 4 WINOGRAD (never:
 *           "not implemented"), 5 WINOGRAD_NONFUSED, 6 FFT_TILING.
 * Transform algorithms here need groups == 1 (UNSURE: real cuDNN runs some grouped). TENSOR_OP math is reported for
 * the GEMM-like algorithms when the descriptor asks for it (FP32 data: TF32 tensor cores). */

enum { A_NONE, A_GEMM0, A_GEMM_IDX, A_IM2COL, A_NEVER, A_FFT, A_FFT_TILE, A_WINO, A_WINO_NF };
static const int fwd_kind[8] = { A_GEMM0, A_GEMM_IDX, A_IM2COL, A_NEVER, A_FFT, A_FFT_TILE, A_WINO, A_WINO_NF };
static const int bwd_data_kind[6] = { A_GEMM0, A_GEMM_IDX, A_FFT, A_FFT_TILE, A_WINO, A_WINO_NF };
static const int bwd_filter_kind[7] = { A_GEMM0, A_GEMM_IDX, A_FFT, A_GEMM_IDX, A_NEVER, A_WINO_NF, A_FFT_TILE };
static const int algo_count[3] = { 8, 6, 7 };

static int kind_of(int op, int algo)
{
    if (algo < 0 || algo >= algo_count[op]) return A_NONE;
    return op == OP_FWD ? fwd_kind[algo] : op == OP_BWD_DATA ? bwd_data_kind[algo] : bwd_filter_kind[algo];
}

static int deterministic(int op, int algo) { return !((op == OP_BWD_DATA && algo == 0) || (op == OP_BWD_FILTER && (algo == 0 || algo == 3))); }

static int spatial_dims(const geometry *g) { return g->in[2] > 1 || g->ker[2] > 1 || g->out[2] > 1 ? 3 : g->in[1] > 1 || g->ker[1] > 1 ? 2 : 1; }

/* Why the algorithm cannot run this problem (NULL when it can). 1-d problems come as 2-d with height 1. */
static const char *unsupported(int op, int algo, const geometry *g, int nb)
{
    int kind = kind_of(op, algo);
    int unit = g->str[0] == 1 && g->str[1] == 1 && g->str[2] == 1 && g->dil[0] == 1 && g->dil[1] == 1 && g->dil[2] == 1;
    switch (kind) {
    case A_NONE: return "no such algorithm";
    case A_NEVER: return "algorithm not implemented (as in cuDNN)";
    case A_GEMM0: case A_GEMM_IDX: return NULL;
    case A_IM2COL: return NULL;
    case A_FFT: case A_FFT_TILE:
        if (nb != 4) return "FFT: 2-d only in this model";
        if (!unit) return "FFT: stride and dilation 1 only";
        if (g->g != 1) return "FFT: groups == 1 only in this model";
        return NULL;
    case A_WINO: case A_WINO_NF:
        if (nb != 4) return "Winograd: 2-d only";
        if (!unit) return "Winograd: stride and dilation 1 only";
        if (g->g != 1) return "Winograd: groups == 1 only in this model";
        if (!(g->ker[0] == 3 && g->ker[1] == 3) && !(kind == A_WINO_NF && g->ker[0] == 5 && g->ker[1] == 5)) return "Winograd: 3x3 (non-fused also 5x5) only";
        return NULL;
    }
    (void)spatial_dims;
    return "no such algorithm";
}

static size_t workspace_of(int op, int algo, const geometry *g)
{
    long long per_image_out = (long long)g->out[0] * g->out[1] * g->out[2];
    long long taps = (long long)g->ker[0] * g->ker[1] * g->ker[2];
    long long in_plane = (long long)(g->in[0] + 2 * g->pad[0]) * (g->in[1] + 2 * g->pad[1]) * (g->in[2] + 2 * g->pad[2]);
    switch (kind_of(op, algo)) {
    case A_GEMM0: return 0;
    case A_GEMM_IDX: return (size_t)(taps * per_image_out * 4 + 64);
    case A_IM2COL: return (size_t)(g->cg * taps * per_image_out * 4);
    case A_FFT: return (size_t)((g->n * g->c + g->k * g->c + g->n * g->k) * in_plane * 8);
    case A_FFT_TILE: return (size_t)((g->c + g->k) * 32 * 32 * 8 * 4);
    case A_WINO: return 0;
    case A_WINO_NF: return (size_t)((g->n * g->c + g->k * g->c + g->n * g->k) * 16 * ((per_image_out + 3) / 4) * 4);
    default: return 0;
    }
}

/* The three argument orders of the C functions map to (x, w, y) here. */
static cudnnStatus_t resolve(const char *call, void *xd, void *wd, void *convd, void *yd, obj **x, obj **w, obj **cv, obj **y, geometry *g)
{
    *x = find(xd, K_TENSOR); *w = find(wd, K_FILTER); *cv = find(convd, K_CONV); *y = find(yd, K_TENSOR);
    if (!*x || !(*x)->set) return fail(BAD_PARAM, "%s: x/dx descriptor %p is not a live, set tensor descriptor", call, xd);
    if (!*w || !(*w)->set) return fail(BAD_PARAM, "%s: w/dw descriptor %p is not a live, set filter descriptor", call, wd);
    if (!*cv || !(*cv)->set) return fail(BAD_PARAM, "%s: convolution descriptor %p is not live and set", call, convd);
    if (!*y || !(*y)->set) return fail(BAD_PARAM, "%s: y/dy descriptor %p is not a live, set tensor descriptor", call, yd);
    return geometry_of(call, *x, *w, *cv, *y, g);
}

static cudnnStatus_t max_count(void *handle, int *count, int op, const char *call)
{
    if (!find(handle, K_HANDLE)) return fail(BAD_PARAM, "%s: handle %p is not live", call, handle);
    if (!count) return fail(BAD_PARAM_NULL_POINTER, "%s(NULL)", call);
    *count = algo_count[op];
    return OK;
}

FAKE_EXPORT cudnnStatus_t cudnnGetConvolutionForwardAlgorithmMaxCount(void *h, int *c) { return max_count(h, c, OP_FWD, __func__); }
FAKE_EXPORT cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithmMaxCount(void *h, int *c) { return max_count(h, c, OP_BWD_DATA, __func__); }
FAKE_EXPORT cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(void *h, int *c) { return max_count(h, c, OP_BWD_FILTER, __func__); }

typedef struct { int algo, status; float time; size_t memory; int determinism, math, reserved[3]; } perf_t;

/* The heuristic: every algorithm once, supported ones first (implicit GEMM first, then by workspace), each with
 * its status, workspace, determinism and math type; requestedAlgoCount < 1 is BAD_PARAM. */
static cudnnStatus_t heuristic_impl(const char *call, int op, void *handle, void *xd, void *wd, void *convd, void *yd,
    int requested, int *returned, perf_t *perf, int measured)
{
    GET_HANDLE(h, handle);
    (void)h;
    if (!returned || !perf) return fail(BAD_PARAM_NULL_POINTER, "%s: null returnedAlgoCount or perfResults", call);
    if (requested < 1) return fail(BAD_PARAM, "%s: requestedAlgoCount %d", call, requested);
    obj *x, *w, *cv, *y;
    geometry g;
    cudnnStatus_t s = resolve(call, xd, wd, convd, yd, &x, &w, &cv, &y, &g);
    if (s) return s;
    perf_t all[8];
    int n = algo_count[op], k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int a = 0; a < n; a++) {
            const char *why = unsupported(op, a, &g, x->nb);
            if ((why == NULL) != (pass == 0)) continue;
            perf_t p = { 0 };
            p.algo = a;
            p.status = why ? NOT_SUPPORTED : OK;
            p.memory = why ? 0 : workspace_of(op, a, &g);
            p.time = why ? -1.0f : (float)(measured ? 0.01 * (a + 1) : 0.0);
            p.determinism = deterministic(op, a);
            int gemm_like = kind_of(op, a) == A_GEMM0 || kind_of(op, a) == A_GEMM_IDX || kind_of(op, a) == A_IM2COL;
            p.math = cv->math == MATH_TENSOR_OP || cv->math == MATH_TENSOR_OP_ALLOW_CONVERSION ? (gemm_like ? cv->math : MATH_DEFAULT)
                   : cv->math == MATH_FMA ? MATH_FMA : MATH_DEFAULT;
            all[k++] = p;
        }
    int m = requested < k ? requested : k;
    memcpy(perf, all, (size_t)m * sizeof *perf);
    *returned = m;
    return OK;
}

static cudnnStatus_t heuristic(const char *call, int op, void *handle, void *xd, void *wd, void *convd, void *yd,
    int requested, int *returned, perf_t *perf, int measured)
{
    FAKE_LIBRARY_FAULT(call, -1, 0, EXECUTION_FAILED);
    EXCLUSIVE(handle, heuristic_impl(call, op, handle, xd, wd, convd, yd, requested, returned, perf, measured));
}

FAKE_EXPORT cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(void *h, void *x, void *w, void *c, void *y, int req, int *ret, perf_t *p)
{ return heuristic(__func__, OP_FWD, h, x, w, c, y, req, ret, p, 0); }
FAKE_EXPORT cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(void *h, void *w, void *dy, void *c, void *dx, int req, int *ret, perf_t *p)
{ return heuristic(__func__, OP_BWD_DATA, h, dx, w, c, dy, req, ret, p, 0); }
FAKE_EXPORT cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(void *h, void *x, void *dy, void *c, void *dw, int req, int *ret, perf_t *p)
{ return heuristic(__func__, OP_BWD_FILTER, h, x, dw, c, dy, req, ret, p, 0); }

static cudnnStatus_t workspace_size_impl(const char *call, int op, void *handle, void *xd, void *wd, void *convd, void *yd, int algo, size_t *bytes)
{
    GET_HANDLE(h, handle);
    (void)h;
    if (!bytes) return fail(BAD_PARAM_NULL_POINTER, "%s(NULL)", call);
    obj *x, *w, *cv, *y;
    geometry g;
    cudnnStatus_t s = resolve(call, xd, wd, convd, yd, &x, &w, &cv, &y, &g);
    if (s) return s;
    if (kind_of(op, algo) == A_NONE) return fail(BAD_PARAM, "%s: algorithm %d does not exist", call, algo);
    const char *why = unsupported(op, algo, &g, x->nb);
    if (why) return fail(NOT_SUPPORTED, "%s: algorithm %d: %s", call, algo, why);
    *bytes = workspace_of(op, algo, &g);
    return OK;
}

static cudnnStatus_t workspace_size(const char *call, int op, void *handle, void *xd, void *wd, void *convd, void *yd, int algo, size_t *bytes)
{
    FAKE_LIBRARY_FAULT(call, algo, 0, EXECUTION_FAILED);
    EXCLUSIVE(handle, workspace_size_impl(call, op, handle, xd, wd, convd, yd, algo, bytes));
}

FAKE_EXPORT cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(void *h, void *x, void *w, void *c, void *y, int algo, size_t *b)
{ return workspace_size(__func__, OP_FWD, h, x, w, c, y, algo, b); }
FAKE_EXPORT cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(void *h, void *w, void *dy, void *c, void *dx, int algo, size_t *b)
{ return workspace_size(__func__, OP_BWD_DATA, h, dx, w, c, dy, algo, b); }
FAKE_EXPORT cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(void *h, void *x, void *dy, void *c, void *dw, int algo, size_t *b)
{ return workspace_size(__func__, OP_BWD_FILTER, h, x, dw, c, dy, algo, b); }

/* ---------------------------------------------------------------- pointers */

/* A device pointer for `t`'s extent: non-null, 4-byte aligned (float), inside one live allocation. */
static cudnnStatus_t check_tensor_ptr(const char *call, const char *what, uint64_t p, long long elements)
{
    char label[160];
    snprintf(label, sizeof label, "%s %s", call, what);
    if (!p) return fail(BAD_PARAM_NULL_POINTER, "%s: null device pointer", label);
    if (p % 4) return fail(BAD_PARAM_MISALIGNED_POINTER, "%s: 0x%llx is not 4-byte aligned", label, (unsigned long long)p);
    if (gpuconv_fake_check_device_range(p, (uint64_t)elements * 4, label))
        return fail(BAD_PARAM, "%s: [0x%llx, +%lld B) is not inside one live device allocation (see the line above)", label,
            (unsigned long long)p, elements * 4);
    return OK;
}

static int overlaps(uint64_t a, long long an, uint64_t b, long long bn) { return a < b + (uint64_t)bn * 4 && b < a + (uint64_t)an * 4; }

static cudnnStatus_t check_no_overlap(const char *call, const char *out, uint64_t o, long long on, const char *in, uint64_t i, long long inn)
{
    if (overlaps(o, on, i, inn)) return fail(BAD_PARAM, "%s: output %s [0x%llx, +%lld) overlaps input %s [0x%llx, +%lld)", call, out,
        (unsigned long long)o, on * 4, in, (unsigned long long)i, inn * 4);
    return OK;
}

/* The workspace: at least what the query returned for this algorithm, in device memory, and scribbled over. */
static cudnnStatus_t check_workspace(const char *call, int op, int algo, const geometry *g, uint64_t ws, size_t ws_bytes)
{
    size_t need = workspace_of(op, algo, g);
    if (ws_bytes < need) return fail(BAD_PARAM, "%s: algorithm %d needs %zu workspace bytes, got %zu", call, algo, need, ws_bytes);
    if (ws_bytes == 0) return OK;
    char label[160];
    snprintf(label, sizeof label, "%s workspace", call);
    if (!ws) return fail(BAD_PARAM_NULL_POINTER, "%s: %zu bytes announced at a null pointer", label, ws_bytes);
    if (gpuconv_fake_check_device_range(ws, ws_bytes, label))
        return fail(BAD_PARAM, "%s: [0x%llx, +%zu) is not inside one live device allocation", label, (unsigned long long)ws, ws_bytes);
    return OK;
}

static void scribble(uint64_t ws, size_t bytes) { if (ws && bytes) memset((void *)(uintptr_t)ws, 0xFF, bytes); }

/* GPUCONV_FAKE_NO_COMPUTE=1 (read once): the convolutions return after their checks, without arithmetic. */
static int no_compute(void)
{
    static int cached = -1;
    if (cached < 0) { const char *v = getenv("GPUCONV_FAKE_NO_COMPUTE"); cached = v && strcmp(v, "1") == 0; }
    return cached;
}

/* ---------------------------------------------------------------- the naive convolution */

static long long xi(const geometry *g, int n, int c, int a, int b, int d) { return (long long)n * g->xs[0] + (long long)c * g->xs[1] + (long long)a * g->xs[2] + (long long)b * g->xs[3] + (long long)d * g->xs[4]; }
static long long yi(const geometry *g, int n, int k, int a, int b, int d) { return (long long)n * g->ys[0] + (long long)k * g->ys[1] + (long long)a * g->ys[2] + (long long)b * g->ys[3] + (long long)d * g->ys[4]; }
static long long wi(const geometry *g, int k, int c, int a, int b, int d) { return (((long long)k * g->cg + c) * g->ker[0] + a) * g->ker[1] * g->ker[2] + (long long)b * g->ker[2] + d; }

/* Accumulates the op's output (in double, indexed like the output tensor) from the inputs, one tap at a time:
 * forward y += x*w, backward-data dx += w*dy, backward-filter dw += x*dy. */
static void convolve(int op, const geometry *g, const float *x, const float *w, const float *y, double *acc)
{
    for (int n = 0; n < g->n; n++)
    for (int k = 0; k < g->k; k++) {
        int grp = k / g->kg;
        for (int o0 = 0; o0 < g->out[0]; o0++)
        for (int o1 = 0; o1 < g->out[1]; o1++)
        for (int o2 = 0; o2 < g->out[2]; o2++) {
            long long yo = yi(g, n, k, o0, o1, o2);
            for (int c = 0; c < g->cg; c++)
            for (int r0 = 0; r0 < g->ker[0]; r0++) {
                int i0 = o0 * g->str[0] - g->pad[0] + r0 * g->dil[0];
                if (i0 < 0 || i0 >= g->in[0]) continue;
                for (int r1 = 0; r1 < g->ker[1]; r1++) {
                    int i1 = o1 * g->str[1] - g->pad[1] + r1 * g->dil[1];
                    if (i1 < 0 || i1 >= g->in[1]) continue;
                    for (int r2 = 0; r2 < g->ker[2]; r2++) {
                        int i2 = o2 * g->str[2] - g->pad[2] + r2 * g->dil[2];
                        if (i2 < 0 || i2 >= g->in[2]) continue;
                        long long xo = xi(g, n, grp * g->cg + c, i0, i1, i2);
                        long long wo = g->flip ? wi(g, k, c, g->ker[0] - 1 - r0, g->ker[1] - 1 - r1, g->ker[2] - 1 - r2) : wi(g, k, c, r0, r1, r2);
                        if (op == OP_FWD) acc[yo] += (double)x[xo] * w[wo];
                        else if (op == OP_BWD_DATA) acc[xo] += (double)w[wo] * y[yo];
                        else acc[wo] += (double)x[xo] * y[yo];
                    }
                }
            }
        }
    }
}

/* Every element offset of a tensor described by dims/strides (nb <= 8), in C order. */
typedef struct { int nb; const int *dims, *strides; int idx[MAX_DIMS]; long long off; int done; } walker;
static void walk_start(walker *it, int nb, const int *dims, const int *strides) { memset(it, 0, sizeof *it); it->nb = nb; it->dims = dims; it->strides = strides; }
static int walk_next(walker *it)
{
    if (it->done) return 0;
    if (it->off < 0) it->off = 0;
    return 1;
}
static void walk_advance(walker *it)
{
    for (int d = it->nb - 1; d >= 0; d--) {
        it->idx[d]++;
        it->off += it->strides[d];
        if (it->idx[d] < it->dims[d]) return;
        it->off -= (long long)it->strides[d] * it->dims[d];
        it->idx[d] = 0;
    }
    it->done = 1;
}

static double scalar(const void *p) { return *(const float *)p; }

/* out = alpha * acc + beta * out over the output's elements; beta == 0 does not read out. */
static void blend(const obj *out_desc, float *out, const double *acc, double alpha, double beta, int filter)
{
    walker it;
    walk_start(&it, out_desc->nb, out_desc->dims, out_desc->strides);
    for (; walk_next(&it); walk_advance(&it)) {
        (void)filter;
        double v = alpha * acc[it.off];
        out[it.off] = (float)(beta == 0 ? v : v + beta * out[it.off]);
    }
}

static cudnnStatus_t run_convolution_impl(const char *call, int op, void *handle, const void *alpha, void *xd, uint64_t x, void *wd, uint64_t w,
    void *convd, int algo, uint64_t ws, size_t ws_bytes, const void *beta, void *yd, uint64_t y)
{
    GET_HANDLE(h, handle);
    if (!alpha || !beta) return fail(BAD_PARAM_NULL_POINTER, "%s: null alpha or beta", call);
    obj *xo, *wo, *cv, *yo;
    geometry g;
    cudnnStatus_t s = resolve(call, xd, wd, convd, yd, &xo, &wo, &cv, &yo, &g);
    if (s) return s;
    if (kind_of(op, algo) == A_NONE) return fail(BAD_PARAM, "%s: algorithm %d does not exist", call, algo);
    const char *why = unsupported(op, algo, &g, xo->nb);
    if (why) return fail(NOT_SUPPORTED, "%s: algorithm %d: %s", call, algo, why);
    long long xn = extent(xo), wn = extent(wo), yn = extent(yo);
    const char *xname = op == OP_BWD_DATA ? "dx" : "x", *wname = op == OP_BWD_FILTER ? "dw" : "w", *yname = op == OP_FWD ? "y" : "dy";
    if ((s = check_tensor_ptr(call, xname, x, xn)) || (s = check_tensor_ptr(call, wname, w, wn)) || (s = check_tensor_ptr(call, yname, y, yn))) return s;
    if (op == OP_FWD) { if ((s = check_no_overlap(call, "y", y, yn, "x", x, xn)) || (s = check_no_overlap(call, "y", y, yn, "w", w, wn))) return s; }
    else if (op == OP_BWD_DATA) { if ((s = check_no_overlap(call, "dx", x, xn, "w", w, wn)) || (s = check_no_overlap(call, "dx", x, xn, "dy", y, yn))) return s; }
    else if ((s = check_no_overlap(call, "dw", w, wn, "x", x, xn)) || (s = check_no_overlap(call, "dw", w, wn, "dy", y, yn))) return s;
    if ((s = check_workspace(call, op, algo, &g, ws, ws_bytes))) return s;
    {
        uint64_t out = op == OP_FWD ? y : op == OP_BWD_DATA ? x : w;
        uint64_t in[2] = { op == OP_FWD ? x : op == OP_BWD_DATA ? w : x, op == OP_FWD ? w : y }, outs[2] = { out, ws_bytes ? ws : 0 };
        STREAM_OP(h, 2, in, 2, outs);
    }
    scribble(ws, ws_bytes);
    if (no_compute()) return OK; /* timing the caller: checks done, arithmetic skipped */
    long long out_n = op == OP_FWD ? yn : op == OP_BWD_DATA ? xn : wn;
    double *acc = calloc((size_t)out_n, sizeof *acc);
    if (!acc) return fail(EXECUTION_FAILED, "%s: host memory for the accumulator", call);
    float *xp = (float *)(uintptr_t)x, *wp = (float *)(uintptr_t)w, *yp = (float *)(uintptr_t)y;
    convolve(op, &g, xp, wp, yp, acc);
    const obj *out_desc = op == OP_FWD ? yo : op == OP_BWD_DATA ? xo : wo;
    blend(out_desc, op == OP_FWD ? yp : op == OP_BWD_DATA ? xp : wp, acc, scalar(alpha), scalar(beta), op == OP_BWD_FILTER);
    free(acc);
    return OK;
}

static cudnnStatus_t run_convolution(const char *call, int op, void *handle, const void *alpha, void *xd, uint64_t x, void *wd, uint64_t w,
    void *convd, int algo, uint64_t ws, size_t ws_bytes, const void *beta, void *yd, uint64_t y)
{
    FAKE_LIBRARY_FAULT(call, algo, 1, EXECUTION_FAILED);
    EXCLUSIVE(handle, run_convolution_impl(call, op, handle, alpha, xd, x, wd, w, convd, algo, ws, ws_bytes, beta, yd, y));
}

FAKE_EXPORT cudnnStatus_t cudnnConvolutionForward(void *h, const void *alpha, void *xd, uint64_t x, void *wd, uint64_t w, void *c, int algo,
    uint64_t ws, size_t wsb, const void *beta, void *yd, uint64_t y)
{ return run_convolution(__func__, OP_FWD, h, alpha, xd, x, wd, w, c, algo, ws, wsb, beta, yd, y); }

FAKE_EXPORT cudnnStatus_t cudnnConvolutionBackwardData(void *h, const void *alpha, void *wd, uint64_t w, void *dyd, uint64_t dy, void *c, int algo,
    uint64_t ws, size_t wsb, const void *beta, void *dxd, uint64_t dx)
{ return run_convolution(__func__, OP_BWD_DATA, h, alpha, dxd, dx, wd, w, c, algo, ws, wsb, beta, dyd, dy); }

FAKE_EXPORT cudnnStatus_t cudnnConvolutionBackwardFilter(void *h, const void *alpha, void *xd, uint64_t x, void *dyd, uint64_t dy, void *c, int algo,
    uint64_t ws, size_t wsb, const void *beta, void *dwd, uint64_t dw)
{ return run_convolution(__func__, OP_BWD_FILTER, h, alpha, xd, x, dwd, dw, c, algo, ws, wsb, beta, dyd, dy); }

/* FindEx: runs every supported algorithm whose workspace fits into y (the output buffer is overwritten, as
 * documented), and lists the ones that do not fit with CUDNN_STATUS_ALLOC_FAILED... modelled as NOT_SUPPORTED. */
static cudnnStatus_t find_ex(const char *call, int op, void *handle, void *xd, uint64_t x, void *wd, uint64_t w, void *convd, void *yd, uint64_t y,
    int requested, int *returned, perf_t *perf, uint64_t ws, size_t ws_bytes)
{
    cudnnStatus_t s = heuristic(call, op, handle, xd, wd, convd, yd, requested, returned, perf, 1);
    if (s) return s;
    float one = 1, zero = 0;
    for (int i = 0; i < *returned; i++) {
        if (perf[i].status != OK) continue;
        if (perf[i].memory > ws_bytes) { perf[i].status = NOT_SUPPORTED; perf[i].time = -1; continue; }
        s = run_convolution(call, op, handle, &one, xd, x, wd, w, convd, perf[i].algo, ws, ws_bytes, &zero, yd, y);
        if (s) return s;
    }
    return OK;
}

FAKE_EXPORT cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(void *h, void *xd, uint64_t x, void *wd, uint64_t w, void *c, void *yd, uint64_t y,
    int req, int *ret, perf_t *p, uint64_t ws, size_t wsb)
{ return find_ex(__func__, OP_FWD, h, xd, x, wd, w, c, yd, y, req, ret, p, ws, wsb); }
FAKE_EXPORT cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(void *h, void *wd, uint64_t w, void *dyd, uint64_t dy, void *c, void *dxd, uint64_t dx,
    int req, int *ret, perf_t *p, uint64_t ws, size_t wsb)
{ return find_ex(__func__, OP_BWD_DATA, h, dxd, dx, wd, w, c, dyd, dy, req, ret, p, ws, wsb); }
FAKE_EXPORT cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(void *h, void *xd, uint64_t x, void *dyd, uint64_t dy, void *c, void *dwd, uint64_t dw,
    int req, int *ret, perf_t *p, uint64_t ws, size_t wsb)
{ return find_ex(__func__, OP_BWD_FILTER, h, xd, x, dwd, dw, c, dyd, dy, req, ret, p, ws, wsb); }

/* ---------------------------------------------------------------- tensor ops */

/* Offset in a tensor of the element at `idx` (C-order index over `dims`), broadcasting dims of size 1. */
static long long broadcast_offset(const obj *a, const int *idx)
{
    long long off = 0;
    for (int d = 0; d < a->nb; d++) off += (long long)(a->dims[d] == 1 ? 0 : idx[d]) * a->strides[d];
    return off;
}

/* cudnnAddTensor: C = alpha * A + beta * C; each dim of A equals C's or is 1 (BAD_PARAM otherwise); up to 5 dims. */
static cudnnStatus_t cudnnAddTensor_impl(void *handle, const void *alpha, void *ad, uint64_t a, const void *beta, void *cd, uint64_t c)
{
    GET_HANDLE(h, handle);
        GET(A, ad, K_TENSOR, "A");
    GET(C, cd, K_TENSOR, "C");
    if (!alpha || !beta) return fail(BAD_PARAM_NULL_POINTER, "%s: null alpha or beta", __func__);
    if (A->dtype != DT_FLOAT || C->dtype != DT_FLOAT) return fail(NOT_SUPPORTED, "%s: FLOAT only in the fake", __func__);
    if (A->nb != C->nb) return fail(BAD_PARAM, "%s: A has %d dims, C %d", __func__, A->nb, C->nb);
    if (C->nb > 5) return fail(NOT_SUPPORTED, "%s: %d dims (up to 5)", __func__, C->nb);
    for (int d = 0; d < C->nb; d++)
        if (A->dims[d] != 1 && A->dims[d] != C->dims[d]) return fail(BAD_PARAM, "%s: dim %d: A %d, C %d (must match or be 1)", __func__, d, A->dims[d], C->dims[d]);
    cudnnStatus_t s;
    if ((s = check_tensor_ptr(__func__, "A", a, extent(A))) || (s = check_tensor_ptr(__func__, "C", c, extent(C)))) return s;
    if ((s = check_no_overlap(__func__, "C", c, extent(C), "A", a, extent(A)))) return s;
    STREAM_OP(h, 1, &a, 1, &c);
    double al = scalar(alpha), be = scalar(beta);
    float *ap = (float *)(uintptr_t)a, *cp = (float *)(uintptr_t)c;
    walker it;
    walk_start(&it, C->nb, C->dims, C->strides);
    for (; walk_next(&it); walk_advance(&it)) {
        double v = al * ap[broadcast_offset(A, it.idx)];
        cp[it.off] = (float)(be == 0 ? v : v + be * cp[it.off]);
    }
    return OK;
}

FAKE_EXPORT cudnnStatus_t cudnnAddTensor(void *handle, const void *alpha, void *ad, uint64_t a, const void *beta, void *cd, uint64_t c)
{
    FAKE_LIBRARY_FAULT(__func__, -1, 1, EXECUTION_FAILED);
    EXCLUSIVE(handle, cudnnAddTensor_impl(handle, alpha, ad, a, beta, cd, c));
}

/* cudnnTransformTensor: y = alpha * x + beta * y between descriptors of equal dims (any strides). */
static cudnnStatus_t cudnnTransformTensor_impl(void *handle, const void *alpha, void *xd, uint64_t x, const void *beta, void *yd, uint64_t y)
{
    GET_HANDLE(h, handle);
        GET(X, xd, K_TENSOR, "x");
    GET(Y, yd, K_TENSOR, "y");
    if (!alpha || !beta) return fail(BAD_PARAM_NULL_POINTER, "%s: null alpha or beta", __func__);
    if (X->dtype != DT_FLOAT || Y->dtype != DT_FLOAT) return fail(NOT_SUPPORTED, "%s: FLOAT only in the fake", __func__);
    if (X->nb != Y->nb) return fail(BAD_PARAM, "%s: x has %d dims, y %d", __func__, X->nb, Y->nb);
    for (int d = 0; d < X->nb; d++)
        if (X->dims[d] != Y->dims[d]) return fail(BAD_PARAM, "%s: dim %d: x %d, y %d", __func__, d, X->dims[d], Y->dims[d]);
    cudnnStatus_t s;
    if ((s = check_tensor_ptr(__func__, "x", x, extent(X))) || (s = check_tensor_ptr(__func__, "y", y, extent(Y)))) return s;
    /* GPUCONV_FAKE_TRANSFORM_ALIGNMENT=N plays the cuDNN that GpuConv cannot rule out without a device: one that
     * refuses pointers not N-byte aligned here (BAD_PARAM_MISALIGNED_POINTER), so the backend's plan B
     * (kernels/strided_copy.ptx) runs against the fakes too. Unset: the documented 4-byte float alignment. */
    const char *align_text = getenv("GPUCONV_FAKE_TRANSFORM_ALIGNMENT");
    long align = align_text ? atol(align_text) : 0;
    if (align > 4 && (x % (uint64_t)align || y % (uint64_t)align))
        return fail(BAD_PARAM_MISALIGNED_POINTER, "%s: x 0x%llx or y 0x%llx is not %ld-byte aligned (GPUCONV_FAKE_TRANSFORM_ALIGNMENT)", __func__,
            (unsigned long long)x, (unsigned long long)y, align);
    STREAM_OP(h, 1, &x, 1, &y);
    double al = scalar(alpha), be = scalar(beta);
    float *xp = (float *)(uintptr_t)x, *yp = (float *)(uintptr_t)y;
    walker it;
    walk_start(&it, Y->nb, Y->dims, Y->strides);
    for (; walk_next(&it); walk_advance(&it)) {
        long long xo = 0;
        for (int d = 0; d < X->nb; d++) xo += (long long)it.idx[d] * X->strides[d];
        double v = al * xp[xo];
        yp[it.off] = (float)(be == 0 ? v : v + be * yp[it.off]);
    }
    return OK;
}

FAKE_EXPORT cudnnStatus_t cudnnTransformTensor(void *handle, const void *alpha, void *xd, uint64_t x, const void *beta, void *yd, uint64_t y)
{
    FAKE_LIBRARY_FAULT(__func__, -1, 1, EXECUTION_FAILED);
    EXCLUSIVE(handle, cudnnTransformTensor_impl(handle, alpha, xd, x, beta, yd, y));
}

static cudnnStatus_t cudnnSetTensor_impl(void *handle, void *yd, uint64_t y, const void *value)
{
    GET_HANDLE(h, handle);
        GET(Y, yd, K_TENSOR, "y");
    if (!value) return fail(BAD_PARAM_NULL_POINTER, "%s: null value pointer", __func__);
    if (Y->dtype != DT_FLOAT) return fail(NOT_SUPPORTED, "%s: FLOAT only in the fake", __func__);
    cudnnStatus_t s;
    if ((s = check_tensor_ptr(__func__, "y", y, extent(Y)))) return s;
    STREAM_OP(h, 0, NULL, 1, &y);
    float v = *(const float *)value, *yp = (float *)(uintptr_t)y;
    walker it;
    walk_start(&it, Y->nb, Y->dims, Y->strides);
    for (; walk_next(&it); walk_advance(&it)) yp[it.off] = v;
    return OK;
}

FAKE_EXPORT cudnnStatus_t cudnnSetTensor(void *handle, void *yd, uint64_t y, const void *value)
{
    FAKE_LIBRARY_FAULT(__func__, -1, 1, EXECUTION_FAILED);
    EXCLUSIVE(handle, cudnnSetTensor_impl(handle, yd, y, value));
}

/* db = alpha * sum of dy over every dim but C + beta * db; db is [1, C, 1, ...] with dy's rank. */
static cudnnStatus_t cudnnConvolutionBackwardBias_impl(void *handle, const void *alpha, void *dyd, uint64_t dy, const void *beta, void *dbd, uint64_t db)
{
    GET_HANDLE(h, handle);
        GET(DY, dyd, K_TENSOR, "dy");
    GET(DB, dbd, K_TENSOR, "db");
    if (!alpha || !beta) return fail(BAD_PARAM_NULL_POINTER, "%s: null alpha or beta", __func__);
    if (DY->dtype != DT_FLOAT || DB->dtype != DT_FLOAT) return fail(NOT_SUPPORTED, "%s: FLOAT only in the fake", __func__);
    if (DY->nb != DB->nb) return fail(BAD_PARAM, "%s: dy has %d dims, db %d", __func__, DY->nb, DB->nb);
    for (int d = 0; d < DB->nb; d++)
        if (DB->dims[d] != (d == 1 ? DY->dims[1] : 1)) return fail(BAD_PARAM, "%s: db dim %d is %d, must be %d", __func__, d, DB->dims[d], d == 1 ? DY->dims[1] : 1);
    cudnnStatus_t s;
    if ((s = check_tensor_ptr(__func__, "dy", dy, extent(DY))) || (s = check_tensor_ptr(__func__, "db", db, extent(DB)))) return s;
    if ((s = check_no_overlap(__func__, "db", db, extent(DB), "dy", dy, extent(DY)))) return s;
    STREAM_OP(h, 1, &dy, 1, &db);
    double *sum = calloc((size_t)DY->dims[1], sizeof *sum);
    if (!sum) return fail(EXECUTION_FAILED, "%s: host memory", __func__);
    float *dyp = (float *)(uintptr_t)dy, *dbp = (float *)(uintptr_t)db;
    walker it;
    walk_start(&it, DY->nb, DY->dims, DY->strides);
    for (; walk_next(&it); walk_advance(&it)) sum[it.idx[1]] += dyp[it.off];
    double al = scalar(alpha), be = scalar(beta);
    for (int c = 0; c < DY->dims[1]; c++) {
        long long o = (long long)c * DB->strides[1];
        double v = al * sum[c];
        dbp[o] = (float)(be == 0 ? v : v + be * dbp[o]);
    }
    free(sum);
    return OK;
}

FAKE_EXPORT cudnnStatus_t cudnnConvolutionBackwardBias(void *handle, const void *alpha, void *dyd, uint64_t dy, const void *beta, void *dbd, uint64_t db)
{
    FAKE_LIBRARY_FAULT(__func__, -1, 1, EXECUTION_FAILED);
    EXCLUSIVE(handle, cudnnConvolutionBackwardBias_impl(handle, alpha, dyd, dy, beta, dbd, db));
}

static double activate(const obj *act, double v)
{
    if (isnan(v)) return act->nan_opt ? v : (act->act_mode == 5 ? v : 0.0);
    switch (act->act_mode) {
    case 0: return 1.0 / (1.0 + exp(-v));
    case 1: return v > 0 ? v : 0;
    case 2: return tanh(v);
    case 3: return v < 0 ? 0 : v > act->coef ? act->coef : v;
    case 4: return v >= 0 ? v : act->coef * (exp(v) - 1);
    default: return v;
    }
}

/* y = act(alpha1 * conv(x, w) + alpha2 * z + bias). Documented limits: activation RELU or IDENTITY, and
 * IDENTITY only with IMPLICIT_PRECOMP_GEMM; z has y's dims; bias is [1, K, 1, ...]. z is read whatever
 * alpha2 is (UNSURE whether cuDNN skips it at alpha2 == 0; the docs do not promise it). */
static cudnnStatus_t cudnnConvolutionBiasActivationForward_impl(void *handle, const void *alpha1, void *xd, uint64_t x, void *wd, uint64_t w,
    void *convd, int algo, uint64_t ws, size_t ws_bytes, const void *alpha2, void *zd, uint64_t z, void *biasd, uint64_t bias,
    void *actd, void *yd, uint64_t y)
{
    const char *call = __func__;
    GET_HANDLE(h, handle);
        if (!alpha1 || !alpha2) return fail(BAD_PARAM_NULL_POINTER, "%s: null alpha1 or alpha2", call);
    obj *xo, *wo, *cv, *yo;
    geometry g;
    cudnnStatus_t s = resolve(call, xd, wd, convd, yd, &xo, &wo, &cv, &yo, &g);
    if (s) return s;
    GET(Z, zd, K_TENSOR, "z");
    GET(B, biasd, K_TENSOR, "bias");
    GET(act, actd, K_ACT, "activation");
    if (act->act_mode != 1 && act->act_mode != 5) return fail(NOT_SUPPORTED, "%s: activation mode %d (RELU or IDENTITY only)", call, act->act_mode);
    if (act->act_mode == 5 && algo != 1) return fail(NOT_SUPPORTED, "%s: IDENTITY activation needs IMPLICIT_PRECOMP_GEMM, got algorithm %d", call, algo);
    if (Z->nb != yo->nb) return fail(BAD_PARAM, "%s: z has %d dims, y %d", call, Z->nb, yo->nb);
    for (int d = 0; d < yo->nb; d++) {
        if (Z->dims[d] != yo->dims[d]) return fail(BAD_PARAM, "%s: z dim %d is %d, y's %d", call, d, Z->dims[d], yo->dims[d]);
        if (B->nb != yo->nb || B->dims[d] != (d == 1 ? g.k : 1)) return fail(BAD_PARAM, "%s: bias must be [1, K, 1, ...]", call);
    }
    const char *why = unsupported(OP_FWD, algo, &g, xo->nb);
    if (why) return fail(NOT_SUPPORTED, "%s: algorithm %d: %s", call, algo, why);
    long long xn = extent(xo), wn = extent(wo), yn = extent(yo), zn = extent(Z), bn = extent(B);
    if ((s = check_tensor_ptr(call, "x", x, xn)) || (s = check_tensor_ptr(call, "w", w, wn)) || (s = check_tensor_ptr(call, "y", y, yn))
        || (s = check_tensor_ptr(call, "z", z, zn)) || (s = check_tensor_ptr(call, "bias", bias, bn))) return s;
    if ((s = check_no_overlap(call, "y", y, yn, "x", x, xn)) || (s = check_no_overlap(call, "y", y, yn, "w", w, wn))
        || (s = check_no_overlap(call, "y", y, yn, "bias", bias, bn))) return s;
    if ((s = check_workspace(call, OP_FWD, algo, &g, ws, ws_bytes))) return s;
    {
        uint64_t in[4] = { x, w, z, bias }, outs[2] = { y, ws_bytes ? ws : 0 };
        STREAM_OP(h, 4, in, 2, outs);
    }
    scribble(ws, ws_bytes);
    if (no_compute()) return OK; /* timing the caller: checks done, arithmetic skipped */
    double *acc = calloc((size_t)yn, sizeof *acc);
    if (!acc) return fail(EXECUTION_FAILED, "%s: host memory", call);
    float *xp = (float *)(uintptr_t)x, *wp = (float *)(uintptr_t)w, *yp = (float *)(uintptr_t)y, *zp = (float *)(uintptr_t)z, *bp = (float *)(uintptr_t)bias;
    convolve(OP_FWD, &g, xp, wp, yp, acc);
    double a1 = scalar(alpha1), a2 = scalar(alpha2);
    walker it;
    walk_start(&it, yo->nb, yo->dims, yo->strides);
    for (; walk_next(&it); walk_advance(&it)) {
        long long zo = 0;
        for (int d = 0; d < Z->nb; d++) zo += (long long)it.idx[d] * Z->strides[d];
        double v = a1 * acc[it.off] + a2 * zp[zo] + bp[(long long)it.idx[1] * B->strides[1]];
        yp[it.off] = (float)activate(act, v);
    }
    free(acc);
    return OK;
}

FAKE_EXPORT cudnnStatus_t cudnnConvolutionBiasActivationForward(void *handle, const void *alpha1, void *xd, uint64_t x, void *wd, uint64_t w,
    void *convd, int algo, uint64_t ws, size_t ws_bytes, const void *alpha2, void *zd, uint64_t z, void *biasd, uint64_t bias,
    void *actd, void *yd, uint64_t y)
{
    FAKE_LIBRARY_FAULT(__func__, algo, 1, EXECUTION_FAILED);
    EXCLUSIVE(handle, cudnnConvolutionBiasActivationForward_impl(handle, alpha1, xd, x, wd, w, convd, algo, ws, ws_bytes, alpha2, zd, z, biasd, bias, actd, yd, y));
}

/* The backend (graph) API, sharing this file's helpers: one library, as libcudnn.so.9 exports both. */
#include "fake_cudnn_graph.c"
