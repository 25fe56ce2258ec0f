/* scenarios NAME N [SEED]
 *
 * The seed's four application scenarios, reported in nanoseconds per
 * allocator call (malloc, calloc, realloc or free), measured as wall time of
 * the whole workload (including the workload's own writes and reads) divided
 * by the number of calls; lower is better.
 *
 *   json  N documents.  Each is "parsed" into a tree of small nodes (56 B
 *         structs), key strings (4-24 B) and value strings (1-64 B); arrays
 *         and objects grow their child vectors with realloc (capacity 4, 8,
 *         16 ...).  The tree is walked (every string checked) and freed
 *         before the next document: everything is short-lived, ~400
 *         allocator calls per document.
 *   mir   N functions of a compiler's IR.  Per function: 8-40 basic blocks
 *         (64 B) with instruction vectors grown by realloc, 10-60
 *         instructions per block (56-104 B) each with 1-3 operands (16-32 B),
 *         a value-numbering table (calloc, 4-32 KiB); two passes that each
 *         replace ~20% of the instructions and allocate short-lived
 *         worklists; then everything of the function is freed together
 *         (arena-like lifetime).  Each function's name string (16-64 B)
 *         lives until the end.
 *   vm    N iterations of the seed's VM scenario: allocate a 2 MiB region
 *         (a VM heap semispace), write one byte in each 4 KiB page, check
 *         the previous region's tags and free it.  Two regions are live at
 *         the moment of the swap.  Measures large-block reuse (caching,
 *         page faults, madvise/munmap churn).
 *   mixed N iterations over a working set of 2048 slots: free a random slot
 *         and allocate a new block into it, sizes 60% 16-256 B, 30%
 *         256 B-8 KiB, 9% 8-64 KiB, 1% 64 KiB-1 MiB.
 *
 * Every block carries a tag checked before it is freed (nodes a magic
 * field), so overlapping or corrupted blocks abort with CORRUPTION.
 * Output (stdout, one line; see bench_result in bench_common.h):
 *   json n=... seed=... ops=... seconds=... throughput=... unit=ns/op ... check=tags:ok
 */
#include "bench_common.h"

static uint64_t g_rng;

static inline uint64_t rnd(uint64_t n) { return bench_rand(&g_rng) % n; }

static void *xcalloc(size_t c, size_t n)
{
    bench_ops++;
    void *p = calloc(c, n);
    if (!p) bench_oom("calloc", c * n);
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    bench_ops++;
    void *q = realloc(p, n);
    if (!q) bench_oom("realloc", n);
    return q;
}

/* A string of n bytes tagged with id at both ends. */
static char *new_str(size_t n, size_t id)
{
    char *s = bench_ops_malloc(n);
    bench_touch(s, n, id);
    return s;
}

static void free_str(char *s, size_t n, size_t id)
{
    bench_check(s, n, id);
    bench_ops_free(s);
}

/* ---- json ------------------------------------------------------------- */

#define NODE_MAGIC 0x4a534f4eu

typedef struct jnode {
    uint32_t magic, kind;  /* kind: 0 scalar, 1 array, 2 object */
    char *key, *val;
    uint32_t klen, vlen;
    struct jnode **kids;
    uint32_t nkids, cap;
    uint32_t id, pad;
} jnode_t; /* 56 bytes */

static uint32_t g_id;

static jnode_t *json_build(int depth, int in_object)
{
    jnode_t *n = bench_ops_malloc(sizeof *n);
    memset(n, 0, sizeof *n);
    n->magic = NODE_MAGIC;
    n->id = g_id++;
    if (in_object) {
        n->klen = 4 + (uint32_t)rnd(21);
        n->key = new_str(n->klen, n->id);
    }
    uint64_t r = rnd(100);
    if (depth < 4 && r < (depth == 0 ? 100u : 30u)) {
        n->kind = 1 + (uint32_t)rnd(2);
        uint32_t want = (uint32_t)rnd(depth == 0 ? 24 : 10);
        for (uint32_t i = 0; i < want; i++) {
            if (n->nkids == n->cap) {
                n->cap = n->cap ? 2 * n->cap : 4;
                n->kids = xrealloc(n->kids, n->cap * sizeof *n->kids);
            }
            n->kids[n->nkids++] = json_build(depth + 1, n->kind == 2);
        }
    } else {
        n->vlen = 1 + (uint32_t)rnd(64);
        n->val = new_str(n->vlen, n->id ^ 0x55u);
    }
    return n;
}

static size_t json_walk(const jnode_t *n)
{
    if (n->magic != NODE_MAGIC) {
        fprintf(stderr, "CORRUPTION: json node %p lost its magic\n", (const void *)n);
        abort();
    }
    size_t sum = n->klen + n->vlen;
    if (n->key) bench_check(n->key, n->klen, n->id);
    if (n->val) bench_check(n->val, n->vlen, n->id ^ 0x55u);
    for (uint32_t i = 0; i < n->nkids; i++)
        sum += json_walk(n->kids[i]);
    return sum;
}

static void json_free(jnode_t *n)
{
    for (uint32_t i = 0; i < n->nkids; i++)
        json_free(n->kids[i]);
    if (n->kids) bench_ops_free(n->kids);
    if (n->key) free_str(n->key, n->klen, n->id);
    if (n->val) free_str(n->val, n->vlen, n->id ^ 0x55u);
    n->magic = 0;
    bench_ops_free(n);
}

static volatile size_t g_sink;

static void run_json(long docs)
{
    for (long d = 0; d < docs; d++) {
        jnode_t *root = json_build(0, 0);
        g_sink += json_walk(root);
        json_free(root);
    }
}

/* ---- mir -------------------------------------------------------------- */

typedef struct operand {
    uint32_t tag, kind;
    uint64_t value;
} operand_t; /* 16 B, some allocated larger (up to 32 B) */

typedef struct insn {
    uint32_t magic, size;
    uint32_t nops, op;
    operand_t *ops[3];
    uint32_t oplen[3];
} insn_t; /* 56 B; allocated as 56-104 B */

typedef struct bblock {
    uint32_t magic, n, cap, id;
    insn_t **insns;
    char pad[40];
} bblock_t; /* 64 B */

#define INSN_MAGIC 0x4d495231u
#define BB_MAGIC 0x42424c4bu

static insn_t *insn_new(void)
{
    size_t sz = sizeof(insn_t) + (size_t)rnd(49); /* 56..104 */
    insn_t *in = bench_ops_malloc(sz);
    in->magic = INSN_MAGIC;
    in->size = (uint32_t)sz;
    in->op = (uint32_t)rnd(200);
    in->nops = 1 + (uint32_t)rnd(3);
    ((volatile unsigned char *)in)[sz - 1] = (unsigned char)sz;
    for (uint32_t i = 0; i < in->nops; i++) {
        in->oplen[i] = 16 + (uint32_t)rnd(17);
        in->ops[i] = bench_ops_malloc(in->oplen[i]);
        in->ops[i]->tag = in->oplen[i] * 3u + i;
        in->ops[i]->kind = i;
        in->ops[i]->value = (uint64_t)in->op;
    }
    return in;
}

static void insn_free(insn_t *in)
{
    if (in->magic != INSN_MAGIC ||
        ((volatile unsigned char *)in)[in->size - 1] != (unsigned char)in->size) {
        fprintf(stderr, "CORRUPTION: mir instruction %p lost its tag\n", (void *)in);
        abort();
    }
    for (uint32_t i = 0; i < in->nops; i++) {
        if (in->ops[i]->tag != in->oplen[i] * 3u + i || in->ops[i]->value != in->op) {
            fprintf(stderr, "CORRUPTION: mir operand %p lost its tag\n", (void *)in->ops[i]);
            abort();
        }
        bench_ops_free(in->ops[i]);
    }
    in->magic = 0;
    bench_ops_free(in);
}

typedef struct fn_name { char *s; size_t n; } fn_name_t;

static void run_mir(long funcs)
{
    fn_name_t *names = bench_xmalloc((size_t)funcs * sizeof *names);
    for (long f = 0; f < funcs; f++) {
        names[f].n = 16 + (size_t)rnd(49);
        names[f].s = new_str(names[f].n, (size_t)f);

        uint32_t nbb = 8 + (uint32_t)rnd(33);
        bblock_t **bbs = bench_ops_malloc(nbb * sizeof *bbs);
        for (uint32_t b = 0; b < nbb; b++) {
            bblock_t *bb = bench_ops_malloc(sizeof *bb);
            bb->magic = BB_MAGIC;
            bb->id = b;
            bb->n = bb->cap = 0;
            bb->insns = NULL;
            uint32_t ni = 10 + (uint32_t)rnd(51);
            for (uint32_t i = 0; i < ni; i++) {
                if (bb->n == bb->cap) {
                    bb->cap = bb->cap ? 2 * bb->cap : 8;
                    bb->insns = xrealloc(bb->insns, bb->cap * sizeof *bb->insns);
                }
                bb->insns[bb->n++] = insn_new();
            }
            bbs[b] = bb;
        }
        /* Value numbering table. */
        size_t tsz = 4096u << rnd(4);
        uint32_t *table = xcalloc(tsz / 4, 4);
        /* Two passes: rewrite ~20% of the instructions, with a temporary
         * worklist per block. */
        for (int pass = 0; pass < 2; pass++) {
            for (uint32_t b = 0; b < nbb; b++) {
                bblock_t *bb = bbs[b];
                if (bb->magic != BB_MAGIC) {
                    fprintf(stderr, "CORRUPTION: basic block lost its magic\n");
                    abort();
                }
                uint32_t *work = bench_ops_malloc(bb->n * sizeof *work + 16);
                uint32_t nw = 0;
                for (uint32_t i = 0; i < bb->n; i++) {
                    table[(bb->insns[i]->op * 2654435761u) % (tsz / 4)]++;
                    if (rnd(5) == 0) work[nw++] = i;
                }
                for (uint32_t w = 0; w < nw; w++) {
                    insn_free(bb->insns[work[w]]);
                    bb->insns[work[w]] = insn_new();
                }
                bench_ops_free(work);
            }
        }
        g_sink += table[0];
        bench_ops_free(table);
        for (uint32_t b = 0; b < nbb; b++) {
            bblock_t *bb = bbs[b];
            for (uint32_t i = 0; i < bb->n; i++)
                insn_free(bb->insns[i]);
            bench_ops_free(bb->insns);
            bb->magic = 0;
            bench_ops_free(bb);
        }
        bench_ops_free(bbs);
    }
    for (long f = 0; f < funcs; f++)
        free_str(names[f].s, names[f].n, (size_t)f);
    free(names);
}

/* ---- vm --------------------------------------------------------------- */

#define VM_REGION (2u << 20)
#define PAGE 4096u

static void run_vm(long iters)
{
    unsigned char *old = NULL;
    size_t old_id = 0;
    for (long i = 0; i < iters; i++) {
        unsigned char *p = bench_ops_malloc(VM_REGION);
        unsigned char t = bench_tag(VM_REGION, (size_t)i);
        for (size_t off = 0; off < VM_REGION; off += PAGE)
            ((volatile unsigned char *)p)[off] = t;
        p[VM_REGION - 1] = t;
        if (old) {
            unsigned char ot = bench_tag(VM_REGION, old_id);
            for (size_t off = 0; off < VM_REGION; off += 64 * PAGE)
                if (old[off] != ot) {
                    fprintf(stderr, "CORRUPTION: vm region %p lost its tag\n", (void *)old);
                    abort();
                }
            bench_check(old, VM_REGION, old_id);
            bench_ops_free(old);
        }
        old = p;
        old_id = (size_t)i;
    }
    if (old) bench_ops_free(old);
}

/* ---- mixed ------------------------------------------------------------ */

static size_t mixed_size(void)
{
    uint64_t r = rnd(100);
    if (r < 60) return 16 + (size_t)rnd(241);
    if (r < 90) return 256 + (size_t)rnd(8192 - 256 + 1);
    if (r < 99) return 8192 + (size_t)rnd(65536 - 8192 + 1);
    return 65536 + (size_t)rnd((1u << 20) - 65536 + 1);
}

static void run_mixed(long iters)
{
    enum { WS = 2048 };
    static void *slot[WS];
    static size_t len[WS];
    for (size_t k = 0; k < WS; k++) {
        len[k] = mixed_size();
        slot[k] = bench_ops_malloc(len[k]);
        bench_touch(slot[k], len[k], k);
    }
    for (long i = 0; i < iters; i++) {
        size_t k = (size_t)rnd(WS);
        bench_check(slot[k], len[k], k);
        bench_ops_free(slot[k]);
        len[k] = mixed_size();
        slot[k] = bench_ops_malloc(len[k]);
        bench_touch(slot[k], len[k], k);
    }
    for (size_t k = 0; k < WS; k++) {
        bench_check(slot[k], len[k], k);
        bench_ops_free(slot[k]);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s json|mir|vm|mixed N [SEED]\n", argv[0]);
        return 2;
    }
    const char *name = argv[1];
    long n = bench_arg(argc, argv, 2, 1000);
    uint64_t seed = (uint64_t)bench_arg(argc, argv, 3, 42);
    void (*fn)(long);
    if (!strcmp(name, "json")) fn = run_json;
    else if (!strcmp(name, "mir")) fn = run_mir;
    else if (!strcmp(name, "vm")) fn = run_vm;
    else if (!strcmp(name, "mixed")) fn = run_mixed;
    else {
        fprintf(stderr, "unknown scenario '%s' (json, mir, vm, mixed)\n", name);
        return 2;
    }
    bench_report_origin();
    g_rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    /* Warm-up: a small slice of the same workload, untimed. */
    fn(n / 20 > 0 ? n / 20 : 1);
    g_rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    bench_ops = 0;
    double t0 = bench_now();
    fn(n);
    double dt = bench_now() - t0;
    bench_result(name, bench_ops, dt, BENCH_NS_PER_OP, "tags:ok", "n=%ld seed=%llu", n,
                 (unsigned long long)seed);
    bench_finish();
    return 0;
}
