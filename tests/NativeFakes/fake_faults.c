/* Fault injection and live-resource counts (fake_faults.h says what the rules mean). Compiled as part of the
 * driver fake: fake_cuda.c includes this file at its end (build.sh compiles one file per library), so the
 * counts read the driver's own tables (handles, allocs, primary) and the state lives once per process. */
#include "fake_faults.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RULES 32
/* What a faulting cuDNN/cuBLAS kernel leaves behind ("!" on a library rule). */
#define CUDA_ERROR_ILLEGAL_ADDRESS_STICKY 700
#define NAME_BYTES 96
enum { WHEN_NTH, WHEN_RANGE, WHEN_FROM, WHEN_ALL, WHEN_EVERY };
typedef struct { char call[NAME_BYTES]; int when; long long a, b; int status, sticky; } fault_rule;
/* Calls are counted per distinct rule name only (what a rule can ask about). */
typedef struct { char call[NAME_BYTES]; long long calls; } fault_counter;

static pthread_mutex_t faults_gate = PTHREAD_MUTEX_INITIALIZER;
static fault_rule rules[MAX_RULES];
static fault_counter fault_counters[MAX_RULES];
static int n_rules, n_fault_counters, faults_loaded, sticky_status;
static long long n_injected;
static long long live_cudnn_handles, live_cudnn_descriptors, live_cublas_handles;

static void live_report_at_exit(int status, void *unused);

/* Parses `spec` into rules (under faults_gate). Returns the number of rules, or -1 with the reason in `why`. */
static int parse_rules(const char *spec, char *why, size_t why_size)
{
    n_rules = n_fault_counters = 0;
    if (!spec) return 0;
    char *copy = strdup(spec), *save = NULL;
    if (!copy) { snprintf(why, why_size, "out of host memory"); return -1; }
    int result = 0;
    for (char *item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
        while (*item == ' ') item++;
        if (!*item) continue;
        fault_rule r;
        memset(&r, 0, sizeof r);
        char *at = strchr(item, '@'), *eq = at ? strchr(at, '=') : NULL;
        if (!at || !eq || at == item || (size_t)(at - item) >= NAME_BYTES || n_rules == MAX_RULES) {
            snprintf(why, why_size, "rule '%s' is not CALL@WHEN=STATUS[!] (or more than %d rules)", item, MAX_RULES);
            result = -1;
            break;
        }
        memcpy(r.call, item, (size_t)(at - item));
        const char *when = at + 1;
        char *end = NULL;
        if (*when == '*' && when + 1 == eq) r.when = WHEN_ALL;
        else if (*when == '%') { r.when = WHEN_EVERY; r.a = strtoll(when + 1, &end, 10); }
        else {
            r.a = strtoll(when, &end, 10);
            if (end && *end == '-') { r.when = WHEN_RANGE; r.b = strtoll(end + 1, &end, 10); }
            else if (end && *end == '+') { r.when = WHEN_FROM; end++; }
            else r.when = WHEN_NTH;
        }
        if (r.when != WHEN_ALL && (end != eq || r.a < 1 || (r.when == WHEN_RANGE && r.b < r.a))) {
            snprintf(why, why_size, "rule '%s': WHEN must be N, N-M, N+, * or %%K with N, K >= 1", item);
            result = -1;
            break;
        }
        r.status = (int)strtol(eq + 1, &end, 10);
        if (end && *end == '!') { r.sticky = 1; end++; }
        while (end && *end == ' ') end++;
        if (end == eq + 1 || (end && *end) || r.status == 0) {
            snprintf(why, why_size, "rule '%s': STATUS must be a non-zero number, optionally followed by '!'", item);
            result = -1;
            break;
        }
        rules[n_rules++] = r;
        int known = 0;
        for (int i = 0; i < n_fault_counters; i++) known |= strcmp(fault_counters[i].call, r.call) == 0;
        if (!known) { memcpy(fault_counters[n_fault_counters].call, r.call, NAME_BYTES); fault_counters[n_fault_counters++].calls = 0; }
    }
    free(copy);
    if (result < 0) n_rules = n_fault_counters = 0;
    return result < 0 ? -1 : n_rules;
}

/* Reads GPUCONV_FAKE_FAULTS once (under faults_gate); a malformed one ends the process. */
static void load_rules(void)
{
    if (faults_loaded) return;
    faults_loaded = 1;
    const char *report = getenv("GPUCONV_FAKE_REPORT");
    if (report && *report) on_exit(live_report_at_exit, NULL);
    char why[256];
    if (parse_rules(getenv("GPUCONV_FAKE_FAULTS"), why, sizeof why) < 0) {
        fprintf(stderr, "[gpuconv-fake faults] GPUCONV_FAKE_FAULTS: %s\n", why);
        _exit(86);
    }
}

/* Counts this call of `call` if a rule names it and returns the first matching rule's status (and sets the
 * sticky status for a '!' rule: `sticky_as` for library rules, the rule's own status for driver rules). */
static int match(const char *call, int sticky_as)
{
    long long n = 0;
    int counted = 0;
    for (int i = 0; i < n_fault_counters; i++)
        if (strcmp(fault_counters[i].call, call) == 0) { n = ++fault_counters[i].calls; counted = 1; break; }
    if (!counted) return 0;
    for (int i = 0; i < n_rules; i++) {
        const fault_rule *r = &rules[i];
        if (strcmp(r->call, call) != 0) continue;
        int hit = r->when == WHEN_ALL || (r->when == WHEN_NTH && n == r->a) || (r->when == WHEN_RANGE && n >= r->a && n <= r->b)
               || (r->when == WHEN_FROM && n >= r->a) || (r->when == WHEN_EVERY && n % r->a == 0);
        if (!hit) continue;
        if (r->sticky) sticky_status = sticky_as ? sticky_as : r->status;
        return r->status;
    }
    return 0;
}

FAKE_EXPORT int gpuconv_fake_fault(const char *call, int context_call)
{
    pthread_mutex_lock(&faults_gate);
    load_rules();
    int status;
    /* Retaining the primary context counts as context work: after a sticky error a new engine gets no GPU. */
    if (sticky_status && (context_call || strcmp(call, "cuDevicePrimaryCtxRetain") == 0)) status = sticky_status;
    else status = match(call, 0);
    if (status) n_injected++;
    pthread_mutex_unlock(&faults_gate);
    return status;
}

FAKE_EXPORT int gpuconv_fake_fault_library(const char *call, int algo, int device_work)
{
    pthread_mutex_lock(&faults_gate);
    load_rules();
    int status = 0;
    if (algo >= 0) {
        char name[NAME_BYTES + 16];
        snprintf(name, sizeof name, "%s#%d", call, algo);
        status = match(name, CUDA_ERROR_ILLEGAL_ADDRESS_STICKY);
    }
    if (!status) status = match(call, CUDA_ERROR_ILLEGAL_ADDRESS_STICKY);
    if (!status && device_work && sticky_status) status = -1;
    if (status) n_injected++;
    pthread_mutex_unlock(&faults_gate);
    /* Device work with the primary context not current: the handle's context is not the thread's (see wrong_context). */
    if (!status && device_work && !gpuconv_fake_has_current_context()) {
        char line[256];
        snprintf(line, sizeof line, "%s %s", call, wrong_context());
        gpuconv_fake_log("libcuda", line);
        status = -2;
    }
    return status;
}

FAKE_EXPORT int gpuconv_fake_faults_set(const char *spec)
{
    char why[256];
    pthread_mutex_lock(&faults_gate);
    load_rules();
    int n = parse_rules(spec, why, sizeof why);
    sticky_status = 0;
    n_injected = 0;
    pthread_mutex_unlock(&faults_gate);
    if (n < 0) fprintf(stderr, "[gpuconv-fake faults] gpuconv_fake_faults_set: %s\n", why);
    return n;
}

FAKE_EXPORT long long gpuconv_fake_faults_injected(void)
{
    pthread_mutex_lock(&faults_gate);
    long long n = n_injected;
    pthread_mutex_unlock(&faults_gate);
    return n;
}

FAKE_EXPORT int gpuconv_fake_sticky_status(void)
{
    pthread_mutex_lock(&faults_gate);
    int s = sticky_status;
    pthread_mutex_unlock(&faults_gate);
    return s;
}

FAKE_EXPORT void gpuconv_fake_live_add(const char *what, int delta)
{
    pthread_mutex_lock(&faults_gate);
    if (strcmp(what, "cudnn_handles") == 0) live_cudnn_handles += delta;
    else if (strcmp(what, "cudnn_descriptors") == 0) live_cudnn_descriptors += delta;
    else if (strcmp(what, "cublas_handles") == 0) live_cublas_handles += delta;
    else fprintf(stderr, "[gpuconv-fake faults] gpuconv_fake_live_add: unknown resource '%s'\n", what);
    pthread_mutex_unlock(&faults_gate);
}

FAKE_EXPORT long long gpuconv_fake_live(char *buf, int size)
{
    long long kinds[KIND_FUNCTION + 1] = { 0 }, device = 0, pinned = 0;
    pthread_mutex_lock(&gate);
    for (handle *h = handles; h; h = h->next)
        if (h->kind >= KIND_STREAM && h->kind <= KIND_FUNCTION) kinds[h->kind]++;
    for (size_t i = 0; i < n_live; i++) {
        if (allocs[i].pinned) pinned++;
        else device++;
    }
    long long contexts = primary.refs;
    pthread_mutex_unlock(&gate);
    pthread_mutex_lock(&faults_gate);
    long long cudnn_h = live_cudnn_handles, cudnn_d = live_cudnn_descriptors, cublas_h = live_cublas_handles;
    pthread_mutex_unlock(&faults_gate);
    if (buf && size > 0)
        snprintf(buf, (size_t)size,
            "context_retains=%lld device_allocations=%lld pinned_allocations=%lld streams=%lld events=%lld modules=%lld "
            "cudnn_handles=%lld cudnn_descriptors=%lld cublas_handles=%lld",
            contexts, device, pinned, kinds[KIND_STREAM], kinds[KIND_EVENT], kinds[KIND_MODULE], cudnn_h, cudnn_d, cublas_h);
    /* Functions die with their module and own nothing: not counted. */
    return contexts + device + pinned + kinds[KIND_STREAM] + kinds[KIND_EVENT] + kinds[KIND_MODULE] + cudnn_h + cudnn_d + cublas_h;
}

FAKE_EXPORT int gpuconv_fake_device_count(void)
{
    const char *v = getenv("GPUCONV_FAKE_DEVICE_COUNT");
    return v && *v ? atoi(v) : 1;
}

/* Appends "live: ... injected=N sticky=S" to GPUCONV_FAKE_REPORT (after the driver's own line). */
static void live_report_at_exit(int status, void *unused)
{
    const char *path = getenv("GPUCONV_FAKE_REPORT");
    FILE *f = path && *path ? fopen(path, "a") : NULL;
    if (!f) return;
    char line[512];
    long long total = gpuconv_fake_live(line, sizeof line);
    fprintf(f, "live: %s total=%lld injected=%lld sticky=%d\n", line, total, n_injected, sticky_status);
    fclose(f);
}
