/* Shared by the three native fakes (libcuda.so.1, libcudnn.so.9, libcublas.so.13).
 * The driver fake owns device memory, streams and the current context; cuDNN and cuBLAS ask it
 * (through the gpuconv_fake_* exports below) whether a pointer lies inside a live allocation, so a
 * wrong size, stride or workspace is caught where the real library would read or write out of bounds. */
#ifndef GPUCONV_FAKE_COMMON_H
#define GPUCONV_FAKE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define FAKE_EXPORT __attribute__((visibility("default")))

/* 0 when [ptr, ptr + bytes) lies inside one live device allocation; otherwise non-zero, and the
 * reason (naming `what`) is logged. bytes == 0 checks only that ptr is inside an allocation or 0. */
FAKE_EXPORT int gpuconv_fake_check_device_range(uint64_t ptr, uint64_t bytes, const char *what);
/* 0 when `stream` is 0 (legacy), 1 (CU_STREAM_LEGACY), 2 (CU_STREAM_PER_THREAD) or a live stream. */
FAKE_EXPORT int gpuconv_fake_check_stream(void *stream);
/* One operation on `stream` reading `nr` and writing `nw` device pointers: checked against work on other
 * streams that nothing orders before it (fake_cuda.c, "stream ordering"). Returns 1 on a race (logged). */
FAKE_EXPORT int gpuconv_fake_stream_op(void *stream, const char *what, int nr, const uint64_t *reads, int nw, const uint64_t *writes);
/* 1 when a context is current on the calling thread. */
FAKE_EXPORT int gpuconv_fake_has_current_context(void);
/* Writes a line to stderr when GPUCONV_FAKE_VERBOSE=1 (always for lines passed to fake_fail). */
FAKE_EXPORT void gpuconv_fake_log(const char *library, const char *message);
/* Counts one refused call (any non-success status a fake returns); reported at exit. */
FAKE_EXPORT void gpuconv_fake_count_refusal(void);

#endif
