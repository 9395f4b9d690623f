/* Fake libcublas.so.13: the cuBLAS entry points GpuConv binds (src/GpuConv/Cuda/Native/CuBlas.cs), column-major,
 * computed in double on the host. Validation follows the cuBLAS documentation of cublas<t>gemm and
 * cublas<t>gemmStridedBatched: m, n, k, batchCount >= 0; transa/transb N, T or C; lda >= max(1, rows of op(A)'s
 * storage), ldb likewise, ldc >= max(1, m) (CUBLAS_STATUS_INVALID_VALUE otherwise). Every matrix must lie
 * inside one live device allocation of the fake driver for the extent its leading dimension and stride
 * describe. With beta == 0, C is not read (documented: "if beta == 0, C does not have to be a valid input").
 * Stricter than cuBLAS (which gives undefined results, not an error): C batches that overlap each other, or C
 * overlapping A or B, are refused with INVALID_VALUE and logged as such. GPUCONV_FAKE_VERBOSE=1 logs refusals.
 * GPUCONV_FAKE_NO_COMPUTE=1 skips only the arithmetic (checks and stream order kept), as in the cuDNN fake. */
#define _GNU_SOURCE
#include "fake_common.h"
#include "fake_faults.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int cublasStatus_t;
enum { SUCCESS = 0, NOT_INITIALIZED = 1, ALLOC_FAILED = 3, INVALID_VALUE = 7, EXECUTION_FAILED = 13, INTERNAL_ERROR = 14, NOT_SUPPORTED = 15 };
enum { OP_N = 0, OP_T = 1, OP_C = 2 };

__attribute__((format(printf, 2, 3))) static cublasStatus_t fail(cublasStatus_t status, const char *fmt, ...)
{
    char text[600], line[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    gpuconv_fake_count_refusal();
    snprintf(line, sizeof line, "%s -> cublasStatus %d", text, status);
    gpuconv_fake_log("libcublas", line);
    return status;
}

typedef struct blas { uint32_t magic; int busy; void *stream; int math; uint64_t workspace; size_t workspace_bytes; struct blas *next; } blas;
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static blas *handles;

static blas *find(void *p)
{
    blas *found = NULL;
    pthread_mutex_lock(&gate);
    for (blas *b = handles; b; b = b->next)
        if (b == p) { found = b; break; }
    pthread_mutex_unlock(&gate);
    return found;
}

/* cublasCreate needs a CUDA context (it allocates on the device): NOT_INITIALIZED without one.
 * UNSURE whether cuBLAS 13 makes the primary context current itself; GpuConv always makes its own current first. */
FAKE_EXPORT cublasStatus_t cublasCreate_v2(void **handle)
{
    if (!handle) return fail(INVALID_VALUE, "cublasCreate_v2(NULL)");
    if (!gpuconv_fake_has_current_context()) return fail(NOT_INITIALIZED, "cublasCreate_v2 with no current CUDA context");
    FAKE_LIBRARY_FAULT(__func__, -1, 1, NOT_INITIALIZED);
    blas *b = calloc(1, sizeof *b);
    if (!b) return fail(ALLOC_FAILED, "cublasCreate_v2: host memory");
    b->magic = 0x424c4153u;
    pthread_mutex_lock(&gate);
    b->next = handles;
    handles = b;
    pthread_mutex_unlock(&gate);
    gpuconv_fake_live_add("cublas_handles", 1);
    *handle = b;
    return SUCCESS;
}

FAKE_EXPORT cublasStatus_t cublasDestroy_v2(void *handle)
{
    pthread_mutex_lock(&gate);
    for (blas **pp = &handles; *pp; pp = &(*pp)->next)
        if (*pp == handle) {
            blas *b = *pp;
            *pp = b->next;
            pthread_mutex_unlock(&gate);
            free(b);
            gpuconv_fake_live_add("cublas_handles", -1);
            return SUCCESS;
        }
    pthread_mutex_unlock(&gate);
    return fail(NOT_INITIALIZED, "cublasDestroy_v2(%p): not a live handle", handle);
}

#define GET(var, p) blas *var = find(p); if (!var) return fail(NOT_INITIALIZED, "%s: handle %p is not live", __func__, (void *)(p))

FAKE_EXPORT cublasStatus_t cublasGetVersion_v2(void *handle, int *version)
{
    GET(b, handle);
    (void)b;
    if (!version) return fail(INVALID_VALUE, "%s(NULL)", __func__);
    *version = 130002; /* 13.0.2: major * 10000 + minor * 100 + patch */
    return SUCCESS;
}

FAKE_EXPORT cublasStatus_t cublasGetProperty(int type, int *value)
{
    if (!value) return fail(INVALID_VALUE, "%s(NULL)", __func__);
    switch (type) {
    case 0: *value = 13; return SUCCESS;
    case 1: *value = 0; return SUCCESS;
    case 2: *value = 2; return SUCCESS;
    default: return fail(INVALID_VALUE, "%s(type=%d)", __func__, type);
    }
}

FAKE_EXPORT cublasStatus_t cublasSetStream_v2(void *handle, void *stream)
{
    GET(b, handle);
    FAKE_LIBRARY_FAULT(__func__, -1, 0, EXECUTION_FAILED);
    if (gpuconv_fake_check_stream(stream)) return fail(INVALID_VALUE, "%s: stream %p is not live", __func__, stream);
    b->stream = stream;
    return SUCCESS;
}

/* cublasMath_t: DEFAULT 0, TENSOR_OP 1 (deprecated), PEDANTIC 2, TF32_TENSOR_OP 3, optionally | DISALLOW_REDUCED_PRECISION_REDUCTION 16. */
FAKE_EXPORT cublasStatus_t cublasSetMathMode(void *handle, int mode)
{
    GET(b, handle);
    FAKE_LIBRARY_FAULT(__func__, -1, 0, EXECUTION_FAILED);
    int base = mode & ~16;
    if (base < 0 || base > 3) return fail(INVALID_VALUE, "%s(mode=%d)", __func__, mode);
    b->math = mode;
    return SUCCESS;
}

FAKE_EXPORT cublasStatus_t cublasSetWorkspace_v2(void *handle, uint64_t workspace, size_t bytes)
{
    GET(b, handle);
    if (bytes && gpuconv_fake_check_device_range(workspace, bytes, "cublasSetWorkspace_v2"))
        return fail(INVALID_VALUE, "%s: [0x%llx, +%zu) is not device memory", __func__, (unsigned long long)workspace, bytes);
    b->workspace = workspace;
    b->workspace_bytes = bytes;
    return SUCCESS;
}

FAKE_EXPORT const char *cublasGetStatusName(cublasStatus_t s)
{
    switch (s) {
    case SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    default: return "CUBLAS_STATUS_UNKNOWN (gpuconv fake)";
    }
}

FAKE_EXPORT const char *cublasGetStatusString(cublasStatus_t s)
{
    switch (s) {
    case SUCCESS: return "success";
    case NOT_INITIALIZED: return "the library was not initialized";
    case INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case NOT_SUPPORTED: return "the functionality requested is not supported";
    default: return "see the fake's log (GPUCONV_FAKE_VERBOSE=1)";
    }
}

/* ---------------------------------------------------------------- GEMM */

/* Bytes spanned by a column-major matrix of `rows` x `cols` with leading dimension ld (0 when empty). */
/* GPUCONV_FAKE_NO_COMPUTE=1 (read once): the GEMMs return after their checks, without arithmetic. */
static int no_compute(void)
{
    static int cached = -1;
    if (cached < 0) { const char *v = getenv("GPUCONV_FAKE_NO_COMPUTE"); cached = v && strcmp(v, "1") == 0; }
    return cached;
}

static uint64_t span(int rows, int cols, int ld) { return rows && cols ? ((uint64_t)(cols - 1) * ld + rows) * 4 : 0; }

static int overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) { return an && bn && a < b + bn && b < a + an; }

static cublasStatus_t gemm(const char *call, blas *h, int ta, int tb, int m, int n, int k, const float *alpha,
    uint64_t A, int lda, long long sa, uint64_t B, int ldb, long long sb, const float *beta, uint64_t C, int ldc, long long sc, int batch)
{
    if (ta < OP_N || ta > OP_C || tb < OP_N || tb > OP_C) return fail(INVALID_VALUE, "%s: transa %d transb %d", call, ta, tb);
    if (m < 0 || n < 0 || k < 0 || batch < 0) return fail(INVALID_VALUE, "%s: m %d n %d k %d batchCount %d", call, m, n, k, batch);
    int a_rows = ta == OP_N ? m : k, a_cols = ta == OP_N ? k : m;
    int b_rows = tb == OP_N ? k : n, b_cols = tb == OP_N ? n : k;
    if (lda < (a_rows > 1 ? a_rows : 1)) return fail(INVALID_VALUE, "%s: lda %d < max(1, %d) (op(A) is %s)", call, lda, a_rows, ta == OP_N ? "A" : "A^T");
    if (ldb < (b_rows > 1 ? b_rows : 1)) return fail(INVALID_VALUE, "%s: ldb %d < max(1, %d) (op(B) is %s)", call, ldb, b_rows, tb == OP_N ? "B" : "B^T");
    if (ldc < (m > 1 ? m : 1)) return fail(INVALID_VALUE, "%s: ldc %d < max(1, m = %d)", call, ldc, m);
    if (!alpha || !beta) return fail(INVALID_VALUE, "%s: null alpha or beta", call);
    if (gpuconv_fake_check_stream(h->stream)) return fail(NOT_INITIALIZED, "%s: the handle's stream was destroyed", call);
    if (m == 0 || n == 0 || batch == 0) return SUCCESS; /* quick return, nothing read */
    double al = *alpha, be = *beta;
    int reads_ab = k > 0 && al != 0;
    uint64_t a_bytes = span(a_rows, a_cols, lda), b_bytes = span(b_rows, b_cols, ldb), c_bytes = span(m, n, ldc);
    for (int i = 0; i < batch; i++) {
        uint64_t a = A + (uint64_t)(sa * i * 4), b = B + (uint64_t)(sb * i * 4), c = C + (uint64_t)(sc * i * 4);
        char label[160];
        if (reads_ab) {
            snprintf(label, sizeof label, "%s A[batch %d]", call, i);
            if (gpuconv_fake_check_device_range(a, a_bytes, label)) return fail(INVALID_VALUE, "%s: outside device memory (%d x %d, lda %d)", label, a_rows, a_cols, lda);
            snprintf(label, sizeof label, "%s B[batch %d]", call, i);
            if (gpuconv_fake_check_device_range(b, b_bytes, label)) return fail(INVALID_VALUE, "%s: outside device memory (%d x %d, ldb %d)", label, b_rows, b_cols, ldb);
        }
        snprintf(label, sizeof label, "%s C[batch %d]", call, i);
        if (gpuconv_fake_check_device_range(c, c_bytes, label)) return fail(INVALID_VALUE, "%s: outside device memory (%d x %d, ldc %d)", label, m, n, ldc);
        if (reads_ab && (overlap(c, c_bytes, a, a_bytes) || overlap(c, c_bytes, b, b_bytes)))
            return fail(INVALID_VALUE, "%s: C[batch %d] overlaps A or B (fake-only check: cuBLAS would give undefined results)", call, i);
        if (i > 0 && overlap(c, c_bytes, C + (uint64_t)(sc * (i - 1) * 4), c_bytes))
            return fail(INVALID_VALUE, "%s: C[batch %d] overlaps C[batch %d] (strideC %lld; fake-only check)", call, i, i - 1, sc);
    }
    {
        uint64_t in[2] = { reads_ab ? A : 0, reads_ab ? B : 0 };
        if (gpuconv_fake_stream_op(h->stream, call, 2, in, 1, &C))
            return fail(13, "%s: stream race (logged above): A, B or C is in use on another stream", call);
    }
    if (no_compute()) return SUCCESS; /* GPUCONV_FAKE_NO_COMPUTE=1: checks done, arithmetic skipped (as the cuDNN fake) */
    double *acc = malloc((size_t)m * n * sizeof *acc);
    if (!acc) return fail(ALLOC_FAILED, "%s: host memory", call);
    for (int i = 0; i < batch; i++) {
        const float *a = (const float *)(uintptr_t)(A + (uint64_t)(sa * i * 4));
        const float *b = (const float *)(uintptr_t)(B + (uint64_t)(sb * i * 4));
        float *c = (float *)(uintptr_t)(C + (uint64_t)(sc * i * 4));
        for (int col = 0; col < n; col++)
            for (int row = 0; row < m; row++) {
                double s = 0;
                if (reads_ab)
                    for (int p = 0; p < k; p++) {
                        double av = ta == OP_N ? a[row + (long long)p * lda] : a[p + (long long)row * lda];
                        double bv = tb == OP_N ? b[p + (long long)col * ldb] : b[col + (long long)p * ldb];
                        s += av * bv;
                    }
                acc[row + (long long)col * m] = al * s;
            }
        for (int col = 0; col < n; col++)
            for (int row = 0; row < m; row++) {
                float *dst = &c[row + (long long)col * ldc];
                double v = acc[row + (long long)col * m];
                *dst = (float)(be == 0 ? v : v + be * *dst);
            }
    }
    free(acc);
    return SUCCESS;
}

/* A cuBLAS handle must not be used by two threads at once (cuBLAS's thread-safety notes): a second thread inside
 * the same handle is refused with EXECUTION_FAILED (the real library would give undefined results). */
static cublasStatus_t gemm_exclusive(const char *call, blas *h, int ta, int tb, int m, int n, int k, const float *alpha,
    uint64_t A, int lda, long long sa, uint64_t B, int ldb, long long sb, const float *beta, uint64_t C, int ldc, long long sc, int batch)
{
    FAKE_LIBRARY_FAULT(call, -1, 1, EXECUTION_FAILED);
    pthread_mutex_lock(&gate);
    int was = h->busy;
    h->busy = 1;
    pthread_mutex_unlock(&gate);
    if (was) return fail(EXECUTION_FAILED, "%s: handle %p is in use by another thread at the same time", call, (void *)h);
    cublasStatus_t r = gemm(call, h, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
    pthread_mutex_lock(&gate);
    h->busy = 0;
    pthread_mutex_unlock(&gate);
    return r;
}
#define gemm gemm_exclusive

FAKE_EXPORT cublasStatus_t cublasSgemm_v2(void *handle, int ta, int tb, int m, int n, int k, const float *alpha,
    uint64_t A, int lda, uint64_t B, int ldb, const float *beta, uint64_t C, int ldc)
{
    GET(h, handle);
    return gemm(__func__, h, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

FAKE_EXPORT cublasStatus_t cublasSgemmStridedBatched(void *handle, int ta, int tb, int m, int n, int k, const float *alpha,
    uint64_t A, int lda, long long sa, uint64_t B, int ldb, long long sb, const float *beta, uint64_t C, int ldc, long long sc, int batch)
{
    GET(h, handle);
    return gemm(__func__, h, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
}

/* cublasGemmEx: FP32 data (CUDA_R_32F = 0) with COMPUTE_32F (68), COMPUTE_32F_PEDANTIC (69) or COMPUTE_32F_FAST_TF32 (77);
 * other combinations NOT_SUPPORTED here (the fake computes FP32 only). */
FAKE_EXPORT cublasStatus_t cublasGemmEx(void *handle, int ta, int tb, int m, int n, int k, const void *alpha,
    uint64_t A, int at, int lda, uint64_t B, int bt, int ldb, const void *beta, uint64_t C, int ct, int ldc, int compute, int algo)
{
    GET(h, handle);
    if (at != 0 || bt != 0 || ct != 0) return fail(NOT_SUPPORTED, "%s: data types %d %d %d (the fake computes CUDA_R_32F only)", __func__, at, bt, ct);
    if (compute != 68 && compute != 69 && compute != 77) return fail(NOT_SUPPORTED, "%s: compute type %d with FP32 data", __func__, compute);
    if (algo < -1 || algo > 23) return fail(INVALID_VALUE, "%s: algo %d", __func__, algo);
    return gemm(__func__, h, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}
