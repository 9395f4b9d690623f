/* Self-test of the native fakes: a fake that accepts everything proves nothing, so this program makes the
 * mistakes the fakes exist to catch and checks each is refused with the documented status, and that correct
 * calls compute the right numbers. Built by build.sh beside the libraries; prints one line per failed check
 * and "selftest: N checks, F failed"; exit status 0 only when F is 0. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef int CUresult;
typedef uint64_t CUdeviceptr;
CUresult cuInit(unsigned);
CUresult cuDeviceGet(int *, int);
CUresult cuDevicePrimaryCtxRetain(void **, int);
CUresult cuDevicePrimaryCtxRelease_v2(int);
CUresult cuCtxSetCurrent(void *);
CUresult cuCtxGetCurrent(void **);
CUresult cuCtxCreate_v2(void **, unsigned, int);
CUresult cuCtxDestroy_v2(void *);
CUresult cuMemAlloc_v2(CUdeviceptr *, size_t);
CUresult cuMemFree_v2(CUdeviceptr);
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr, const void *, size_t, void *);
CUresult cuMemcpyDtoHAsync_v2(void *, CUdeviceptr, size_t, void *);
CUresult cuStreamCreate(void **, unsigned);
CUresult cuStreamSynchronize(void *);
CUresult cuStreamDestroy_v2(void *);
CUresult cuEventCreate(void **, unsigned);
CUresult cuEventRecord(void *, void *);
CUresult cuStreamWaitEvent(void *, void *, unsigned);
CUresult cuEventDestroy_v2(void *);
CUresult cuModuleLoadDataEx(void **, const void *, unsigned, int *, void **);
CUresult cuModuleGetFunction(void **, void *, const char *);
CUresult cuLaunchKernel(void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void *, void **, void **);

typedef int cudnnStatus_t;
typedef struct { int algo, status; float time; size_t memory; int determinism, math, reserved[3]; } perf_t;
cudnnStatus_t cudnnCreate(void **);
cudnnStatus_t cudnnDestroy(void *);
cudnnStatus_t cudnnSetStream(void *, void *);
cudnnStatus_t cudnnCreateTensorDescriptor(void **);
cudnnStatus_t cudnnCreateFilterDescriptor(void **);
cudnnStatus_t cudnnCreateConvolutionDescriptor(void **);
cudnnStatus_t cudnnSetTensorNdDescriptor(void *, int, int, const int *, const int *);
cudnnStatus_t cudnnSetFilterNdDescriptor(void *, int, int, int, const int *);
cudnnStatus_t cudnnSetConvolutionNdDescriptor(void *, int, const int *, const int *, const int *, int, int);
cudnnStatus_t cudnnSetConvolutionGroupCount(void *, int);
cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(void *, void *, void *, void *, void *, int, int *, perf_t *);
cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(void *, void *, void *, void *, void *, int, size_t *);
cudnnStatus_t cudnnConvolutionForward(void *, const void *, void *, CUdeviceptr, void *, CUdeviceptr, void *, int, CUdeviceptr, size_t,
    const void *, void *, CUdeviceptr);

typedef int cublasStatus_t;
cublasStatus_t cublasCreate_v2(void **);
cublasStatus_t cublasSetStream_v2(void *, void *);
cublasStatus_t cublasSgemm_v2(void *, int, int, int, int, int, const float *, CUdeviceptr, int, CUdeviceptr, int, const float *, CUdeviceptr, int);

int gpuconv_fake_faults_set(const char *);
int gpuconv_fake_sticky_status(void);
long long gpuconv_fake_live(char *, int);
long long gpuconv_fake_wrong_context_calls(void);
CUresult cuCtxSynchronize(void);

static int checks, failed;
#define EXPECT(cond, what) do { checks++; if (!(cond)) { failed++; printf("FAILED: %s (line %d)\n", what, __LINE__); } } while (0)

static void set_tensor(void *d, int n, int c, int h, int w)
{
    int dims[4] = { n, c, h, w }, strides[4] = { c * h * w, h * w, w, 1 };
    cudnnSetTensorNdDescriptor(d, 0, 4, dims, strides);
}

int main(void)
{
    CUdeviceptr p;
    void *ctx, *s1, *s2, *ev;
    EXPECT(cuMemAlloc_v2(&p, 16) == 3, "a call before cuInit is CUDA_ERROR_NOT_INITIALIZED");
    EXPECT(cuInit(0) == 0, "cuInit");
    int dev;
    cuDeviceGet(&dev, 0);
    EXPECT(cuMemAlloc_v2(&p, 16) == 201, "cuMemAlloc with no current context is CUDA_ERROR_INVALID_CONTEXT");
    cuDevicePrimaryCtxRetain(&ctx, dev);
    cuCtxSetCurrent(ctx);
    EXPECT(cuMemAlloc_v2(&p, 0) == 1, "cuMemAlloc of 0 bytes is CUDA_ERROR_INVALID_VALUE");

    /* --- ranges: a copy one float past the allocation */
    float host[64] = { 0 };
    CUdeviceptr a, b;
    cuMemAlloc_v2(&a, 16 * 4);
    cuMemAlloc_v2(&b, 16 * 4);
    cuStreamCreate(&s1, 1);
    cuStreamCreate(&s2, 1);
    EXPECT(cuMemcpyHtoDAsync_v2(a, host, 17 * 4, s1) == 1, "a copy running past the allocation is CUDA_ERROR_INVALID_VALUE");
    EXPECT(cuMemcpyHtoDAsync_v2(a + 4, host, 15 * 4, s1) == 0, "a copy inside the allocation");
    EXPECT(cuMemFree_v2(a + 4) == 1, "cuMemFree of an interior pointer is CUDA_ERROR_INVALID_VALUE");

    /* --- stream ordering: written on s1, read on s2 */
    EXPECT(cuMemcpyDtoHAsync_v2(host, a, 64, s2) == 401, "reading on s2 what s1 wrote, unordered, is a race");
    cuEventCreate(&ev, 2);
    cuEventRecord(ev, s1);
    cuStreamWaitEvent(s2, ev, 0);
    EXPECT(cuMemcpyDtoHAsync_v2(host, a, 64, s2) == 0, "after s2 waits for s1's event, the read is ordered");
    EXPECT(cuMemcpyHtoDAsync_v2(a, host, 64, s1) == 401, "s1 overwriting what s2 still reads is a race (write after read)");
    cuStreamSynchronize(s2);
    EXPECT(cuMemcpyHtoDAsync_v2(a, host, 64, s1) == 0, "after the host waits for s2, s1 may overwrite");
    EXPECT(cuMemFree_v2(a) == 401, "freeing memory the host has not waited for is reported");
    cuStreamSynchronize(s1);
    EXPECT(cuMemFree_v2(a) == 0, "free after synchronising");
    EXPECT(cuMemFree_v2(a) == 1, "a second free is CUDA_ERROR_INVALID_VALUE");

    /* --- launches: no hook registered here */
    const char *ptx = ".version 7.0\n.target sm_70\n.address_size 64\n.visible .entry k(.param .u64 p) { ret; }\n";
    void *mod, *fn, *missing;
    EXPECT(cuModuleLoadDataEx(&mod, ptx, 0, NULL, NULL) == 0, "cuModuleLoadDataEx of valid PTX");
    EXPECT(cuModuleGetFunction(&missing, mod, "kk") == 500, "an entry that is not in the module is CUDA_ERROR_NOT_FOUND");
    cuModuleGetFunction(&fn, mod, "k");
    void *args[1] = { &b };
    EXPECT(cuLaunchKernel(fn, 1, 1, 1, 2048, 1, 1, 0, s1, args, NULL) == 1, "2048 threads per block is CUDA_ERROR_INVALID_VALUE");
    EXPECT(cuLaunchKernel(fn, 1, 1, 1, 32, 1, 1, 0, s1, args, NULL) == 801, "no launch hook: CUDA_ERROR_NOT_SUPPORTED");

    /* --- cuDNN: x [1,1,4,4] all 1, w [2,1,3,3] all 1, pad 1 -> y corner 4, edge 6, centre 9 */
    void *h, *xd, *wd, *yd, *cd;
    EXPECT(cudnnCreate(&h) == 0, "cudnnCreate");
    cudnnSetStream(h, s1);
    cudnnCreateTensorDescriptor(&xd);
    cudnnCreateTensorDescriptor(&yd);
    cudnnCreateFilterDescriptor(&wd);
    cudnnCreateConvolutionDescriptor(&cd);
    set_tensor(xd, 1, 1, 4, 4);
    int wdims[4] = { 2, 1, 3, 3 }, pad[2] = { 1, 1 }, one2[2] = { 1, 1 };
    cudnnSetFilterNdDescriptor(wd, 0, 0, 4, wdims);
    cudnnSetConvolutionNdDescriptor(cd, 2, pad, one2, one2, 1, 0);
    CUdeviceptr x, w, y, ws;
    cuMemAlloc_v2(&x, 16 * 4);
    cuMemAlloc_v2(&w, 18 * 4);
    cuMemAlloc_v2(&y, 32 * 4);
    cuMemAlloc_v2(&ws, 1 << 20);
    float ones[32];
    for (int i = 0; i < 32; i++) ones[i] = 1;
    cuMemcpyHtoDAsync_v2(x, ones, 16 * 4, s1);
    cuMemcpyHtoDAsync_v2(w, ones, 18 * 4, s1);
    float alpha = 1, beta = 0;
    set_tensor(yd, 1, 2, 3, 4);
    EXPECT(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 0, 0, 0, &beta, yd, y) == 2000, "y dims off the output-dim formula are BAD_PARAM");
    set_tensor(yd, 1, 2, 4, 4);
    EXPECT(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 0, 0, 0, &beta, yd, y) == 0, "a correct forward");
    float out[32];
    cuMemcpyDtoHAsync_v2(out, y, 32 * 4, s1);
    EXPECT(out[0] == 4 && out[1] == 6 && out[5] == 9 && out[16] == 4, "forward values (corner 4, edge 6, centre 9)");
    beta = 1;
    cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 0, 0, 0, &beta, yd, y);
    cuMemcpyDtoHAsync_v2(out, y, 32 * 4, s1);
    EXPECT(out[5] == 18, "beta = 1 accumulates into y");
    EXPECT(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 0, 0, 0, &beta, yd, x) == 2000, "y overlapping x is BAD_PARAM");
    EXPECT(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 0, 0, 0, &beta, yd, y + 4) == 2000, "y running past its allocation is BAD_PARAM");
    size_t need = 0;
    EXPECT(cudnnGetConvolutionForwardWorkspaceSize(h, xd, wd, cd, yd, 2, &need) == 0 && need > 0, "GEMM needs a workspace");
    EXPECT(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 2, ws, need - 4, &beta, yd, y) == 2000, "a workspace smaller than the query is BAD_PARAM");
    EXPECT(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 2, ws, need, &beta, yd, y) == 0, "GEMM with its workspace");
    EXPECT(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 3, 0, 0, &beta, yd, y) == 3000, "DIRECT is NOT_SUPPORTED");
    perf_t perf[8];
    int returned = 0;
    EXPECT(sizeof(perf_t) == 48, "the perf struct is 48 bytes");
    cudnnGetConvolutionForwardAlgorithm_v7(h, xd, wd, cd, yd, 8, &returned, perf);
    EXPECT(returned == 8 && perf[0].status == 0 && perf[7].status == 3000, "Get_v7 lists all 8, supported first");
    cudnnSetConvolutionGroupCount(cd, 2);
    EXPECT(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 0, 0, 0, &beta, yd, y) == 2000, "2 groups of 1 input channel is BAD_PARAM");
    cudnnSetStream(h, s2);
    cudnnSetConvolutionGroupCount(cd, 1);
    beta = 0;
    EXPECT(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 0, 0, 0, &beta, yd, y) == 5000, "reading on s2 what s1 wrote, unordered, is EXECUTION_FAILED");

    /* --- cuBLAS: C(2x2) = A(2x3) B(3x2), column-major */
    void *blas;
    cublasCreate_v2(&blas);
    cublasSetStream_v2(blas, s1);
    EXPECT(cublasSgemm_v2(blas, 0, 0, 2, 2, 3, &alpha, x, 1, w, 3, &beta, b, 2) == 7, "lda < m is INVALID_VALUE");
    EXPECT(cublasSgemm_v2(blas, 0, 0, 2, 2, 3, &alpha, x, 2, w, 3, &beta, b, 2) == 0, "a correct SGEMM");
    cuMemcpyDtoHAsync_v2(out, b, 16, s1);
    EXPECT(out[0] == 3 && out[3] == 3, "SGEMM values (all-ones 2x3 times 3x2 = 3)");
    EXPECT(cublasSgemm_v2(blas, 0, 0, 2, 2, 3, &alpha, x, 2, w, 3, &beta, y + 31 * 4, 2) == 7, "C past its allocation is INVALID_VALUE");

    cuStreamSynchronize(s1);
    cuStreamSynchronize(s2);
    cuEventDestroy_v2(ev);
    cuStreamDestroy_v2(s1);
    EXPECT(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 0, 0, 0, &beta, yd, y) == 0, "the handle's stream s2 still lives");

    /* --- fault injection (fake_faults.h): the Nth call, every Kth, a malformed rule, a sticky error */
    CUdeviceptr q[4] = { 0 };
    EXPECT(gpuconv_fake_faults_set("cuMemAlloc_v2@2=2") == 1, "one rule parsed");
    EXPECT(cuMemAlloc_v2(&q[0], 64) == 0 && cuMemAlloc_v2(&q[1], 64) == 2 && cuMemAlloc_v2(&q[2], 64) == 0,
        "cuMemAlloc_v2@2=2: only the 2nd call is CUDA_ERROR_OUT_OF_MEMORY");
    char live[512];
    long long before = gpuconv_fake_live(live, sizeof live);
    cuMemFree_v2(q[2]);
    EXPECT(gpuconv_fake_live(live, sizeof live) == before - 1, "the live count follows a free");
    EXPECT(gpuconv_fake_faults_set("cuMemAlloc_v2@2=2; bogus") == -1, "a malformed rule is refused, not ignored");
    gpuconv_fake_faults_set("cuCtxSynchronize@%2=999");
    EXPECT(cuCtxSynchronize() == 0 && cuCtxSynchronize() == 999 && cuCtxSynchronize() == 0 && cuCtxSynchronize() == 999, "@%2: every 2nd call");
    gpuconv_fake_faults_set("cuMemFree_v2@1=700!");
    EXPECT(cuMemFree_v2(q[0]) == 700 && gpuconv_fake_sticky_status() == 700, "a sticky rule's call fails and the context turns sticky");
    EXPECT(cuMemAlloc_v2(&q[3], 64) == 700 && cuMemFree_v2(q[0]) == 700, "after it every call that needs the context returns 700");
    EXPECT(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 0, 0, 0, &beta, yd, y) == 5000, "cuDNN device work under a sticky error is EXECUTION_FAILED");
    void *again;
    EXPECT(cuDevicePrimaryCtxRetain(&again, dev) == 700, "no new context after a sticky error");
    gpuconv_fake_faults_set("");
    EXPECT(cuMemFree_v2(q[0]) == 0, "reset (a new process): the context works again");

    /* --- an application's own context (cuCtxCreate_v2) current instead of the primary one */
    void *app, *cur;
    long long wrong = gpuconv_fake_wrong_context_calls();
    EXPECT(cuCtxCreate_v2(&app, 0, dev) == 0 && app != ctx, "cuCtxCreate_v2 makes a context of its own");
    EXPECT(cuCtxGetCurrent(&cur) == 0 && cur == app, "the new context is current on the thread");
    EXPECT(cuMemAlloc_v2(&q[3], 64) == 201 && gpuconv_fake_wrong_context_calls() == wrong + 1,
        "driver work in the application's context is CUDA_ERROR_INVALID_CONTEXT, counted as wrong_context");
    EXPECT(cudnnConvolutionForward(h, &alpha, xd, x, wd, w, cd, 0, 0, 0, &beta, yd, y) != 0 && gpuconv_fake_wrong_context_calls() == wrong + 2,
        "cuDNN device work with the primary context not current is refused and counted");
    EXPECT(cuCtxSetCurrent(ctx) == 0 && cuCtxGetCurrent(&cur) == 0 && cur == ctx, "the primary context made current again");
    EXPECT(cuCtxSetCurrent(app) == 0 && cuCtxDestroy_v2(app) == 0 && cuCtxGetCurrent(&cur) == 0 && cur == NULL,
        "destroying the current application context unbinds it");
    EXPECT(cuCtxSetCurrent(app) == 201 && cuCtxDestroy_v2(app) == 201 && cuCtxDestroy_v2(ctx) == 201,
        "a destroyed context cannot be made current or destroyed again; the primary context is not destroyed");
    cuCtxSetCurrent(ctx);
    cuCtxSetCurrent(NULL);
    cuDevicePrimaryCtxRelease_v2(dev);
    printf("selftest: %d checks, %d failed\n", checks, failed);
    return failed != 0;
}
