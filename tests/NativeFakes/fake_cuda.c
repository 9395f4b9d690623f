/* Fake libcuda.so.1: the CUDA driver API entry points GpuConv binds (src/GpuConv/Cuda/Native/CudaDriver.cs),
 * on a CPU-only machine. It describes one H200 (sm_90, 132 SMs, 141 GB).
 *
 * Device memory is host memory (a CUdeviceptr is a host address), tracked so every pointer argument is
 * checked to lie inside one live allocation with enough bytes. New allocations are filled with 0xFF bytes
 * (a float NaN) so reading memory nobody wrote shows up as NaN in the results.
 * Streams and events run everything at call time (synchronously); events record a clock. Consequence: a
 * MISSING synchronisation is not caught here (work has always finished when a call returns).
 * cuLaunchKernel runs a launch hook registered with gpuconv_fake_set_launch_hook (e.g. a PTX interpreter),
 * else returns CUDA_ERROR_NOT_SUPPORTED (with GPUCONV_FAKE_NO_COMPUTE=1: accepts the launch and runs nothing).
 *
 * Strictness follows the CUDA driver API reference: calls before cuInit return CUDA_ERROR_NOT_INITIALIZED;
 * calls that need a context without one current on the thread return CUDA_ERROR_INVALID_CONTEXT; unknown
 * handles return CUDA_ERROR_INVALID_HANDLE; bad sizes and ranges CUDA_ERROR_INVALID_VALUE.
 * Environment: GPUCONV_FAKE_VERBOSE=1 logs every refusal to stderr; GPUCONV_FAKE_REPORT=<file> writes the
 * allocation and refusal counts there at exit; GPUCONV_FAKE_HOST_LIMIT_MB caps the host memory the fake
 * device may use (default 8192), beyond which cuMemAlloc reports CUDA_ERROR_OUT_OF_MEMORY. */
#define _GNU_SOURCE
#include "fake_common.h"
#include "fake_faults.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int CUresult;
typedef uint64_t CUdeviceptr; /* unsigned long long in cuda.h: the same 64 bits */

enum {
    CUDA_SUCCESS = 0, CUDA_ERROR_INVALID_VALUE = 1, CUDA_ERROR_OUT_OF_MEMORY = 2, CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_INVALID_DEVICE = 101, CUDA_ERROR_INVALID_IMAGE = 200, CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_INVALID_PTX = 218, CUDA_ERROR_INVALID_HANDLE = 400, CUDA_ERROR_ILLEGAL_STATE = 401, CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_NOT_READY = 600, CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701, CUDA_ERROR_NOT_SUPPORTED = 801,
    CUDA_ERROR_UNKNOWN = 999,
};

/* H200 SXM as nvidia-smi reports it: 143771 MiB. */
#define TOTAL_MEMORY 150754820096ULL
/* What the driver and context keep for themselves on a real device. */
#define RESERVED_MEMORY (600ULL << 20)

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static int initialised;
static int verbose = -1;

/* ---------------------------------------------------------------- logging and counters */

static long long n_allocs, n_frees, live_bytes, peak_bytes, n_refusals, n_launches, n_pinned_live;
/* Device allocations still live when the last retain of the primary context was released (freed by the release), summed over releases. */
static long long live_at_context_release;

static int is_verbose(void)
{
    if (verbose < 0) {
        const char *v = getenv("GPUCONV_FAKE_VERBOSE");
        verbose = v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
    }
    return verbose;
}

FAKE_EXPORT void gpuconv_fake_log(const char *library, const char *message)
{
    if (is_verbose()) fprintf(stderr, "[gpuconv-fake %s] %s\n", library, message);
}

/* Plain pthreads, no compiler builtins: the fakes also build with tcc (build.sh fetches it where no cc exists). */
static pthread_mutex_t counters = PTHREAD_MUTEX_INITIALIZER;

FAKE_EXPORT void gpuconv_fake_count_refusal(void)
{
    pthread_mutex_lock(&counters);
    n_refusals++;
    pthread_mutex_unlock(&counters);
}

/* Returns `status` after counting it and logging why (printf-style). */
__attribute__((format(printf, 2, 3))) static CUresult fail(CUresult status, const char *fmt, ...)
{
    gpuconv_fake_count_refusal();
    if (is_verbose()) {
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        fprintf(stderr, "[gpuconv-fake libcuda] %s -> CUresult %d\n", line, status);
    }
    return status;
}

/* ---------------------------------------------------------------- allocations */

/* The last write and the latest reads of an allocation, by stream id and that stream's operation number:
 * what the stream-ordering check compares against (see "stream ordering" below). */
#define READERS 4
typedef struct { int sid; uint64_t seq; } stream_access;
typedef struct { uint64_t base, bytes; int pinned; stream_access writer; stream_access readers[READERS]; } allocation;
static allocation *allocs;
static size_t n_live, cap_live;

static allocation *find_containing(uint64_t ptr)
{
    for (size_t i = 0; i < n_live; i++)
        if (ptr >= allocs[i].base && ptr < allocs[i].base + allocs[i].bytes) return &allocs[i];
    return NULL;
}

static int track(uint64_t base, uint64_t bytes, int pinned)
{
    if (n_live == cap_live) {
        size_t cap = cap_live ? cap_live * 2 : 256;
        allocation *grown = realloc(allocs, cap * sizeof *allocs);
        if (!grown) return 0;
        allocs = grown;
        cap_live = cap;
    }
    allocation a = { 0 };
    a.base = base; a.bytes = bytes; a.pinned = pinned;
    a.writer.sid = -1;
    for (int i = 0; i < READERS; i++) a.readers[i].sid = -1;
    allocs[n_live++] = a;
    return 1;
}

static void untrack(allocation *a) { *a = allocs[--n_live]; }

static uint64_t host_limit(void)
{
    const char *v = getenv("GPUCONV_FAKE_HOST_LIMIT_MB");
    long long mb = v ? atoll(v) : 8192;
    return (uint64_t)(mb > 0 ? mb : 8192) << 20;
}

FAKE_EXPORT int gpuconv_fake_check_device_range(uint64_t ptr, uint64_t bytes, const char *what)
{
    char line[512];
    if (ptr == 0) {
        snprintf(line, sizeof line, "%s: null device pointer (%llu bytes wanted)", what, (unsigned long long)bytes);
        gpuconv_fake_log("libcuda", line);
        return 1;
    }
    pthread_mutex_lock(&gate);
    allocation *a = find_containing(ptr);
    int bad = !a || a->pinned || ptr + bytes > a->base + a->bytes;
    if (bad) {
        if (!a)
            snprintf(line, sizeof line, "%s: 0x%llx is in no live device allocation", what, (unsigned long long)ptr);
        else if (a->pinned)
            snprintf(line, sizeof line, "%s: 0x%llx is pinned HOST memory, not a device allocation", what, (unsigned long long)ptr);
        else
            snprintf(line, sizeof line, "%s: [0x%llx, +%llu) runs %llu bytes past its allocation [0x%llx, +%llu)", what,
                (unsigned long long)ptr, (unsigned long long)bytes,
                (unsigned long long)(ptr + bytes - a->base - a->bytes), (unsigned long long)a->base, (unsigned long long)a->bytes);
    }
    pthread_mutex_unlock(&gate);
    if (bad) gpuconv_fake_log("libcuda", line);
    return bad;
}

/* ---------------------------------------------------------------- contexts */

/* The one device's primary context. Retained by cuDevicePrimaryCtxRetain; destroyed (with everything
 * made in it) when the last retain is released, as the driver does. */
static struct { uint32_t magic; int refs; } primary = { 0x43545821u, 0 };
/* The context current on each thread (a pthread key, not thread-local storage, for tcc). */
static pthread_key_t current_key;
static pthread_once_t current_once = PTHREAD_ONCE_INIT;
static void make_current_key(void) { pthread_key_create(&current_key, NULL); }
static void *current_get(void) { pthread_once(&current_once, make_current_key); return pthread_getspecific(current_key); }
static void current_set(void *ctx) { pthread_once(&current_once, make_current_key); pthread_setspecific(current_key, ctx); }

FAKE_EXPORT int gpuconv_fake_has_current_context(void) { return current_get() == (void *)&primary && primary.refs > 0; }

/* Contexts an application makes for itself (cuCtxCreate_v2): the fake keeps no memory, streams or handles in them.
 * GpuConv must never work in one (each of its calls makes the primary context current first) and must leave the
 * application's current context as it found it; tests make one current and check both. */
#define MAX_APP_CONTEXTS 16
static struct { uint32_t magic; int live; } app_contexts[MAX_APP_CONTEXTS];
static int is_app_context(void *ctx)
{
    for (int i = 0; i < MAX_APP_CONTEXTS; i++)
        if (ctx == (void *)&app_contexts[i] && app_contexts[i].live) return 1;
    return 0;
}

/* Calls that needed the primary context (driver calls; cuDNN / cuBLAS device work) made while another context or none
 * was current: each is refused, and counted for the exit report (wrong_context=N) and gpuconv_fake_wrong_context_calls. */
static long long n_wrong_context;
static const char *wrong_context(void)
{
    pthread_mutex_lock(&counters);
    n_wrong_context++;
    pthread_mutex_unlock(&counters);
    return is_app_context(current_get()) ? "with an application's context (cuCtxCreate_v2) current instead of the primary context"
                                         : "with no current context on this thread";
}
FAKE_EXPORT long long gpuconv_fake_wrong_context_calls(void)
{
    pthread_mutex_lock(&counters);
    long long n = n_wrong_context;
    pthread_mutex_unlock(&counters);
    return n;
}

#define NEED_INIT() do { if (!initialised) { return fail(CUDA_ERROR_NOT_INITIALIZED, "%s before cuInit", __func__); } FAULT_POINT(0); } while (0)
#define NEED_CONTEXT() do { if (!initialised) { return fail(CUDA_ERROR_NOT_INITIALIZED, "%s before cuInit", __func__); } \
        if (!gpuconv_fake_has_current_context()) { \
            return fail(CUDA_ERROR_INVALID_CONTEXT, "%s %s", __func__, wrong_context()); } \
        FAULT_POINT(1); } while (0)
/* Injected faults (fake_faults.h): checked after the strictness checks above, so a faulted call was a valid one. */
#define FAULT_POINT(context_call) do { int fault_ = gpuconv_fake_fault(__func__, (context_call)); \
        if (fault_) return fail(fault_, "%s: injected fault (GPUCONV_FAKE_FAULTS)", __func__); } while (0)

/* ---------------------------------------------------------------- handles: streams, events, modules, functions */

enum { KIND_STREAM = 1, KIND_EVENT, KIND_MODULE, KIND_FUNCTION };
typedef struct handle {
    int kind;
    unsigned flags;
    /* stream: its id for the ordering check; event: the stream and operation number it captured */
    int sid;
    uint64_t event_seq;
    uint64_t *event_waited; /* event: what its stream was ordered after when it was recorded (waits are transitive) */
    struct handle *next;
    /* event */
    int recorded;
    double recorded_ms;
    /* module: the PTX text; function: its module and entry name */
    char *text;
    struct handle *module;
    char *name;
} handle;
static handle *handles;

static handle *new_handle(int kind)
{
    handle *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->kind = kind;
    pthread_mutex_lock(&gate);
    h->next = handles;
    handles = h;
    pthread_mutex_unlock(&gate);
    return h;
}

static handle *lookup(void *p, int kind)
{
    handle *found = NULL;
    pthread_mutex_lock(&gate);
    for (handle *h = handles; h; h = h->next)
        if (h == p && h->kind == kind) { found = h; break; }
    pthread_mutex_unlock(&gate);
    return found;
}

static void free_handle(handle *h)
{
    pthread_mutex_lock(&gate);
    for (handle **pp = &handles; *pp; pp = &(*pp)->next)
        if (*pp == h) { *pp = h->next; break; }
    pthread_mutex_unlock(&gate);
    free(h->text);
    free(h->name);
    free(h->event_waited);
    free(h);
}

FAKE_EXPORT int gpuconv_fake_check_stream(void *stream)
{
    if ((uintptr_t)stream <= 2) return 0; /* 0 / CU_STREAM_LEGACY / CU_STREAM_PER_THREAD */
    if (lookup(stream, KIND_STREAM)) return 0;
    char line[128];
    snprintf(line, sizeof line, "stream %p is not a live stream", stream);
    gpuconv_fake_log("libcuda", line);
    return 1;
}

static CUresult check_stream(void *stream, const char *call)
{
    return gpuconv_fake_check_stream(stream) ? fail(CUDA_ERROR_INVALID_HANDLE, "%s: stream %p is not a live stream", call, stream) : CUDA_SUCCESS;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* ---------------------------------------------------------------- stream ordering
 * Work runs at call time here, so a missing synchronisation cannot corrupt data; instead every operation is
 * checked against what the real device would have ORDERED before it. Each stream (id 0 = the legacy/NULL
 * stream, CU_STREAM_PER_THREAD counted as it too) numbers its operations. An operation on stream S that
 * touches an allocation last written (or, for a write, read) by operation q of another stream T is ordered
 * only if the host has waited for T up to q (cuStreamSynchronize, cuCtxSynchronize, cuEventSynchronize) or S
 * waits for it (cuStreamWaitEvent on an event recorded on T after q; the legacy stream and BLOCKING streams
 * order with each other). Otherwise it is a race on a real GPU: the fake logs it (always), counts it, and
 * fails the call (CUDA_ERROR_ILLEGAL_STATE, cuDNN/cuBLAS EXECUTION_FAILED). This is a fake-only check: the
 * real device gives no error, just wrong data some of the time. */
#define MAX_STREAMS 256
static uint64_t stream_seq[MAX_STREAMS];            /* operations issued per stream */
static uint64_t host_seen[MAX_STREAMS];             /* operations the host has waited for, per stream */
static uint64_t waited[MAX_STREAMS][MAX_STREAMS];   /* waited[S][T]: S is ordered after T's operations up to this */
static unsigned stream_flags[MAX_STREAMS];
static int next_sid = 1;
static long long n_races;

/* The stream id of a stream argument (already checked to be live): -1 when the ordering check does not track it. */
static int sid_of(void *stream)
{
    if ((uintptr_t)stream <= 2) return 0;
    int sid = ((handle *)stream)->sid;
    return sid > 0 && sid < MAX_STREAMS ? sid : -1;
}

static int ordered(int s, stream_access a)
{
    if (a.sid < 0 || a.sid == s) return 1;
    return host_seen[a.sid] >= a.seq || waited[s][a.sid] >= a.seq;
}

static int ordered_for_host(stream_access a) { return a.sid < 0 || host_seen[a.sid] >= a.seq; }

/* Starts one operation on stream `sid`: numbers it and applies the legacy stream's implicit ordering. Call under gate. */
static uint64_t op_begin(int sid)
{
    if (sid < 0) return 0;
    if (sid == 0) {
        for (int t = 1; t < next_sid && t < MAX_STREAMS; t++)
            if (!(stream_flags[t] & 1) && waited[0][t] < stream_seq[t]) waited[0][t] = stream_seq[t];
    } else if (!(stream_flags[sid] & 1) && waited[sid][0] < stream_seq[0]) {
        waited[sid][0] = stream_seq[0];
    }
    return ++stream_seq[sid];
}

/* Checks and records one access of [ptr, ptr + bytes) by operation `seq` of stream `sid`. Returns 1 on a race. */
static int record_access(int sid, uint64_t seq, uint64_t ptr, int write, const char *what)
{
    if (sid < 0) return 0;
    allocation *a = find_containing(ptr);
    if (!a || a->pinned) return 0;
    const char *kind = NULL;
    stream_access other = { -1, 0 };
    if (!ordered(sid, a->writer)) { kind = write ? "write after write" : "read after write"; other = a->writer; }
    if (!kind && write)
        for (int i = 0; i < READERS; i++)
            if (!ordered(sid, a->readers[i])) { kind = "write after read"; other = a->readers[i]; break; }
    if (kind) {
        n_races++;
        fprintf(stderr, "[gpuconv-fake libcuda] RACE (%s): %s on stream #%d touches [0x%llx, +%llu) which operation %llu of stream #%d "
                        "uses, with no event wait or host synchronisation between them\n",
            kind, what, sid, (unsigned long long)a->base, (unsigned long long)a->bytes, (unsigned long long)other.seq, other.sid);
        return 1;
    }
    if (write) {
        a->writer = (stream_access){ sid, seq };
        for (int i = 0; i < READERS; i++) a->readers[i].sid = -1;
    } else {
        int slot = 0;
        for (int i = 0; i < READERS; i++) {
            if (a->readers[i].sid == sid || a->readers[i].sid < 0) { slot = i; break; }
            if (a->readers[i].seq < a->readers[slot].seq) slot = i;
        }
        a->readers[slot] = (stream_access){ sid, seq };
    }
    return 0;
}

/* For cuDNN, cuBLAS and the launch hook: one operation on `stream` that reads `nr` and writes `nw` pointers
 * (pointers outside device memory are ignored). Returns 1 when it races with other streams (logged). */
FAKE_EXPORT int gpuconv_fake_stream_op(void *stream, const char *what, int nr, const uint64_t *reads, int nw, const uint64_t *writes)
{
    if (gpuconv_fake_check_stream(stream)) return 0;
    pthread_mutex_lock(&gate);
    int sid = sid_of(stream), race = 0;
    uint64_t seq = op_begin(sid);
    for (int i = 0; i < nr && !race; i++) race = reads[i] && record_access(sid, seq, reads[i], 0, what);
    for (int i = 0; i < nw && !race; i++) race = writes[i] && record_access(sid, seq, writes[i], 1, what);
    pthread_mutex_unlock(&gate);
    return race;
}

/* The host waited for stream `sid`: its work, and everything it was ordered after, is complete. */
static void host_waits_for(int sid)
{
    if (sid < 0) return;
    host_seen[sid] = stream_seq[sid];
    for (int t = 0; t < MAX_STREAMS; t++)
        if (host_seen[t] < waited[sid][t]) host_seen[t] = waited[sid][t];
}

/* ---------------------------------------------------------------- init, versions, errors */

static void report_at_exit(int status, void *unused);

FAKE_EXPORT CUresult cuInit(unsigned flags)
{
    if (flags != 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuInit(flags=%u): flags must be 0", flags);
    FAULT_POINT(0);
    pthread_mutex_lock(&gate);
    if (!initialised) on_exit(report_at_exit, NULL);
    initialised = 1;
    pthread_mutex_unlock(&gate);
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuDriverGetVersion(int *version)
{
    if (!version) return fail(CUDA_ERROR_INVALID_VALUE, "cuDriverGetVersion(NULL)");
    *version = 13000; /* a CUDA 13.0 driver */
    return CUDA_SUCCESS;
}

static const struct { int code; const char *name, *text; } errors[] = {
    { 0, "CUDA_SUCCESS", "no error" },
    { 1, "CUDA_ERROR_INVALID_VALUE", "invalid argument" },
    { 2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory" },
    { 3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error" },
    { 101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal" },
    { 200, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid" },
    { 201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context" },
    { 218, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed" },
    { 400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle" },
    { 401, "CUDA_ERROR_ILLEGAL_STATE", "the operation is not permitted in this state (gpuconv fake: a stream race, see stderr)" },
    { 500, "CUDA_ERROR_NOT_FOUND", "named symbol not found" },
    { 600, "CUDA_ERROR_NOT_READY", "device not ready" },
    { 700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered" },
    { 701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch" },
    { 801, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported" },
    { 999, "CUDA_ERROR_UNKNOWN", "unknown error" },
};

static int error_index(CUresult e)
{
    for (size_t i = 0; i < sizeof errors / sizeof *errors; i++)
        if (errors[i].code == e) return (int)i;
    return -1;
}

/* The driver returns CUDA_ERROR_INVALID_VALUE (and sets *pStr = NULL) for a code it does not know. */
FAKE_EXPORT CUresult cuGetErrorName(CUresult e, const char **p)
{
    if (!p) return CUDA_ERROR_INVALID_VALUE;
    int i = error_index(e);
    *p = i < 0 ? NULL : errors[i].name;
    return i < 0 ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGetErrorString(CUresult e, const char **p)
{
    if (!p) return CUDA_ERROR_INVALID_VALUE;
    int i = error_index(e);
    *p = i < 0 ? NULL : errors[i].text;
    return i < 0 ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- devices */

FAKE_EXPORT CUresult cuDeviceGetCount(int *count)
{
    NEED_INIT();
    if (!count) return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceGetCount(NULL)");
    *count = gpuconv_fake_device_count();
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuDeviceGet(int *device, int ordinal)
{
    NEED_INIT();
    if (!device) return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceGet(NULL)");
    if (ordinal != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "cuDeviceGet(ordinal=%d): one device", ordinal);
    *device = 0;
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuDeviceGetName(char *name, int len, int dev)
{
    NEED_INIT();
    if (dev != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "cuDeviceGetName(dev=%d)", dev);
    if (!name || len <= 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceGetName(len=%d)", len);
    snprintf(name, (size_t)len, "%s", "NVIDIA H200 (GpuConv native fake)");
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuDeviceGetAttribute(int *value, int attribute, int dev)
{
    NEED_INIT();
    if (!value) return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceGetAttribute(NULL)");
    if (dev != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "cuDeviceGetAttribute(dev=%d)", dev);
    /* CUdevice_attribute values from cuda.h; an H200 SXM's answers. */
    switch (attribute) {
    case 1: *value = 1024; break;           /* MAX_THREADS_PER_BLOCK */
    case 2: *value = 1024; break;           /* MAX_BLOCK_DIM_X */
    case 3: *value = 1024; break;           /* MAX_BLOCK_DIM_Y */
    case 4: *value = 64; break;             /* MAX_BLOCK_DIM_Z */
    case 5: *value = 2147483647; break;     /* MAX_GRID_DIM_X */
    case 6: *value = 65535; break;          /* MAX_GRID_DIM_Y */
    case 7: *value = 65535; break;          /* MAX_GRID_DIM_Z */
    case 8: *value = 49152; break;          /* MAX_SHARED_MEMORY_PER_BLOCK */
    case 10: *value = 32; break;            /* WARP_SIZE */
    case 12: *value = 65536; break;         /* MAX_REGISTERS_PER_BLOCK */
    case 13: *value = 1980000; break;       /* CLOCK_RATE (kHz) */
    case 16: *value = 132; break;           /* MULTIPROCESSOR_COUNT */
    case 36: *value = 2619000; break;       /* MEMORY_CLOCK_RATE (kHz) */
    case 37: *value = 6144; break;          /* GLOBAL_MEMORY_BUS_WIDTH */
    case 38: *value = 52428800; break;      /* L2_CACHE_SIZE */
    case 39: *value = 2048; break;          /* MAX_THREADS_PER_MULTIPROCESSOR */
    case 41: *value = 1; break;             /* UNIFIED_ADDRESSING */
    case 75: *value = 9; break;             /* COMPUTE_CAPABILITY_MAJOR */
    case 76: *value = 0; break;             /* COMPUTE_CAPABILITY_MINOR */
    case 81: *value = 233472; break;        /* MAX_SHARED_MEMORY_PER_MULTIPROCESSOR */
    case 97: *value = 232448; break;        /* MAX_SHARED_MEMORY_PER_BLOCK_OPTIN */
    default:
        return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceGetAttribute(attribute=%d): not one the fake knows", attribute);
    }
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, int dev)
{
    NEED_INIT();
    if (!bytes) return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceTotalMem_v2(NULL)");
    if (dev != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "cuDeviceTotalMem_v2(dev=%d)", dev);
    *bytes = TOTAL_MEMORY;
    return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- primary context */

FAKE_EXPORT CUresult cuDevicePrimaryCtxRetain(void **ctx, int dev)
{
    NEED_INIT();
    if (!ctx) return fail(CUDA_ERROR_INVALID_VALUE, "cuDevicePrimaryCtxRetain(NULL)");
    if (dev != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "cuDevicePrimaryCtxRetain(dev=%d)", dev);
    pthread_mutex_lock(&gate);
    primary.refs++;
    pthread_mutex_unlock(&gate);
    *ctx = &primary;
    return CUDA_SUCCESS;
}

/* The last release destroys the context: its memory is freed and its streams, events and modules die. */
FAKE_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(int dev)
{
    NEED_INIT();
    if (dev != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "cuDevicePrimaryCtxRelease_v2(dev=%d)", dev);
    pthread_mutex_lock(&gate);
    if (primary.refs <= 0) {
        pthread_mutex_unlock(&gate);
        return fail(CUDA_ERROR_INVALID_CONTEXT, "cuDevicePrimaryCtxRelease_v2: released more often than retained");
    }
    if (--primary.refs == 0) {
        long long device_live = 0;
        for (size_t i = 0; i < n_live; i++)
            if (!allocs[i].pinned) device_live++;
        live_at_context_release += device_live;
        for (size_t i = 0; i < n_live;) {
            if (allocs[i].pinned) { i++; continue; }
            live_bytes -= (long long)allocs[i].bytes;
            free((void *)(uintptr_t)allocs[i].base);
            untrack(&allocs[i]);
        }
        handle *h = handles;
        handles = NULL;
        while (h) { handle *next = h->next; free(h->text); free(h->name); free(h->event_waited); free(h); h = next; }
    }
    pthread_mutex_unlock(&gate);
    return CUDA_SUCCESS;
}

/* Successful cuCtxSetCurrent calls, for tests that count GpuConv's context switches per engine call. */
static long long n_set_current;
FAKE_EXPORT long long gpuconv_fake_set_current_calls(void)
{
    pthread_mutex_lock(&counters);
    long long n = n_set_current;
    pthread_mutex_unlock(&counters);
    return n;
}

FAKE_EXPORT CUresult cuCtxSetCurrent(void *ctx)
{
    NEED_INIT();
    pthread_mutex_lock(&gate);
    int live = !ctx || (ctx == &primary && primary.refs > 0) || is_app_context(ctx);
    pthread_mutex_unlock(&gate);
    if (!live) return fail(CUDA_ERROR_INVALID_CONTEXT, "cuCtxSetCurrent(%p): not a live context", ctx);
    current_set(ctx);
    pthread_mutex_lock(&counters);
    n_set_current++;
    pthread_mutex_unlock(&counters);
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuCtxGetCurrent(void **ctx)
{
    NEED_INIT();
    if (!ctx) return fail(CUDA_ERROR_INVALID_VALUE, "cuCtxGetCurrent(NULL)");
    pthread_mutex_lock(&gate);
    void *current = current_get();
    *ctx = gpuconv_fake_has_current_context() || is_app_context(current) ? current : NULL;
    pthread_mutex_unlock(&gate);
    return CUDA_SUCCESS;
}

/* cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev) (cuCtxCreate of CUDA 12's cuda.h; CUDA 13's
 * cuCtxCreate is cuCtxCreate_v4, the driver keeps _v2 for programs built against older headers): a new context,
 * current on the calling thread. Not bound by GpuConv: tests make one to stand for an application's own context. */
FAKE_EXPORT CUresult cuCtxCreate_v2(void **pctx, unsigned int flags, int dev)
{
    NEED_INIT();
    if (!pctx) return fail(CUDA_ERROR_INVALID_VALUE, "cuCtxCreate_v2(NULL)");
    if (dev < 0 || dev >= gpuconv_fake_device_count()) return fail(CUDA_ERROR_INVALID_DEVICE, "cuCtxCreate_v2(dev=%d)", dev);
    if (flags > 0x3f) return fail(CUDA_ERROR_INVALID_VALUE, "cuCtxCreate_v2(flags=0x%x)", flags);
    pthread_mutex_lock(&gate);
    int slot = -1;
    for (int i = 0; i < MAX_APP_CONTEXTS && slot < 0; i++)
        if (!app_contexts[i].live) slot = i;
    if (slot >= 0) { app_contexts[slot].magic = 0x41505043u; app_contexts[slot].live = 1; }
    pthread_mutex_unlock(&gate);
    if (slot < 0) return fail(CUDA_ERROR_OUT_OF_MEMORY, "cuCtxCreate_v2: more than %d application contexts", MAX_APP_CONTEXTS);
    *pctx = &app_contexts[slot];
    current_set(*pctx);
    return CUDA_SUCCESS;
}

/* cuCtxDestroy_v2(CUcontext ctx): an application's context only (the primary context is released, not destroyed);
 * unbound from the calling thread when current there. */
FAKE_EXPORT CUresult cuCtxDestroy_v2(void *ctx)
{
    NEED_INIT();
    pthread_mutex_lock(&gate);
    int live = is_app_context(ctx);
    for (int i = 0; i < MAX_APP_CONTEXTS; i++)
        if (ctx == (void *)&app_contexts[i]) app_contexts[i].live = 0;
    pthread_mutex_unlock(&gate);
    if (!live) return fail(CUDA_ERROR_INVALID_CONTEXT, "cuCtxDestroy_v2(%p): not a live application context", ctx);
    if (current_get() == ctx) current_set(NULL);
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuCtxSynchronize(void)
{
    NEED_CONTEXT();
    pthread_mutex_lock(&gate);
    for (int t = 0; t < next_sid && t < MAX_STREAMS; t++) host_waits_for(t);
    pthread_mutex_unlock(&gate);
    return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- memory */

FAKE_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytes)
{
    NEED_CONTEXT();
    if (!dptr) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemAlloc_v2(NULL)");
    if (bytes == 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemAlloc_v2(0 bytes)");
    if (bytes > TOTAL_MEMORY - RESERVED_MEMORY - (uint64_t)live_bytes)
        return fail(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc_v2(%zu): more than the device has free", bytes);
    if ((uint64_t)live_bytes + bytes > host_limit())
        return fail(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc_v2(%zu): past GPUCONV_FAKE_HOST_LIMIT_MB", bytes);
    /* The driver aligns allocations to at least 256 bytes. */
    void *p = aligned_alloc(256, (bytes + 255) / 256 * 256);
    if (!p) return fail(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc_v2(%zu): host malloc failed", bytes);
    memset(p, 0xFF, bytes); /* NaN: unwritten memory read as data shows up */
    pthread_mutex_lock(&gate);
    int ok = track((uintptr_t)p, bytes, 0);
    if (ok) {
        n_allocs++;
        live_bytes += (long long)bytes;
        if (live_bytes > peak_bytes) peak_bytes = live_bytes;
    }
    pthread_mutex_unlock(&gate);
    if (!ok) { free(p); return fail(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc_v2: tracking table full"); }
    *dptr = (uintptr_t)p;
    return CUDA_SUCCESS;
}

/* cuMemFree takes the pointer cuMemAlloc returned; any other (inside an allocation, freed twice,
 * pinned host memory) is CUDA_ERROR_INVALID_VALUE. */
FAKE_EXPORT CUresult cuMemFree_v2(CUdeviceptr ptr)
{
    NEED_CONTEXT();
    pthread_mutex_lock(&gate);
    allocation *a = find_containing(ptr);
    if (!a || a->base != ptr || a->pinned) {
        pthread_mutex_unlock(&gate);
        return fail(CUDA_ERROR_INVALID_VALUE, "cuMemFree_v2(0x%llx): not the start of a live device allocation", (unsigned long long)ptr);
    }
    /* Fake-only strictness: GpuConv's pool promises to wait for the device before it frees a block it handed out
     * (DeviceMemoryPool), so a block still in use by work the host has not waited for is reported as a race. */
    const stream_access *pending = NULL;
    if (!ordered_for_host(a->writer)) pending = &a->writer;
    for (int i = 0; i < READERS && !pending; i++)
        if (!ordered_for_host(a->readers[i])) pending = &a->readers[i];
    if (pending) {
        n_races++;
        fprintf(stderr, "[gpuconv-fake libcuda] RACE (free while in use): cuMemFree_v2(0x%llx) while operation %llu of stream #%d, "
                        "which the host has not waited for, uses it\n", (unsigned long long)ptr, (unsigned long long)pending->seq, pending->sid);
        pthread_mutex_unlock(&gate);
        return fail(CUDA_ERROR_ILLEGAL_STATE, "cuMemFree_v2(0x%llx): still in use on a stream", (unsigned long long)ptr);
    }
    live_bytes -= (long long)a->bytes;
    n_frees++;
    untrack(a);
    pthread_mutex_unlock(&gate);
    free((void *)(uintptr_t)ptr);
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
    NEED_CONTEXT();
    if (!free_bytes || !total) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemGetInfo_v2(NULL)");
    *total = TOTAL_MEMORY;
    *free_bytes = TOTAL_MEMORY - RESERVED_MEMORY - (uint64_t)live_bytes;
    return CUDA_SUCCESS;
}

static CUresult check_range(CUdeviceptr p, size_t bytes, const char *call, const char *what)
{
    char label[128];
    snprintf(label, sizeof label, "%s %s", call, what);
    return gpuconv_fake_check_device_range(p, bytes, label)
        ? fail(CUDA_ERROR_INVALID_VALUE, "%s: [0x%llx, +%zu) is not inside one live device allocation", label, (unsigned long long)p, bytes)
        : CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t bytes, void *stream)
{
    NEED_CONTEXT();
    CUresult r;
    if ((r = check_stream(stream, __func__))) return r;
    if (bytes == 0) return CUDA_SUCCESS;
    if (!src) return fail(CUDA_ERROR_INVALID_VALUE, "%s: null host source", __func__);
    if ((r = check_range(dst, bytes, __func__, "dst"))) return r;
    if (gpuconv_fake_stream_op(stream, __func__, 0, NULL, 1, &dst)) return fail(CUDA_ERROR_ILLEGAL_STATE, "%s: stream race (above)", __func__);
    memcpy((void *)(uintptr_t)dst, src, bytes);
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t bytes, void *stream)
{
    NEED_CONTEXT();
    CUresult r;
    if ((r = check_stream(stream, __func__))) return r;
    if (bytes == 0) return CUDA_SUCCESS;
    if (!dst) return fail(CUDA_ERROR_INVALID_VALUE, "%s: null host destination", __func__);
    if ((r = check_range(src, bytes, __func__, "src"))) return r;
    if (gpuconv_fake_stream_op(stream, __func__, 1, &src, 0, NULL)) return fail(CUDA_ERROR_ILLEGAL_STATE, "%s: stream race (above)", __func__);
    memcpy(dst, (void *)(uintptr_t)src, bytes);
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes, void *stream)
{
    NEED_CONTEXT();
    CUresult r;
    if ((r = check_stream(stream, __func__))) return r;
    if (bytes == 0) return CUDA_SUCCESS;
    if ((r = check_range(dst, bytes, __func__, "dst")) || (r = check_range(src, bytes, __func__, "src"))) return r;
    if (gpuconv_fake_stream_op(stream, __func__, 1, &src, 1, &dst)) return fail(CUDA_ERROR_ILLEGAL_STATE, "%s: stream race (above)", __func__);
    memmove((void *)(uintptr_t)dst, (void *)(uintptr_t)src, bytes);
    return CUDA_SUCCESS;
}

/* cuMemsetD32: dst must be 4-byte aligned (CUDA_ERROR_INVALID_VALUE otherwise); n counts 32-bit words. */
FAKE_EXPORT CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned value, size_t n, void *stream)
{
    NEED_CONTEXT();
    CUresult r;
    if ((r = check_stream(stream, __func__))) return r;
    if (dst % 4) return fail(CUDA_ERROR_INVALID_VALUE, "%s: dst 0x%llx is not 4-byte aligned", __func__, (unsigned long long)dst);
    if (n == 0) return CUDA_SUCCESS;
    if ((r = check_range(dst, n * 4, __func__, "dst"))) return r;
    if (gpuconv_fake_stream_op(stream, __func__, 0, NULL, 1, &dst)) return fail(CUDA_ERROR_ILLEGAL_STATE, "%s: stream race (above)", __func__);
    unsigned *p = (unsigned *)(uintptr_t)dst;
    for (size_t i = 0; i < n; i++) p[i] = value;
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemAllocHost_v2(void **pp, size_t bytes)
{
    NEED_CONTEXT();
    if (!pp) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemAllocHost_v2(NULL)");
    if (bytes == 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemAllocHost_v2(0 bytes)");
    void *p = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
    if (!p) return fail(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAllocHost_v2(%zu)", bytes);
    pthread_mutex_lock(&gate);
    int ok = track((uintptr_t)p, bytes, 1);
    if (ok) n_pinned_live++;
    pthread_mutex_unlock(&gate);
    if (!ok) { free(p); return fail(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAllocHost_v2: tracking table full"); }
    *pp = p;
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuMemFreeHost(void *p)
{
    NEED_CONTEXT();
    pthread_mutex_lock(&gate);
    allocation *a = find_containing((uintptr_t)p);
    if (!a || a->base != (uintptr_t)p || !a->pinned) {
        pthread_mutex_unlock(&gate);
        return fail(CUDA_ERROR_INVALID_VALUE, "cuMemFreeHost(%p): not a live pinned allocation", p);
    }
    untrack(a);
    n_pinned_live--;
    pthread_mutex_unlock(&gate);
    free(p);
    return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- streams and events */

FAKE_EXPORT CUresult cuStreamCreate(void **stream, unsigned flags)
{
    NEED_CONTEXT();
    if (!stream) return fail(CUDA_ERROR_INVALID_VALUE, "cuStreamCreate(NULL)");
    if (flags > 1) return fail(CUDA_ERROR_INVALID_VALUE, "cuStreamCreate(flags=%u): only DEFAULT (0) and NON_BLOCKING (1)", flags);
    handle *h = new_handle(KIND_STREAM);
    if (!h) return fail(CUDA_ERROR_OUT_OF_MEMORY, "cuStreamCreate");
    h->flags = flags;
    pthread_mutex_lock(&gate);
    h->sid = next_sid < MAX_STREAMS ? next_sid++ : -1; /* past 255 streams a stream is not tracked */
    if (h->sid > 0) {
        stream_flags[h->sid] = flags;
        stream_seq[h->sid] = host_seen[h->sid] = 0;
        for (int t = 0; t < MAX_STREAMS; t++) waited[h->sid][t] = 0;
    }
    pthread_mutex_unlock(&gate);
    *stream = h;
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuStreamSynchronize(void *stream)
{
    NEED_CONTEXT();
    CUresult r = check_stream(stream, __func__);
    if (r) return r;
    pthread_mutex_lock(&gate);
    host_waits_for(sid_of(stream));
    pthread_mutex_unlock(&gate);
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuStreamDestroy_v2(void *stream)
{
    NEED_CONTEXT();
    handle *h = lookup(stream, KIND_STREAM);
    if (!h) return fail(CUDA_ERROR_INVALID_HANDLE, "cuStreamDestroy_v2(%p): not a live stream", stream);
    free_handle(h);
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuEventCreate(void **event, unsigned flags)
{
    NEED_CONTEXT();
    if (!event) return fail(CUDA_ERROR_INVALID_VALUE, "cuEventCreate(NULL)");
    if (flags & ~7u) return fail(CUDA_ERROR_INVALID_VALUE, "cuEventCreate(flags=%u)", flags);
    handle *h = new_handle(KIND_EVENT);
    if (!h) return fail(CUDA_ERROR_OUT_OF_MEMORY, "cuEventCreate");
    h->flags = flags;
    *event = h;
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuEventRecord(void *event, void *stream)
{
    NEED_CONTEXT();
    handle *h = lookup(event, KIND_EVENT);
    if (!h) return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventRecord(%p): not a live event", event);
    CUresult r;
    if ((r = check_stream(stream, __func__))) return r;
    h->recorded = 1;
    h->recorded_ms = now_ms();
    pthread_mutex_lock(&gate);
    h->sid = sid_of(stream);
    h->event_seq = h->sid >= 0 ? stream_seq[h->sid] : 0;
    if (!h->event_waited) h->event_waited = calloc(MAX_STREAMS, sizeof *h->event_waited);
    if (h->event_waited && h->sid >= 0) memcpy(h->event_waited, waited[h->sid], MAX_STREAMS * sizeof *h->event_waited);
    pthread_mutex_unlock(&gate);
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuStreamWaitEvent(void *stream, void *event, unsigned flags)
{
    NEED_CONTEXT();
    CUresult r;
    if ((r = check_stream(stream, __func__))) return r;
    handle *e = lookup(event, KIND_EVENT);
    if (!e) return fail(CUDA_ERROR_INVALID_HANDLE, "cuStreamWaitEvent(event %p): not a live event", event);
    if (flags != 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuStreamWaitEvent(flags=%u): must be 0", flags);
    pthread_mutex_lock(&gate);
    int s = sid_of(stream);
    /* An event never recorded is complete: waiting on it orders nothing. */
    if (e->recorded && s >= 0 && e->sid >= 0) {
        if (waited[s][e->sid] < e->event_seq) waited[s][e->sid] = e->event_seq;
        for (int t = 0; t < MAX_STREAMS && e->event_waited; t++)
            if (waited[s][t] < e->event_waited[t]) waited[s][t] = e->event_waited[t];
    }
    pthread_mutex_unlock(&gate);
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuEventSynchronize(void *event)
{
    NEED_CONTEXT();
    handle *e = lookup(event, KIND_EVENT);
    if (!e) return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventSynchronize(%p)", event);
    pthread_mutex_lock(&gate);
    if (e->recorded && e->sid >= 0) {
        if (host_seen[e->sid] < e->event_seq) host_seen[e->sid] = e->event_seq;
        for (int t = 0; t < MAX_STREAMS && e->event_waited; t++)
            if (host_seen[t] < e->event_waited[t]) host_seen[t] = e->event_waited[t];
    }
    pthread_mutex_unlock(&gate);
    return CUDA_SUCCESS;
}

/* Both events must exist, be recorded, and not be DISABLE_TIMING (CUDA_ERROR_INVALID_HANDLE otherwise). */
static CUresult elapsed(float *ms, void *start, void *end, const char *call)
{
    NEED_CONTEXT();
    if (!ms) return fail(CUDA_ERROR_INVALID_VALUE, "%s(NULL)", call);
    handle *a = lookup(start, KIND_EVENT), *b = lookup(end, KIND_EVENT);
    if (!a || !b) return fail(CUDA_ERROR_INVALID_HANDLE, "%s: not live events", call);
    if ((a->flags | b->flags) & 2) return fail(CUDA_ERROR_INVALID_HANDLE, "%s: an event was created with CU_EVENT_DISABLE_TIMING", call);
    if (!a->recorded || !b->recorded) return fail(CUDA_ERROR_INVALID_HANDLE, "%s: an event was never recorded", call);
    *ms = (float)(b->recorded_ms - a->recorded_ms);
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuEventElapsedTime_v2(float *ms, void *start, void *end) { return elapsed(ms, start, end, __func__); }
FAKE_EXPORT CUresult cuEventElapsedTime(float *ms, void *start, void *end) { return elapsed(ms, start, end, __func__); }

FAKE_EXPORT CUresult cuEventDestroy_v2(void *event)
{
    NEED_CONTEXT();
    handle *h = lookup(event, KIND_EVENT);
    if (!h) return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventDestroy_v2(%p): not a live event", event);
    free_handle(h);
    return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- modules and launches */

enum { CU_JIT_INFO_LOG_BUFFER = 3, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4, CU_JIT_ERROR_LOG_BUFFER = 5, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6 };

/* Where `.entry name` starts in the PTX text, or NULL. */
static const char *find_entry(const char *ptx, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(ptx, ".entry"); p; p = strstr(p + 6, ".entry")) {
        const char *q = p + 6;
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
        if (strncmp(q, name, n) == 0) {
            char c = q[n];
            if (!(c == '_' || c == '$' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return p;
        }
    }
    return NULL;
}

/* The JIT's check, when GPUCONV_PTXAS names NVIDIA's ptxas (build/fetch-ptxas.sh): the text is assembled for
 * sm_90 and ptxas's messages go to the error log, as the driver's JIT puts its own there. Without ptxas only
 * the directives are checked. Returns 1 when ptxas rejected the text. */
static int ptxas_rejects(const char *text, char *error_log, size_t error_size)
{
    if (error_log && error_size) error_log[0] = 0;
    const char *ptxas = getenv("GPUCONV_PTXAS");
    if (!ptxas || !*ptxas) return 0;
    if (access(ptxas, X_OK) != 0) {
        gpuconv_fake_log("libcuda", "GPUCONV_PTXAS is set but not an executable file: PTX is not assembled at module load");
        return 0;
    }
    char dir[] = "/tmp/gpuconv-fake-jit-XXXXXX";
    if (!mkdtemp(dir)) return 0;
    char src[64], log[64], cmd[1024];
    snprintf(src, sizeof src, "%s/m.ptx", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    FILE *f = fopen(src, "w");
    int rejected = 0;
    if (f) {
        fputs(text, f);
        fclose(f);
        snprintf(cmd, sizeof cmd, "'%s' -arch=sm_90 -o /dev/null '%s' >'%s' 2>&1", ptxas, src, log);
        rejected = system(cmd) != 0;
        if (rejected && error_log && error_size) {
            FILE *l = fopen(log, "r");
            size_t n = l ? fread(error_log, 1, error_size - 1, l) : 0;
            error_log[n] = 0;
            if (l) fclose(l);
        }
    }
    unlink(src);
    unlink(log);
    rmdir(dir);
    return rejected;
}

/* Accepts a NUL-terminated PTX text with .version (ISA <= 9.x, what a CUDA 13 driver JITs) and a
 * .target of sm_90 or lower; writes the error log option like the JIT does. A cubin/fatbin is refused. */
FAKE_EXPORT CUresult cuModuleLoadDataEx(void **module, const void *image, unsigned n_options, int *options, void **values)
{
    NEED_CONTEXT();
    if (!module || !image) return fail(CUDA_ERROR_INVALID_VALUE, "cuModuleLoadDataEx(NULL)");
    if (n_options && (!options || !values)) return fail(CUDA_ERROR_INVALID_VALUE, "cuModuleLoadDataEx: %u options but no arrays", n_options);
    char *error_log = NULL;
    size_t error_size = 0;
    for (unsigned i = 0; i < n_options; i++) {
        if (options[i] == CU_JIT_ERROR_LOG_BUFFER) error_log = values[i];
        else if (options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES) error_size = (size_t)(uintptr_t)values[i];
        else if (options[i] == CU_JIT_INFO_LOG_BUFFER) { if (values[i]) *(char *)values[i] = 0; }
        else if (options[i] != CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES)
            return fail(CUDA_ERROR_INVALID_VALUE, "cuModuleLoadDataEx: JIT option %d not modelled by the fake", options[i]);
    }
    const char *text = image;
    const char *why = NULL;
    const char *version = strstr(text, ".version"), *target = strstr(text, ".target");
    int major = 0, minor = 0, sm = 0;
    if (!version || sscanf(version, ".version %d.%d", &major, &minor) != 2) why = "no .version directive (not PTX text)";
    else if (major > 9) why = "PTX ISA newer than this driver (CUDA 13.0) supports";
    else if (!target || sscanf(target, ".target sm_%d", &sm) != 1) why = "no .target sm_XX directive";
    else if (sm > 90) why = ".target is newer than the device (sm_90)";
    if (why) {
        if (error_log && error_size) snprintf(error_log, error_size, "ptxas fatal (gpuconv fake): %s", why);
        return fail(CUDA_ERROR_INVALID_PTX, "cuModuleLoadDataEx: %s", why);
    }
    if (ptxas_rejects(text, error_log, error_size)) return fail(CUDA_ERROR_INVALID_PTX, "cuModuleLoadDataEx: ptxas rejected the PTX");
    handle *h = new_handle(KIND_MODULE);
    if (!h || !(h->text = strdup(text))) return fail(CUDA_ERROR_OUT_OF_MEMORY, "cuModuleLoadDataEx");
    *module = h;
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuModuleGetFunction(void **function, void *module, const char *name)
{
    NEED_CONTEXT();
    if (!function || !name) return fail(CUDA_ERROR_INVALID_VALUE, "cuModuleGetFunction(NULL)");
    handle *m = lookup(module, KIND_MODULE);
    if (!m) return fail(CUDA_ERROR_INVALID_HANDLE, "cuModuleGetFunction: module %p is not loaded", module);
    if (!find_entry(m->text, name)) return fail(CUDA_ERROR_NOT_FOUND, "cuModuleGetFunction: no .entry %s in the module", name);
    handle *f = new_handle(KIND_FUNCTION);
    if (!f || !(f->name = strdup(name))) return fail(CUDA_ERROR_OUT_OF_MEMORY, "cuModuleGetFunction");
    f->module = m;
    *function = f;
    return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuModuleUnload(void *module)
{
    NEED_CONTEXT();
    handle *m = lookup(module, KIND_MODULE);
    if (!m) return fail(CUDA_ERROR_INVALID_HANDLE, "cuModuleUnload(%p): not loaded", module);
    pthread_mutex_lock(&gate);
    for (handle *h = handles; h; h = h->next)
        if (h->kind == KIND_FUNCTION && h->module == m) h->kind = 0; /* its functions die with it */
    pthread_mutex_unlock(&gate);
    free_handle(m);
    return CUDA_SUCCESS;
}

/* Runs one launch: the PTX text, the entry's name, the geometry and the kernelParams array exactly as
 * cuLaunchKernel got it, and the stream (the hook reports the kernel's pointer arguments to gpuconv_fake_stream_op
 * for the ordering check). Returns a CUresult. */
typedef int (*gpuconv_fake_launch_hook)(const char *ptx, const char *entry, const unsigned *grid, const unsigned *block,
    unsigned shared_bytes, void **params, void *stream);
static gpuconv_fake_launch_hook launch_hook;

FAKE_EXPORT void gpuconv_fake_set_launch_hook(gpuconv_fake_launch_hook hook) { launch_hook = hook; }

FAKE_EXPORT CUresult cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
    unsigned shared, void *stream, void **params, void **extra)
{
    NEED_CONTEXT();
    handle *f = lookup(function, KIND_FUNCTION);
    if (!f) return fail(CUDA_ERROR_INVALID_HANDLE, "cuLaunchKernel: function %p is not live", function);
    if (!gx || !gy || !gz || !bx || !by || !bz) return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel: a zero grid or block dimension");
    if (gy > 65535 || gz > 65535 || bx > 1024 || by > 1024 || bz > 64 || (unsigned long long)bx * by * bz > 1024)
        return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel: block (%u,%u,%u) / grid (%u,%u,%u) over the device's limits", bx, by, bz, gx, gy, gz);
    if (shared > 49152) return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel: %u bytes of dynamic shared memory (48 KiB without opt-in)", shared);
    CUresult r;
    if ((r = check_stream(stream, __func__))) return r;
    if (params && extra) return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel: both kernelParams and extra given");
    if (!launch_hook) {
        /* GPUCONV_FAKE_NO_COMPUTE=1 (as in the cuDNN and cuBLAS fakes): a process without the PTX interpreter (the
         * gpuconv CLI) gets its launches accepted after the checks above, without running them, so its speed and
         * overhead paths run end to end; results are then wrong. */
        const char *nc = getenv("GPUCONV_FAKE_NO_COMPUTE");
        if (nc && strcmp(nc, "1") == 0) {
            pthread_mutex_lock(&counters);
            n_launches++;
            pthread_mutex_unlock(&counters);
            return CUDA_SUCCESS;
        }
        return fail(CUDA_ERROR_NOT_SUPPORTED, "cuLaunchKernel(%s): no launch hook registered (gpuconv_fake_set_launch_hook)", f->name);
    }
    unsigned grid[3] = { gx, gy, gz }, block[3] = { bx, by, bz };
    pthread_mutex_lock(&counters);
    n_launches++;
    pthread_mutex_unlock(&counters);
    r = launch_hook(f->module->text, f->name, grid, block, shared, params, stream);
    return r ? fail(r, "cuLaunchKernel(%s): the launch hook reported an error", f->name) : CUDA_SUCCESS;
}

/* The live device allocations (base, bytes), up to `max`; returns how many there are. For a launch hook that
 * checks a kernel's loads and stores the way the device's memory protection would. */
FAKE_EXPORT int gpuconv_fake_allocations(uint64_t *bases, uint64_t *sizes, int max)
{
    pthread_mutex_lock(&gate);
    int k = 0;
    for (size_t i = 0; i < n_live; i++) {
        if (allocs[i].pinned) continue;
        if (k < max) { bases[k] = allocs[i].base; sizes[k] = allocs[i].bytes; }
        k++;
    }
    pthread_mutex_unlock(&gate);
    return k;
}

/* ---------------------------------------------------------------- statistics */

FAKE_EXPORT void gpuconv_fake_stats(long long *live_allocations, long long *live_device_bytes, long long *allocations,
    long long *frees, long long *refusals)
{
    pthread_mutex_lock(&gate);
    long long device_live = 0;
    for (size_t i = 0; i < n_live; i++)
        if (!allocs[i].pinned) device_live++;
    if (live_allocations) *live_allocations = device_live;
    if (live_device_bytes) *live_device_bytes = live_bytes;
    if (allocations) *allocations = n_allocs;
    if (frees) *frees = n_frees;
    if (refusals) *refusals = n_refusals;
    pthread_mutex_unlock(&gate);
}

/* Registered with on_exit by cuInit (not a destructor attribute, which tcc ignores; on_exit rather than atexit,
 * which lives in libc_nonshared.a that a tcc link does not see). */
static void report_at_exit(int status, void *unused)
{
    const char *path = getenv("GPUCONV_FAKE_REPORT");
    if (!path || !*path) return;
    FILE *f = fopen(path, "a");
    if (!f) return;
    long long device_live = 0;
    for (size_t i = 0; i < n_live; i++)
        if (!allocs[i].pinned) device_live++;
    fprintf(f, "allocations=%lld frees=%lld live_allocations=%lld live_bytes=%lld peak_bytes=%lld pinned_live=%lld "
               "live_at_context_release=%lld launches=%lld refusals=%lld races=%lld wrong_context=%lld\n",
        n_allocs, n_frees, device_live, live_bytes, peak_bytes, n_pinned_live, live_at_context_release, n_launches, n_refusals, n_races,
        n_wrong_context);
    fclose(f);
}

/* Fault injection and live-resource counts: part of this library (they read the tables above). */
#include "fake_faults.c"
