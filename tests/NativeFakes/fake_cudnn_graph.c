/* Fake cuDNN backend ("graph") API for libcudnn.so.9: cudnnBackendCreateDescriptor / SetAttribute / GetAttribute /
 * Finalize / DestroyDescriptor / Execute for the convolution graphs GpuConv builds (src/GpuConv/Backends/Cudnn/CudnnGraph*.cs).
 * Compiled into the fake libcudnn.so.9 through an #include at the end of fake_cudnn.c, so it shares that file's
 * status codes, refusal log (fail), handle checks, pointer checks, geometry check and naive convolution.
 * Follows cudnn_graph.h 9.6.0 and NVIDIA's backend-descriptor documentation (read through the reference tools;
 * no code copied). STRICT where the documentation is explicit:
 *  - every attribute is accepted only on its descriptor type, with its documented attribute type and element
 *    count (BAD_PARAM otherwise; a null array with a non-zero count is BAD_PARAM_NULL_POINTER);
 *  - setting an attribute of a finalized descriptor is NOT_INITIALIZED; getting one of a descriptor that is not
 *    finalized is BAD_PARAM_NOT_FINALIZED; finalizing twice, or with a required attribute missing, is BAD_PARAM;
 *  - descriptor-valued attributes must be live descriptors of the documented type (finalized when set; created
 *    by the caller and not finalized when they are filled by a get);
 *  - execute: the plan's handle, every non-virtual uid of the graph in the variant pack, each pointer inside one
 *    live device allocation for its tensor's extent and aligned to the tensor's declared byte alignment, the
 *    output not overlapping an input, the workspace at least the plan's size (scribbled over before computing).
 * The engines are a MODEL (not NVIDIA's list): 8 engines with knobs and numerical notes (see `engines` below),
 * one TENSOR_CORE engine that rounds its inputs to TF32 as a tensor core would, one that down-converts inputs,
 * one with the RUNTIME_COMPILATION behaviour note.
 * GPUCONV_FAKE_REPORT gets "cudnn_backend_live=N" at exit (descriptors created and never destroyed). */

enum {
    BK_CONVOLUTION = 1, BK_ENGINE = 2, BK_ENGINECFG = 3, BK_ENGINEHEUR = 4, BK_EXECUTION_PLAN = 5, BK_KNOB_CHOICE = 7,
    BK_OP_CONV_FWD = 10, BK_OP_CONV_BWD_FILTER = 11, BK_OP_CONV_BWD_DATA = 12, BK_OPERATIONGRAPH = 15, BK_VARIANT_PACK = 16,
    BK_TENSOR = 17, BK_TYPE_COUNT = 37,
};
enum {
    BT_HANDLE = 0, BT_DATA_TYPE = 1, BT_BOOLEAN = 2, BT_INT64 = 3, BT_FLOAT = 4, BT_DOUBLE = 5, BT_VOID_PTR = 6,
    BT_CONVOLUTION_MODE = 7, BT_HEUR_MODE = 8, BT_KNOB_TYPE = 9, BT_NUMERICAL_NOTE = 11, BT_BACKEND_DESCRIPTOR = 15,
    BT_BEHAVIOR_NOTE = 19,
};
enum {
    NOTE_TENSOR_CORE = 0, NOTE_DOWN_CONVERT_INPUTS = 1, NOTE_FFT = 3, NOTE_NONDETERMINISTIC = 4, NOTE_WINOGRAD = 5,
    NOTE_WINOGRAD_TILE_4x4 = 6,
};
enum { HEUR_INSTANT = 0, HEUR_B = 1, HEUR_FALLBACK = 2, HEUR_A = 3 };
enum { KNOB_SWIZZLE = 1, KNOB_TILE_SIZE = 2, KNOB_STAGES = 14, KNOB_COUNTS = 37 };
enum { BAD_PARAM_NOT_FINALIZED = 2004, BAD_PARAM_OUT_OF_BOUND = 2005, NOT_SUPPORTED_LAYOUT = 3004, NOT_SUPPORTED_PADDING = 3011 };
enum {
    A_CONV_COMP_TYPE = 100, A_CONV_MODE = 101, A_CONV_DILATIONS = 102, A_CONV_STRIDES = 103, A_CONV_POST = 104, A_CONV_PRE = 105,
    A_CONV_SPATIAL = 106,
    A_HEUR_MODE = 200, A_HEUR_GRAPH = 201, A_HEUR_RESULTS = 202,
    A_CFG_ENGINE = 300, A_CFG_KNOBS = 302, A_CFG_WORKSPACE = 303,
    A_PLAN_HANDLE = 400, A_PLAN_CONFIG = 401, A_PLAN_WORKSPACE = 402,
    A_KNOB_TYPE = 600, A_KNOB_VALUE = 601,
    A_OP_FIRST = 700, A_OP_LAST = 717,
    A_GRAPH_HANDLE = 800, A_GRAPH_OPS = 801, A_GRAPH_ENGINE_COUNT = 802,
    A_T_ALIGN = 900, A_T_DTYPE = 901, A_T_DIMS = 902, A_T_STRIDES = 903, A_T_UID = 906, A_T_VIRTUAL = 907,
    A_VP_UIDS = 1000, A_VP_PTRS = 1001, A_VP_INTERMEDIATES = 1002, A_VP_WORKSPACE = 1003,
    A_ENG_GRAPH = 1300, A_ENG_INDEX = 1301, A_ENG_NOTES = 1303, A_ENG_BEHAVIOR = 1305,
};

/* ---------------------------------------------------------------- the engine model */

#define MAX_KNOBS 3
typedef struct { int type, min, max, pick; } knob_info;
typedef struct {
    const char *what;
    int heur_a_rank;            /* position in mode A's list (0 = not listed by A) */
    int fallback;               /* listed by FALLBACK */
    int notes[3], n_notes;
    knob_info knobs[MAX_KNOBS]; int n_knobs;
    int wino_only;              /* 2-d 3x3, stride 1, dilation 1, groups 1 */
    int tf32;                   /* rounds inputs to TF32 (10-bit mantissa) before the exact sum */
    int runtime_compiled;       /* BEHAVIOR_NOTE_RUNTIME_COMPILATION */
} engine_model;

static const engine_model engines[] = {
    /* 0 */ { "implicit GEMM, no knobs, no workspace", 3, 1, { 0 }, 0, { { 0 } }, 0, 0, 0, 0 },
    /* 1 */ { "tiled GEMM: tile size and stages knobs, workspace = stages x 256 B", 1, 0, { 0 }, 0,
              { { KNOB_TILE_SIZE, 0, 2, 1 }, { KNOB_STAGES, 1, 3, 2 } }, 2, 0, 0, 0 },
    /* 2 */ { "tensor-core GEMM (TF32 for FLOAT data): swizzle knob", 2, 0, { NOTE_TENSOR_CORE }, 1,
              { { KNOB_SWIZZLE, 0, 1, 1 } }, 1, 0, 1, 0 },
    /* 3 */ { "Winograd 4x4 tiles (2-d 3x3, stride 1, dilation 1, groups 1)", 4, 0, { NOTE_WINOGRAD, NOTE_WINOGRAD_TILE_4x4 }, 2,
              { { 0 } }, 0, 1, 0, 0 },
    /* 4 */ { "split reduction with atomics", 5, 0, { NOTE_NONDETERMINISTIC }, 1, { { 0 } }, 0, 0, 0, 0 },
    /* 5 */ { "FP16 tensor cores (down-converts FLOAT inputs)", 6, 0, { NOTE_TENSOR_CORE, NOTE_DOWN_CONVERT_INPUTS }, 2,
              { { 0 } }, 0, 0, 1, 0 },
    /* 6 */ { "fallback direct loop (listed by FALLBACK only)", 0, 1, { 0 }, 0, { { 0 } }, 0, 0, 0, 0 },
    /* 7 */ { "runtime-compiled kernel (behaviour note RUNTIME_COMPILATION)", 7, 0, { 0 }, 0, { { 0 } }, 0, 0, 0, 1 },
};
#define ENGINE_COUNT ((int)(sizeof engines / sizeof engines[0]))

/* ---------------------------------------------------------------- descriptors */

#define G_MAGIC 0x47524150
#define G_MAX_ARR 8
typedef struct gdesc gdesc;

/* One convolution node, copied by value when its operation is finalized (legacy objects feed geometry_of). */
typedef struct {
    int op;                      /* OP_FWD, OP_BWD_DATA, OP_BWD_FILTER */
    obj x, w, cv, y;             /* x/dx, w/dw, conv, y/dy */
    int64_t uid[3], align[3];    /* x, w, y */
    double alpha, beta;
    geometry g;
} gconv;

struct gdesc {
    int magic, type, finalized;
    gdesc *next;
    unsigned long long set_mask[40];  /* attribute-name bits seen (name / 64 words) */
    /* tensor */
    int dtype, n_dims, n_strides, is_virtual; int64_t dims[G_MAX_ARR], strides[G_MAX_ARR], uid, align;
    /* convolution */
    int comp, mode, n_dil, n_str, n_pre, n_post; int64_t spatial, dil[G_MAX_ARR], str[G_MAX_ARR], pre[G_MAX_ARR], post[G_MAX_ARR];
    /* operation */
    gdesc *op_x, *op_w, *op_y, *op_conv; double alpha, beta; gconv conv;
    /* operation graph, engine, heuristics, plan */
    gdesc *ops; void *handle; gdesc *graph; int64_t index; int heur_mode;
    /* knob choice, engine config */
    int knob_type; int64_t knob_value; int n_knobs; int knob_types[KNOB_COUNTS]; int64_t knob_values[KNOB_COUNTS]; gdesc *engine;
    /* engine config and plan (copied at finalize) */
    int engine_index; gconv graph_conv; int64_t workspace;
    /* variant pack */
    int n_uids, n_ptrs, has_ws; int64_t uids[G_MAX_ARR]; uint64_t ptrs[G_MAX_ARR]; uint64_t ws;
};

static gdesc *gobjects;
static long long g_live;
static int g_report_registered;

static void g_report_at_exit(int status, void *unused)
{
    (void)status; (void)unused;
    const char *path = getenv("GPUCONV_FAKE_REPORT");
    if (!path || !*path) return;
    FILE *f = fopen(path, "a");
    if (!f) return;
    fprintf(f, "cudnn_backend_live=%lld\n", g_live);
    fclose(f);
}

/* Live backend descriptors now (test hook: GpuConv's Gpu tests read it when the library is this fake). */
FAKE_EXPORT long long gpuconv_fake_cudnn_backend_live(void)
{
    pthread_mutex_lock(&gate);
    long long n = g_live;
    pthread_mutex_unlock(&gate);
    return n;
}

static gdesc *gfind(const void *p)
{
    gdesc *found = NULL;
    pthread_mutex_lock(&gate);
    for (gdesc *o = gobjects; o; o = o->next)
        if (o == p) { found = o; break; }
    pthread_mutex_unlock(&gate);
    return found;
}

static int known_type(int t)
{
    return t == BK_CONVOLUTION || t == BK_ENGINE || t == BK_ENGINECFG || t == BK_ENGINEHEUR || t == BK_EXECUTION_PLAN
        || t == BK_KNOB_CHOICE || t == BK_OP_CONV_FWD || t == BK_OP_CONV_BWD_FILTER || t == BK_OP_CONV_BWD_DATA
        || t == BK_OPERATIONGRAPH || t == BK_VARIANT_PACK || t == BK_TENSOR;
}

FAKE_EXPORT cudnnStatus_t cudnnBackendCreateDescriptor(int type, void **out)
{
    if (!out) return fail(BAD_PARAM_NULL_POINTER, "%s(NULL)", __func__);
    if (type < 0 || type >= BK_TYPE_COUNT) return fail(BAD_PARAM, "%s: descriptor type %d does not exist", __func__, type);
    if (!known_type(type)) return fail(NOT_SUPPORTED, "%s: descriptor type %d is not modelled by the fake", __func__, type);
    gdesc *d = calloc(1, sizeof *d);
    if (!d) return fail(INTERNAL_ERROR, "%s: out of host memory", __func__);
    d->magic = G_MAGIC;
    d->type = type;
    pthread_mutex_lock(&gate);
    d->next = gobjects;
    gobjects = d;
    g_live++;
    if (!g_report_registered) { g_report_registered = 1; on_exit(g_report_at_exit, NULL); }
    pthread_mutex_unlock(&gate);
    *out = d;
    return OK;
}

FAKE_EXPORT cudnnStatus_t cudnnBackendDestroyDescriptor(void *p)
{
    pthread_mutex_lock(&gate);
    for (gdesc **pp = &gobjects; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            gdesc *d = *pp;
            *pp = d->next;
            g_live--;
            pthread_mutex_unlock(&gate);
            d->magic = 0;
            free(d);
            return OK;
        }
    pthread_mutex_unlock(&gate);
    return fail(BAD_PARAM, "%s(%p): not a live backend descriptor", __func__, p);
}

static void mark(gdesc *d, int name) { if (name >= 0 && name < 40 * 64) d->set_mask[name / 64] |= 1ULL << (name % 64); }
static int has(const gdesc *d, int name) { return name >= 0 && name < 40 * 64 && (d->set_mask[name / 64] >> (name % 64)) & 1; }

/* ---------------------------------------------------------------- set */

/* The documented type and count of an attribute on a descriptor type: count_min..count_max elements. */
static cudnnStatus_t expect(const char *call, const gdesc *d, int name, int type, int64_t count, int want_type, int64_t min, int64_t max, const void *arr)
{
    if (type != want_type) return fail(BAD_PARAM, "%s: descriptor type %d attribute %d takes attribute type %d, got %d", call, d->type, name, want_type, type);
    if (count < min || count > max) return fail(BAD_PARAM, "%s: descriptor type %d attribute %d takes %lld to %lld elements, got %lld", call, d->type, name,
        (long long)min, (long long)max, (long long)count);
    if (count > 0 && !arr) return fail(BAD_PARAM_NULL_POINTER, "%s: attribute %d: %lld elements at a null pointer", call, name, (long long)count);
    return OK;
}

/* A descriptor-valued element: live, of `want` type, finalized. */
static cudnnStatus_t finalized_ref(const char *call, int name, void *p, int want, gdesc **out)
{
    gdesc *r = gfind(p);
    if (!r) return fail(BAD_PARAM, "%s: attribute %d: %p is not a live backend descriptor", call, name, p);
    if (r->type != want) return fail(BAD_PARAM, "%s: attribute %d wants descriptor type %d, got type %d", call, name, want, r->type);
    if (!r->finalized) return fail(BAD_PARAM, "%s: attribute %d: descriptor %p (type %d) is not finalized", call, name, p, r->type);
    *out = r;
    return OK;
}

static int op_kind(int type) { return type == BK_OP_CONV_FWD ? OP_FWD : type == BK_OP_CONV_BWD_DATA ? OP_BWD_DATA : OP_BWD_FILTER; }

/* Attribute names of each convolution op: alpha, beta, conv, then the three tensors in (x, w, y) order. */
static int op_attr_role(int type, int name)
{
    static const int fwd[6] = { 700, 701, 702, 704, 703, 705 };        /* alpha beta conv X W Y */
    static const int data[6] = { 706, 707, 708, 710, 709, 711 };       /* alpha beta conv DX W DY */
    static const int filter[6] = { 712, 713, 714, 716, 715, 717 };     /* alpha beta conv X DW DY */
    const int *t = type == BK_OP_CONV_FWD ? fwd : type == BK_OP_CONV_BWD_DATA ? data : filter;
    for (int i = 0; i < 6; i++) if (t[i] == name) return i;
    return -1;
}

static cudnnStatus_t copy_i64(const char *call, gdesc *d, int name, int type, int64_t count, const void *arr, int64_t *dst, int *n)
{
    cudnnStatus_t s = expect(call, d, name, type, count, BT_INT64, 1, G_MAX_ARR, arr);
    if (s) return s;
    memcpy(dst, arr, (size_t)count * sizeof(int64_t));
    *n = (int)count;
    return OK;
}

static cudnnStatus_t set_impl(gdesc *d, int name, int type, int64_t count, const void *arr)
{
    const char *call = "cudnnBackendSetAttribute";
    cudnnStatus_t s = OK;
    if (count < 0) return fail(BAD_PARAM, "%s: negative element count %lld", call, (long long)count);
    switch (d->type) {
    case BK_TENSOR:
        switch (name) {
        case A_T_DTYPE: if ((s = expect(call, d, name, type, count, BT_DATA_TYPE, 1, 1, arr))) return s; d->dtype = *(const int *)arr; break;
        case A_T_DIMS: if ((s = copy_i64(call, d, name, type, count, arr, d->dims, &d->n_dims))) return s; break;
        case A_T_STRIDES: if ((s = copy_i64(call, d, name, type, count, arr, d->strides, &d->n_strides))) return s; break;
        case A_T_UID: if ((s = expect(call, d, name, type, count, BT_INT64, 1, 1, arr))) return s; d->uid = *(const int64_t *)arr; break;
        case A_T_ALIGN: if ((s = expect(call, d, name, type, count, BT_INT64, 1, 1, arr))) return s; d->align = *(const int64_t *)arr; break;
        case A_T_VIRTUAL: if ((s = expect(call, d, name, type, count, BT_BOOLEAN, 1, 1, arr))) return s; d->is_virtual = *(const unsigned char *)arr != 0; break;
        default: return fail(BAD_PARAM, "%s: attribute %d is not a tensor attribute (the fake models 900-903, 906, 907)", call, name);
        }
        break;
    case BK_CONVOLUTION:
        switch (name) {
        case A_CONV_COMP_TYPE: if ((s = expect(call, d, name, type, count, BT_DATA_TYPE, 1, 1, arr))) return s; d->comp = *(const int *)arr; break;
        case A_CONV_MODE: if ((s = expect(call, d, name, type, count, BT_CONVOLUTION_MODE, 1, 1, arr))) return s; d->mode = *(const int *)arr; break;
        case A_CONV_SPATIAL: if ((s = expect(call, d, name, type, count, BT_INT64, 1, 1, arr))) return s; d->spatial = *(const int64_t *)arr; break;
        case A_CONV_DILATIONS: if ((s = copy_i64(call, d, name, type, count, arr, d->dil, &d->n_dil))) return s; break;
        case A_CONV_STRIDES: if ((s = copy_i64(call, d, name, type, count, arr, d->str, &d->n_str))) return s; break;
        case A_CONV_PRE: if ((s = copy_i64(call, d, name, type, count, arr, d->pre, &d->n_pre))) return s; break;
        case A_CONV_POST: if ((s = copy_i64(call, d, name, type, count, arr, d->post, &d->n_post))) return s; break;
        default: return fail(BAD_PARAM, "%s: attribute %d is not a convolution attribute", call, name);
        }
        break;
    case BK_OP_CONV_FWD: case BK_OP_CONV_BWD_DATA: case BK_OP_CONV_BWD_FILTER: {
        int role = op_attr_role(d->type, name);
        if (role < 0) return fail(BAD_PARAM, "%s: attribute %d does not belong to convolution operation type %d", call, name, d->type);
        if (role <= 1) {
            /* alpha / beta: FLOAT or DOUBLE, one element */
            if (type != BT_FLOAT && type != BT_DOUBLE) return fail(BAD_PARAM, "%s: alpha/beta (attribute %d) takes FLOAT or DOUBLE, got type %d", call, name, type);
            if ((s = expect(call, d, name, type, count, type, 1, 1, arr))) return s;
            double v = type == BT_FLOAT ? *(const float *)arr : *(const double *)arr;
            if (role == 0) d->alpha = v; else d->beta = v;
        } else {
            if ((s = expect(call, d, name, type, count, BT_BACKEND_DESCRIPTOR, 1, 1, arr))) return s;
            gdesc *r;
            if ((s = finalized_ref(call, name, *(void *const *)arr, role == 2 ? BK_CONVOLUTION : BK_TENSOR, &r))) return s;
            if (role == 2) d->op_conv = r; else if (role == 3) d->op_x = r; else if (role == 4) d->op_w = r; else d->op_y = r;
        }
        break;
    }
    case BK_OPERATIONGRAPH:
        if (name == A_GRAPH_OPS) {
            /* the fake runs graphs of exactly one convolution node */
            if ((s = expect(call, d, name, type, count, BT_BACKEND_DESCRIPTOR, 1, 1, arr))) return s;
            gdesc *r = gfind(*(void *const *)arr);
            if (!r || (r->type != BK_OP_CONV_FWD && r->type != BK_OP_CONV_BWD_DATA && r->type != BK_OP_CONV_BWD_FILTER))
                return fail(BAD_PARAM, "%s: OPS: %p is not a live convolution operation", call, *(void *const *)arr);
            if (!r->finalized) return fail(BAD_PARAM, "%s: OPS: the operation is not finalized", call);
            d->ops = r;
        } else if (name == A_GRAPH_HANDLE) {
            if ((s = expect(call, d, name, type, count, BT_HANDLE, 1, 1, arr))) return s;
            void *h = *(void *const *)arr;
            if (!find(h, K_HANDLE)) return fail(BAD_PARAM, "%s: HANDLE %p is not a live cudnnHandle_t", call, h);
            d->handle = h;
        } else return fail(BAD_PARAM, "%s: attribute %d is not an operation-graph attribute", call, name);
        break;
    case BK_ENGINEHEUR:
        if (name == A_HEUR_GRAPH) {
            if ((s = expect(call, d, name, type, count, BT_BACKEND_DESCRIPTOR, 1, 1, arr))) return s;
            if ((s = finalized_ref(call, name, *(void *const *)arr, BK_OPERATIONGRAPH, &d->graph))) return s;
        } else if (name == A_HEUR_MODE) {
            if ((s = expect(call, d, name, type, count, BT_HEUR_MODE, 1, 1, arr))) return s;
            int m = *(const int *)arr;
            if (m < HEUR_INSTANT || m > HEUR_A) return fail(BAD_PARAM, "%s: heuristics mode %d", call, m);
            d->heur_mode = m;
        } else return fail(BAD_PARAM, "%s: attribute %d is not an engine-heuristics attribute (RESULTS is read, not set)", call, name);
        break;
    case BK_ENGINE:
        if (name == A_ENG_GRAPH) {
            if ((s = expect(call, d, name, type, count, BT_BACKEND_DESCRIPTOR, 1, 1, arr))) return s;
            if ((s = finalized_ref(call, name, *(void *const *)arr, BK_OPERATIONGRAPH, &d->graph))) return s;
        } else if (name == A_ENG_INDEX) {
            if ((s = expect(call, d, name, type, count, BT_INT64, 1, 1, arr))) return s;
            d->index = *(const int64_t *)arr;
        } else return fail(BAD_PARAM, "%s: attribute %d cannot be set on an engine (notes and knob info are read-only)", call, name);
        break;
    case BK_KNOB_CHOICE:
        if (name == A_KNOB_TYPE) {
            if ((s = expect(call, d, name, type, count, BT_KNOB_TYPE, 1, 1, arr))) return s;
            int k = *(const int *)arr;
            if (k < 0 || k >= KNOB_COUNTS) return fail(BAD_PARAM, "%s: knob type %d", call, k);
            d->knob_type = k;
        } else if (name == A_KNOB_VALUE) {
            if ((s = expect(call, d, name, type, count, BT_INT64, 1, 1, arr))) return s;
            d->knob_value = *(const int64_t *)arr;
        } else return fail(BAD_PARAM, "%s: attribute %d is not a knob-choice attribute", call, name);
        break;
    case BK_ENGINECFG:
        if (name == A_CFG_ENGINE) {
            if ((s = expect(call, d, name, type, count, BT_BACKEND_DESCRIPTOR, 1, 1, arr))) return s;
            if ((s = finalized_ref(call, name, *(void *const *)arr, BK_ENGINE, &d->engine))) return s;
        } else if (name == A_CFG_KNOBS) {
            if ((s = expect(call, d, name, type, count, BT_BACKEND_DESCRIPTOR, 1, KNOB_COUNTS, arr))) return s;
            for (int64_t i = 0; i < count; i++) {
                gdesc *k;
                if ((s = finalized_ref(call, name, ((void *const *)arr)[i], BK_KNOB_CHOICE, &k))) return s;
                for (int64_t j = 0; j < i; j++)
                    if (d->knob_types[j] == k->knob_type) return fail(BAD_PARAM, "%s: knob type %d chosen twice", call, k->knob_type);
                d->knob_types[i] = k->knob_type;
                d->knob_values[i] = k->knob_value;
            }
            d->n_knobs = (int)count;
        } else return fail(BAD_PARAM, "%s: attribute %d cannot be set on an engine config", call, name);
        break;
    case BK_EXECUTION_PLAN:
        if (name == A_PLAN_HANDLE) {
            if ((s = expect(call, d, name, type, count, BT_HANDLE, 1, 1, arr))) return s;
            void *h = *(void *const *)arr;
            if (!find(h, K_HANDLE)) return fail(BAD_PARAM, "%s: HANDLE %p is not a live cudnnHandle_t", call, h);
            d->handle = h;
        } else if (name == A_PLAN_CONFIG) {
            if ((s = expect(call, d, name, type, count, BT_BACKEND_DESCRIPTOR, 1, 1, arr))) return s;
            if ((s = finalized_ref(call, name, *(void *const *)arr, BK_ENGINECFG, &d->engine))) return s;
        } else return fail(BAD_PARAM, "%s: attribute %d cannot be set on an execution plan", call, name);
        break;
    case BK_VARIANT_PACK:
        if (name == A_VP_UIDS) {
            if ((s = expect(call, d, name, type, count, BT_INT64, 1, G_MAX_ARR, arr))) return s;
            memcpy(d->uids, arr, (size_t)count * sizeof(int64_t));
            d->n_uids = (int)count;
        } else if (name == A_VP_PTRS) {
            if ((s = expect(call, d, name, type, count, BT_VOID_PTR, 1, G_MAX_ARR, arr))) return s;
            memcpy(d->ptrs, arr, (size_t)count * sizeof(uint64_t));
            d->n_ptrs = (int)count;
        } else if (name == A_VP_WORKSPACE) {
            if ((s = expect(call, d, name, type, count, BT_VOID_PTR, 1, 1, arr))) return s;
            d->ws = *(const uint64_t *)arr;
            d->has_ws = 1;
        } else if (name == A_VP_INTERMEDIATES) {
            return fail(NOT_SUPPORTED, "%s: INTERMEDIATES: the fake's graphs have none", call);
        } else return fail(BAD_PARAM, "%s: attribute %d is not a variant-pack attribute", call, name);
        break;
    default:
        return fail(BAD_PARAM, "%s: descriptor type %d has no settable attributes in the fake", call, d->type);
    }
    mark(d, name);
    return OK;
}

FAKE_EXPORT cudnnStatus_t cudnnBackendSetAttribute(void *desc, int name, int type, int64_t count, const void *arr)
{
    gdesc *d = gfind(desc);
    if (!d) return fail(BAD_PARAM, "cudnnBackendSetAttribute: %p is not a live backend descriptor", desc);
    if (d->finalized) return fail(NOT_INITIALIZED, "cudnnBackendSetAttribute: descriptor %p (type %d) is already finalized", desc, d->type);
    return set_impl(d, name, type, count, arr);
}

/* ---------------------------------------------------------------- finalize */

#define REQUIRE(d, name, what) \
    if (!has(d, name)) return fail(BAD_PARAM, "cudnnBackendFinalize: descriptor type %d: required attribute %d (%s) was never set", (d)->type, name, what)

static int valid_packed(const int64_t *dims, const int64_t *strides, int n)
{
    int64_t acc = 1;
    for (int i = n - 1; i >= 0; i--) { if (strides[i] != acc) return 0; acc *= dims[i]; }
    return 1;
}

/* A legacy tensor/filter object for geometry_of (int dims; the graph's int64 values must fit). */
static cudnnStatus_t to_legacy(const gdesc *t, obj *o, int kind)
{
    memset(o, 0, sizeof *o);
    o->kind = kind; o->set = 1; o->dtype = t->dtype; o->format = FMT_NCHW; o->nb = t->n_dims; o->groups = 1;
    for (int i = 0; i < t->n_dims; i++) {
        if (t->dims[i] > 0x7fffffff || t->strides[i] > 0x7fffffff) return fail(NOT_SUPPORTED, "cudnnBackendFinalize: dims or strides past 2^31 (not modelled)");
        o->dims[i] = (int)t->dims[i];
        o->strides[i] = (int)t->strides[i];
    }
    return OK;
}

/* An engine config's knobs against its engine's model, and its workspace; engine_index and graph are set. */
static cudnnStatus_t config_common(gdesc *d)
{
    const char *call = "cudnnBackendFinalize";
    const engine_model *e = &engines[d->engine_index];
    int64_t stages = 1;
    for (int i = 0; i < d->n_knobs; i++) {
        const knob_info *k = NULL;
        for (int j = 0; j < e->n_knobs; j++) if (e->knobs[j].type == d->knob_types[i]) k = &e->knobs[j];
        if (!k) return fail(NOT_SUPPORTED, "%s: engine %d has no knob of type %d", call, d->engine_index, d->knob_types[i]);
        if (d->knob_values[i] < k->min || d->knob_values[i] > k->max)
            return fail(NOT_SUPPORTED, "%s: engine %d knob %d value %lld is outside [%d, %d]", call, d->engine_index, k->type,
                (long long)d->knob_values[i], k->min, k->max);
        if (k->type == KNOB_STAGES) stages = d->knob_values[i];
    }
    /* workspace: engine 1 by its stages knob, the tensor-core engine a fixed staging buffer, Winograd its transforms */
    const geometry *g = &d->graph_conv.g;
    d->workspace = d->engine_index == 1 ? stages * 256 : d->engine_index == 2 ? 1024
                 : d->engine_index == 3 ? (int64_t)(g->n * g->c + g->k * g->c + g->n * g->k) * 16 * 4 : 0;
    d->finalized = 1;
    return OK;
}

static cudnnStatus_t finalize_impl(gdesc *d)
{
    const char *call = "cudnnBackendFinalize";
    cudnnStatus_t s;
    switch (d->type) {
    case BK_TENSOR:
        REQUIRE(d, A_T_DTYPE, "DATA_TYPE"); REQUIRE(d, A_T_DIMS, "DIMENSIONS"); REQUIRE(d, A_T_STRIDES, "STRIDES");
        REQUIRE(d, A_T_UID, "UNIQUE_ID"); REQUIRE(d, A_T_ALIGN, "BYTE_ALIGNMENT");
        if (d->n_dims != d->n_strides) return fail(BAD_PARAM, "%s: tensor has %d dims and %d strides", call, d->n_dims, d->n_strides);
        if (d->n_dims < 3) return fail(BAD_PARAM, "%s: tensor has %d dims (convolution tensors have 3 to 8)", call, d->n_dims);
        for (int i = 0; i < d->n_dims; i++)
            if (d->dims[i] <= 0 || d->strides[i] <= 0) return fail(BAD_PARAM, "%s: tensor dim %d is %lld with stride %lld", call, i, (long long)d->dims[i], (long long)d->strides[i]);
        if (d->align <= 0 || (d->align & (d->align - 1))) return fail(BAD_PARAM, "%s: byte alignment %lld is not a power of two", call, (long long)d->align);
        if (!valid_dtype(d->dtype)) return fail(BAD_PARAM, "%s: data type %d", call, d->dtype);
        break;
    case BK_CONVOLUTION:
        REQUIRE(d, A_CONV_COMP_TYPE, "COMP_TYPE"); REQUIRE(d, A_CONV_MODE, "CONV_MODE"); REQUIRE(d, A_CONV_SPATIAL, "SPATIAL_DIMS");
        REQUIRE(d, A_CONV_DILATIONS, "DILATIONS"); REQUIRE(d, A_CONV_STRIDES, "FILTER_STRIDES");
        REQUIRE(d, A_CONV_PRE, "PRE_PADDINGS"); REQUIRE(d, A_CONV_POST, "POST_PADDINGS");
        if (d->spatial < 1 || d->spatial > 3) return fail(BAD_PARAM, "%s: SPATIAL_DIMS %lld", call, (long long)d->spatial);
        if (d->n_dil != d->spatial || d->n_str != d->spatial || d->n_pre != d->spatial || d->n_post != d->spatial)
            return fail(BAD_PARAM, "%s: SPATIAL_DIMS %lld but %d dilations, %d strides, %d pre and %d post paddings", call,
                (long long)d->spatial, d->n_dil, d->n_str, d->n_pre, d->n_post);
        if (d->mode != 0 && d->mode != 1) return fail(BAD_PARAM, "%s: convolution mode %d", call, d->mode);
        for (int i = 0; i < d->spatial; i++)
            if (d->dil[i] < 1 || d->str[i] < 1 || d->pre[i] < 0 || d->post[i] < 0)
                return fail(BAD_PARAM, "%s: spatial dim %d: dilation %lld stride %lld pads %lld/%lld", call, i, (long long)d->dil[i],
                    (long long)d->str[i], (long long)d->pre[i], (long long)d->post[i]);
        break;
    case BK_OP_CONV_FWD: case BK_OP_CONV_BWD_DATA: case BK_OP_CONV_BWD_FILTER: {
        static const char *roles[6] = { "ALPHA", "BETA", "CONV_DESC", "X/DX", "W/DW", "Y/DY" };
        static const int fwd[6] = { 700, 701, 702, 704, 703, 705 }, data[6] = { 706, 707, 708, 710, 709, 711 }, filter[6] = { 712, 713, 714, 716, 715, 717 };
        const int *names = d->type == BK_OP_CONV_FWD ? fwd : d->type == BK_OP_CONV_BWD_DATA ? data : filter;
        /* The documentation lists alpha and beta as required, like the tensors and the convolution. */
        for (int i = 0; i < 6; i++) REQUIRE(d, names[i], roles[i]);
        gdesc *x = d->op_x, *w = d->op_w, *y = d->op_y, *c = d->op_conv;
        if (!gfind(x) || !gfind(w) || !gfind(y) || !gfind(c)) return fail(BAD_PARAM, "%s: a tensor or the convolution of the operation was destroyed", call);
        if (x->uid == w->uid || x->uid == y->uid || w->uid == y->uid) return fail(BAD_PARAM, "%s: the operation's tensors share a uid", call);
        if (x->is_virtual || w->is_virtual || y->is_virtual) return fail(NOT_SUPPORTED, "%s: virtual tensors (the fake runs single-node graphs)", call);
        for (int i = 0; i < c->spatial; i++)
            if (c->pre[i] != c->post[i]) return fail(NOT_SUPPORTED_PADDING, "%s: asymmetric padding pre %lld post %lld (not modelled by the fake)", call,
                (long long)c->pre[i], (long long)c->post[i]);
        if (c->comp != DT_FLOAT) return fail(NOT_SUPPORTED, "%s: compute type %d (the fake computes FLOAT)", call, c->comp);
        if (!valid_packed(w->dims, w->strides, w->n_dims)) return fail(NOT_SUPPORTED_LAYOUT, "%s: the filter is not packed NCHW (the fake's filters are)", call);
        gconv *g = &d->conv;
        memset(g, 0, sizeof *g);
        g->op = op_kind(d->type);
        if ((s = to_legacy(x, &g->x, K_TENSOR)) || (s = to_legacy(w, &g->w, K_FILTER)) || (s = to_legacy(y, &g->y, K_TENSOR))) return s;
        if (x->dims[1] % w->dims[1]) return fail(BAD_PARAM, "%s: x has %lld channels, not a multiple of the filter's %lld", call, (long long)x->dims[1], (long long)w->dims[1]);
        obj *cv = &g->cv;
        cv->kind = K_CONV; cv->set = 1; cv->spatial = (int)c->spatial; cv->mode = c->mode; cv->compute = c->comp;
        cv->groups = (int)(x->dims[1] / w->dims[1]);
        for (int i = 0; i < c->spatial; i++) { cv->pad[i] = (int)c->pre[i]; cv->stride[i] = (int)c->str[i]; cv->dil[i] = (int)c->dil[i]; }
        /* x, w, y must agree with the output-dim formula and the groups, as the legacy calls check (BAD_PARAM). */
        if ((s = geometry_of(call, &g->x, &g->w, cv, &g->y, &g->g))) return s;
        g->uid[0] = x->uid; g->uid[1] = w->uid; g->uid[2] = y->uid;
        g->align[0] = x->align; g->align[1] = w->align; g->align[2] = y->align;
        g->alpha = d->alpha; g->beta = d->beta;
        break;
    }
    case BK_OPERATIONGRAPH:
        REQUIRE(d, A_GRAPH_OPS, "OPS"); REQUIRE(d, A_GRAPH_HANDLE, "HANDLE");
        if (!gfind(d->ops)) return fail(BAD_PARAM, "%s: the graph's operation was destroyed", call);
        d->graph_conv = d->ops->conv;
        break;
    case BK_ENGINEHEUR:
        REQUIRE(d, A_HEUR_GRAPH, "OPERATION_GRAPH"); REQUIRE(d, A_HEUR_MODE, "MODE");
        if (!gfind(d->graph)) return fail(BAD_PARAM, "%s: the heuristics' operation graph was destroyed", call);
        d->graph_conv = d->graph->graph_conv;
        break;
    case BK_ENGINE: {
        REQUIRE(d, A_ENG_GRAPH, "OPERATION_GRAPH"); REQUIRE(d, A_ENG_INDEX, "GLOBAL_INDEX");
        if (!gfind(d->graph)) return fail(BAD_PARAM, "%s: the engine's operation graph was destroyed", call);
        if (d->index < 0 || d->index >= ENGINE_COUNT)
            return fail(BAD_PARAM_OUT_OF_BOUND, "%s: engine global index %lld (the graph has %d engines)", call, (long long)d->index, ENGINE_COUNT);
        const engine_model *e = &engines[d->index];
        const geometry *g = &d->graph->graph_conv.g;
        int unit = g->str[0] == 1 && g->str[1] == 1 && g->dil[0] == 1 && g->dil[1] == 1;
        if (e->wino_only && !(d->graph->graph_conv.x.nb == 4 && g->ker[0] == 3 && g->ker[1] == 3 && unit && g->g == 1))
            return fail(NOT_SUPPORTED, "%s: engine %lld (%s) does not support this graph", call, (long long)d->index, e->what);
        d->graph_conv = d->graph->graph_conv;
        d->engine_index = (int)d->index;
        break;
    }
    case BK_KNOB_CHOICE:
        REQUIRE(d, A_KNOB_TYPE, "KNOB_TYPE"); REQUIRE(d, A_KNOB_VALUE, "KNOB_VALUE");
        break;
    case BK_ENGINECFG:
        REQUIRE(d, A_CFG_ENGINE, "ENGINE");
        if (!gfind(d->engine)) return fail(BAD_PARAM, "%s: the config's engine was destroyed", call);
        d->engine_index = d->engine->engine_index;
        d->graph = d->engine->graph;
        d->graph_conv = d->engine->graph_conv;
        return config_common(d);
    case BK_EXECUTION_PLAN:
        REQUIRE(d, A_PLAN_HANDLE, "HANDLE"); REQUIRE(d, A_PLAN_CONFIG, "ENGINE_CONFIG");
        if (!gfind(d->engine)) return fail(BAD_PARAM, "%s: the plan's engine config was destroyed", call);
        d->engine_index = d->engine->engine_index;
        d->graph_conv = d->engine->graph_conv;
        d->workspace = d->engine->workspace;
        break;
    case BK_VARIANT_PACK:
        REQUIRE(d, A_VP_UIDS, "UNIQUE_IDS"); REQUIRE(d, A_VP_PTRS, "DATA_POINTERS"); REQUIRE(d, A_VP_WORKSPACE, "WORKSPACE");
        if (d->n_uids != d->n_ptrs) return fail(BAD_PARAM, "%s: variant pack has %d uids and %d pointers", call, d->n_uids, d->n_ptrs);
        break;
    default:
        return fail(BAD_PARAM, "%s: descriptor type %d", call, d->type);
    }
    d->finalized = 1;
    return OK;
}

FAKE_EXPORT cudnnStatus_t cudnnBackendFinalize(void *desc)
{
    gdesc *d = gfind(desc);
    if (!d) return fail(BAD_PARAM, "cudnnBackendFinalize: %p is not a live backend descriptor", desc);
    if (d->finalized) return fail(BAD_PARAM, "cudnnBackendFinalize: descriptor %p (type %d) is already finalized", desc, d->type);
    cudnnStatus_t s = finalize_impl(d);
    if (s != OK) return s;
    /* Injected after the checks, so a faulted call is a valid one: "cudnnBackendFinalize#TYPE" refuses one descriptor
     * type (#15 an operation graph cuDNN will not build, #4 a heuristics query it refuses); the descriptor stays
     * unfinalized, as after a refusal. */
    int fault = gpuconv_fake_fault_library("cudnnBackendFinalize", d->type, 0);
    if (fault > 0) {
        d->finalized = 0;
        return fail((cudnnStatus_t)fault, "cudnnBackendFinalize: descriptor type %d: injected fault (GPUCONV_FAKE_FAULTS)", d->type);
    }
    return OK;
}

/* ---------------------------------------------------------------- get */

/* The engines a heuristics mode lists for the graph, in its order; returns how many. */
static int heuristic_list(const gdesc *heur, int *out)
{
    int n = 0;
    const gconv *c = &heur->graph_conv;
    const geometry *g = &c->g;
    int unit = g->str[0] == 1 && g->str[1] == 1 && g->dil[0] == 1 && g->dil[1] == 1;
    int wino_ok = c->x.nb == 4 && g->ker[0] == 3 && g->ker[1] == 3 && unit && g->g == 1;
    if (heur->heur_mode == HEUR_FALLBACK) {
        for (int i = 0; i < ENGINE_COUNT; i++) if (engines[i].fallback) out[n++] = i;
        return n;
    }
    /* INSTANT, B and A: the ranked list (A's ranks) */
    for (int rank = 1; rank <= ENGINE_COUNT; rank++)
        for (int i = 0; i < ENGINE_COUNT; i++)
            if (engines[i].heur_a_rank == rank && (!engines[i].wino_only || wino_ok)) out[n++] = i;
    return n;
}

/* A descriptor array to be filled: every element live, of `want` type, not finalized. */
static cudnnStatus_t fillable(const char *call, int name, void *const *arr, int64_t n, int want)
{
    for (int64_t i = 0; i < n; i++) {
        gdesc *r = gfind(arr[i]);
        if (!r) return fail(BAD_PARAM, "%s: attribute %d element %lld: %p is not a live backend descriptor (the caller creates them)", call, name, (long long)i, arr[i]);
        if (r->type != want) return fail(BAD_PARAM, "%s: attribute %d element %lld has descriptor type %d, wants %d", call, name, (long long)i, r->type, want);
        if (r->finalized) return fail(BAD_PARAM, "%s: attribute %d element %lld is already finalized", call, name, (long long)i);
    }
    return OK;
}

static void fill_engine(gdesc *e, gdesc *graph, int index)
{
    e->graph = graph; e->index = index; e->engine_index = index; e->graph_conv = graph->graph_conv;
    mark(e, A_ENG_GRAPH); mark(e, A_ENG_INDEX);
    e->finalized = 1;
}

static cudnnStatus_t get_impl(gdesc *d, int name, int type, int64_t requested, int64_t *count, void *arr)
{
    const char *call = "cudnnBackendGetAttribute";
    if (!count) return fail(BAD_PARAM_NULL_POINTER, "%s: null elementCount", call);
    if (requested < 0) return fail(BAD_PARAM, "%s: negative requestedElementCount", call);
    if (requested > 0 && !arr) return fail(BAD_PARAM_NULL_POINTER, "%s: %lld elements requested into a null array", call, (long long)requested);
    if (!d->finalized) return fail(BAD_PARAM_NOT_FINALIZED, "%s: descriptor %p (type %d) is not finalized", call, (void *)d, d->type);
#define WANT(t) if (type != (t)) return fail(BAD_PARAM, "%s: descriptor type %d attribute %d is read as type %d, got %d", call, d->type, name, t, type)
    switch (d->type) {
    case BK_ENGINEHEUR:
        if (name != A_HEUR_RESULTS) break;
        WANT(BT_BACKEND_DESCRIPTOR);
        {
            if (!gfind(d->graph)) return fail(BAD_PARAM, "%s: the heuristics' operation graph was destroyed", call);
            int list[16], n = heuristic_list(d, list);
            int64_t m = requested < n ? requested : n;
            cudnnStatus_t s = fillable(call, name, (void *const *)arr, m, BK_ENGINECFG);
            if (s) return s;
            for (int64_t i = 0; i < m; i++) {
                /* the config names its engine by index on the heuristics' graph (read back with ENGINECFG_ENGINE) */
                gdesc *cfg = ((gdesc **)arr)[i];
                const engine_model *e = &engines[list[i]];
                cfg->engine_index = list[i];
                cfg->graph = d->graph;
                cfg->graph_conv = d->graph->graph_conv;
                mark(cfg, A_CFG_ENGINE);
                cfg->n_knobs = e->n_knobs;
                for (int k = 0; k < e->n_knobs; k++) { cfg->knob_types[k] = e->knobs[k].type; cfg->knob_values[k] = e->knobs[k].pick; }
                if (e->n_knobs) mark(cfg, A_CFG_KNOBS);
                if ((s = config_common(cfg))) return s;
            }
            *count = requested == 0 ? n : m;
            return OK;
        }
    case BK_ENGINECFG:
        if (name == A_CFG_ENGINE) {
            WANT(BT_BACKEND_DESCRIPTOR);
            int64_t m = requested < 1 ? requested : 1;
            cudnnStatus_t s = fillable(call, name, (void *const *)arr, m, BK_ENGINE);
            if (s) return s;
            if (!gfind(d->graph)) return fail(BAD_PARAM, "%s: the config's operation graph was destroyed", call);
            if (m == 1) fill_engine(((gdesc **)arr)[0], d->graph, d->engine_index);
            *count = 1;
            return OK;
        }
        if (name == A_CFG_KNOBS) {
            WANT(BT_BACKEND_DESCRIPTOR);
            int64_t m = requested < d->n_knobs ? requested : d->n_knobs;
            cudnnStatus_t s = fillable(call, name, (void *const *)arr, m, BK_KNOB_CHOICE);
            if (s) return s;
            for (int64_t i = 0; i < m; i++) {
                gdesc *k = ((gdesc **)arr)[i];
                k->knob_type = d->knob_types[i]; k->knob_value = d->knob_values[i];
                mark(k, A_KNOB_TYPE); mark(k, A_KNOB_VALUE);
                k->finalized = 1;
            }
            *count = requested == 0 ? d->n_knobs : m;
            return OK;
        }
        if (name == A_CFG_WORKSPACE) {
            WANT(BT_INT64);
            if (requested >= 1) *(int64_t *)arr = d->workspace;
            *count = 1;
            return OK;
        }
        break;
    case BK_ENGINE:
        if (name == A_ENG_INDEX) {
            WANT(BT_INT64);
            if (requested >= 1) *(int64_t *)arr = d->engine_index;
            *count = 1;
            return OK;
        }
        if (name == A_ENG_NOTES || name == A_ENG_BEHAVIOR) {
            WANT(name == A_ENG_NOTES ? BT_NUMERICAL_NOTE : BT_BEHAVIOR_NOTE);
            const engine_model *e = &engines[d->engine_index];
            int behavior[1] = { 0 /* RUNTIME_COMPILATION */ };
            int n = name == A_ENG_NOTES ? e->n_notes : e->runtime_compiled;
            int64_t m = requested < n ? requested : n;
            for (int64_t i = 0; i < m; i++) ((int *)arr)[i] = name == A_ENG_NOTES ? e->notes[i] : behavior[i];
            *count = requested == 0 ? n : m;
            return OK;
        }
        break;
    case BK_KNOB_CHOICE:
        if (name == A_KNOB_TYPE) { WANT(BT_KNOB_TYPE); if (requested >= 1) *(int *)arr = d->knob_type; *count = 1; return OK; }
        if (name == A_KNOB_VALUE) { WANT(BT_INT64); if (requested >= 1) *(int64_t *)arr = d->knob_value; *count = 1; return OK; }
        break;
    case BK_EXECUTION_PLAN:
        if (name == A_PLAN_WORKSPACE) { WANT(BT_INT64); if (requested >= 1) *(int64_t *)arr = d->workspace; *count = 1; return OK; }
        break;
    case BK_OPERATIONGRAPH:
        if (name == A_GRAPH_ENGINE_COUNT) { WANT(BT_INT64); if (requested >= 1) *(int64_t *)arr = ENGINE_COUNT; *count = 1; return OK; }
        break;
    }
#undef WANT
    return fail(BAD_PARAM, "%s: descriptor type %d has no readable attribute %d in the fake", call, d->type, name);
}

FAKE_EXPORT cudnnStatus_t cudnnBackendGetAttribute(void *desc, int name, int type, int64_t requested, int64_t *count, void *arr)
{
    gdesc *d = gfind(desc);
    if (!d) return fail(BAD_PARAM, "cudnnBackendGetAttribute: %p is not a live backend descriptor", desc);
    return get_impl(d, name, type, requested, count, arr);
}

/* ---------------------------------------------------------------- execute */

/* Rounds to TF32 (10 explicit mantissa bits, round to nearest even), as a tensor core reads FLOAT inputs. */
static float tf32(float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return v;
    u += 0x0fffu + ((u >> 13) & 1u);
    u &= 0xffffe000u;
    memcpy(&v, &u, 4);
    return v;
}

static float *tf32_copy(const float *src, long long n)
{
    float *c = malloc((size_t)n * sizeof *c);
    if (c) for (long long i = 0; i < n; i++) c[i] = tf32(src[i]);
    return c;
}

static cudnnStatus_t execute_impl(void *handle, gdesc *plan, gdesc *pack)
{
    const char *call = "cudnnBackendExecute";
    GET_HANDLE(h, handle);
    if (!plan || plan->type != BK_EXECUTION_PLAN) return fail(BAD_PARAM, "%s: %p is not an execution plan", call, (void *)plan);
    if (!pack || pack->type != BK_VARIANT_PACK) return fail(BAD_PARAM, "%s: %p is not a variant pack", call, (void *)pack);
    if (!plan->finalized || !pack->finalized) return fail(BAD_PARAM_NOT_FINALIZED, "%s: plan or variant pack not finalized", call);
    if (plan->handle != handle) return fail(BAD_PARAM, "%s: the plan was finalized for handle %p, executed on %p", call, plan->handle, handle);
    const gconv *c = &plan->graph_conv;
    const geometry *g = &c->g;
    uint64_t p[3] = { 0, 0, 0 };
    for (int t = 0; t < 3; t++) {
        int found = 0;
        for (int i = 0; i < pack->n_uids; i++) if (pack->uids[i] == c->uid[t]) { p[t] = pack->ptrs[i]; found++; }
        if (found != 1) return fail(BAD_PARAM, "%s: the variant pack has uid %lld %d times (wants exactly once)", call, (long long)c->uid[t], found);
    }
    for (int i = 0; i < pack->n_uids; i++)
        if (pack->uids[i] != c->uid[0] && pack->uids[i] != c->uid[1] && pack->uids[i] != c->uid[2])
            return fail(BAD_PARAM, "%s: the variant pack names uid %lld, which is not in the graph", call, (long long)pack->uids[i]);
    static const char *names[3][3] = { { "x", "w", "y" }, { "dx", "w", "dy" }, { "x", "dw", "dy" } };
    const obj *descs[3] = { &c->x, &c->w, &c->y };
    long long n[3];
    cudnnStatus_t s;
    for (int t = 0; t < 3; t++) {
        n[t] = extent(descs[t]);
        if ((s = check_tensor_ptr(call, names[c->op][t], p[t], n[t]))) return s;
        if (p[t] % (uint64_t)c->align[t])
            return fail(BAD_PARAM_MISALIGNED_POINTER, "%s: %s 0x%llx is not aligned to the %lld bytes its tensor declares", call, names[c->op][t],
                (unsigned long long)p[t], (long long)c->align[t]);
    }
    int out = c->op == OP_FWD ? 2 : c->op == OP_BWD_DATA ? 0 : 1;
    for (int t = 0; t < 3; t++)
        if (t != out && (s = check_no_overlap(call, names[c->op][out], p[out], n[out], names[c->op][t], p[t], n[t]))) return s;
    size_t ws_bytes = (size_t)plan->workspace;
    if (ws_bytes > 0) {
        char label[96];
        snprintf(label, sizeof label, "%s workspace", call);
        if (!pack->ws) return fail(BAD_PARAM_NULL_POINTER, "%s: the plan needs %zu workspace bytes, the variant pack has none", call, ws_bytes);
        if (gpuconv_fake_check_device_range(pack->ws, ws_bytes, label))
            return fail(BAD_PARAM, "%s: [0x%llx, +%zu) is not inside one live device allocation", label, (unsigned long long)pack->ws, ws_bytes);
    }
    {
        uint64_t in[2] = { p[out == 0 ? 1 : 0], p[out == 2 ? 1 : 2] }, outs[2] = { p[out], ws_bytes ? pack->ws : 0 };
        STREAM_OP(h, 2, in, 2, outs);
    }
    scribble(ws_bytes ? pack->ws : 0, ws_bytes);
    if (no_compute()) return OK; /* timing the caller: checks done, arithmetic skipped (as the legacy calls) */
    float *xp = (float *)(uintptr_t)p[0], *wp = (float *)(uintptr_t)p[1], *yp = (float *)(uintptr_t)p[2];
    float *xr = xp, *wr = wp, *yr = yp;
    if (engines[plan->engine_index].tf32) {
        /* the two inputs of the op, rounded as a tensor core reads them */
        if (c->op != OP_BWD_DATA) xr = tf32_copy(xp, n[0]);
        if (c->op != OP_BWD_FILTER) wr = tf32_copy(wp, n[1]);
        if (c->op != OP_FWD) yr = tf32_copy(yp, n[2]);
        if (!xr || !wr || !yr) return fail(EXECUTION_FAILED, "%s: host memory for the TF32 copies", call);
    }
    double *acc = calloc((size_t)n[out], sizeof *acc);
    if (!acc) s = fail(EXECUTION_FAILED, "%s: host memory for the accumulator", call);
    else {
        convolve(c->op, g, xr, wr, yr, acc);
        blend(descs[out], out == 0 ? xp : out == 1 ? wp : yp, acc, c->alpha, c->beta, c->op == OP_BWD_FILTER);
        free(acc);
        s = OK;
    }
    if (xr != xp) free(xr);
    if (wr != wp) free(wr);
    if (yr != yp) free(yr);
    return s;
}

FAKE_EXPORT cudnnStatus_t cudnnBackendExecute(void *handle, void *plan, void *pack)
{
    FAKE_LIBRARY_FAULT("cudnnBackendExecute", -1, 1, EXECUTION_FAILED);
    EXCLUSIVE(handle, execute_impl(handle, gfind(plan), gfind(pack)));
}
