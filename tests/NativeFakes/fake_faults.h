/* Deterministic fault injection and live-resource counts for the native fakes (fake_faults.c, compiled into
 * libcuda.so.1; cuDNN and cuBLAS reach it through these exports, as they reach the driver's memory table).
 *
 * GPUCONV_FAKE_FAULTS holds rules separated by ';':   CALL@WHEN=STATUS[!]
 *   CALL    an exported entry point (cuMemAlloc_v2, cudnnCreate, cublasSgemmStridedBatched, ...); cuDNN's
 *           convolution calls also match CALL#ALGO (cudnnConvolutionForward#1: only algorithm 1's calls).
 *   WHEN    N (the Nth call of CALL), N-M (calls N to M), N+ (N and every later call), * (every call),
 *           %K (every Kth call). Calls are counted per CALL (per CALL#ALGO) from 1.
 *   STATUS  the status the call returns instead of running (CUresult, cudnnStatus_t or cublasStatus_t).
 *   !       sticky (driver statuses only: a corrupted context): from then on every driver call that needs a
 *           context, and cuDevicePrimaryCtxRetain, returns STATUS too; cuDNN and cuBLAS calls that do device
 *           work return EXECUTION_FAILED. As documented for CUDA_ERROR_ILLEGAL_ADDRESS, it lasts for the
 *           process (tests reset it with gpuconv_fake_faults_set, standing for a new process). Releasing the
 *           primary context still works and frees the context's memory.
 * GPUCONV_FAKE_DEVICE_COUNT=N makes cuDeviceGetCount report N devices (0: a driver with no GPU).
 * A malformed GPUCONV_FAKE_FAULTS ends the process (exit 86) with the reason on stderr: a typo must not pass
 * as "no fault happened". On a cuDNN or cuBLAS rule, "!" makes the driver sticky with CUDA_ERROR_ILLEGAL_ADDRESS
 * (a library kernel that faulted).
 *
 * Live resources (contexts retained, streams, events, modules, device and pinned allocations, cuDNN handles
 * and descriptors, cuBLAS handles) are counted; gpuconv_fake_live reads them, and GPUCONV_FAKE_REPORT gets a
 * "live: ..." line at exit. */
#ifndef GPUCONV_FAKE_FAULTS_H
#define GPUCONV_FAKE_FAULTS_H

#include "fake_common.h"

/* The status to return for this call of the driver entry point `call` (counted), or 0 to run it.
 * context_call: the call needs a context, so a sticky error applies to it. */
FAKE_EXPORT int gpuconv_fake_fault(const char *call, int context_call);
/* For cuDNN and cuBLAS: a rule's status for this call of `call` (and of `call#algo` when algo >= 0), or -1
 * when the call does device work (device_work) while the driver holds a sticky error, or -2 when it does device
 * work without the primary context current on the thread (counted as wrong_context); 0 to run it. */
FAKE_EXPORT int gpuconv_fake_fault_library(const char *call, int algo, int device_work);
/* Replaces the rules (NULL or "": none), resets every call counter, the injected count and the sticky error; returns the number
 * of rules, or -1 when the text does not parse (then nothing is injected). For tests in one process. */
FAKE_EXPORT int gpuconv_fake_faults_set(const char *spec);
/* How many statuses were injected since the process started or the last gpuconv_fake_faults_set (sticky repeats included). */
FAKE_EXPORT long long gpuconv_fake_faults_injected(void);
/* The sticky status now in force, 0 if none. */
FAKE_EXPORT int gpuconv_fake_sticky_status(void);
/* cuDNN / cuBLAS objects: what = "cudnn_handles", "cudnn_descriptors" or "cublas_handles"; delta +1 / -1. */
FAKE_EXPORT void gpuconv_fake_live_add(const char *what, int delta);
/* Writes "name=value " pairs of every live-resource count into buf (NUL-terminated); returns the sum of them. */
FAKE_EXPORT long long gpuconv_fake_live(char *buf, int size);
/* cuDeviceGetCount's answer: GPUCONV_FAKE_DEVICE_COUNT, else 1. */
FAKE_EXPORT int gpuconv_fake_device_count(void);

/* One line at the top of a cuDNN or cuBLAS entry point: an injected status (or, for device work under a
 * sticky driver error, `on_sticky`) is returned through the library's own fail(), so it is logged and counted. */
#define FAKE_LIBRARY_FAULT(call, algo, device_work, on_sticky) do { \
        int fault_ = gpuconv_fake_fault_library((call), (algo), (device_work)); \
        if (fault_ == -2) return fail((on_sticky), "%s: device work without the primary context current", (call)); \
        if (fault_) return fail(fault_ < 0 ? (on_sticky) : fault_, "%s: injected fault (GPUCONV_FAKE_FAULTS)%s", (call), \
            fault_ < 0 ? ": the device context holds a sticky error" : ""); \
    } while (0)

#endif
