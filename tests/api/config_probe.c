/* config_probe.c — the small program tests/config.sh runs under controlled
 * environments (env -i) to check hakmem's HAKMEM_* configuration; run.sh
 * also runs it on its own, like every program here.
 *
 * It writes nothing to stderr when all is well (config.sh compares hakmem's
 * lines on stderr exactly) and one line to stdout:
 *     mode=NAME telemetry=N
 * with the mode hak_stats_get reports, which must be HAKMEM_MODE when that
 * names a mode, else balanced.  Its workload, for HAKMEM_STATS at exit:
 * 1000 blocks of 3000 B (freed), 100 of 200 B (left live), one of 100 KiB
 * and one of 3 MiB (freed).
 */
#include "../testutil.h"


enum { N = 1000, M = 100 };
static void *blk[N], *live[M];
static struct hak_stats st;

int main(void)
{
    tu_init();
    hk_require("config_probe");
    for (int i = 0; i < N; i++) {
        blk[i] = malloc(3000);
        CHECK(blk[i], "malloc(3000) failed");
        memset(blk[i], i, 3000);
    }
    for (int i = 0; i < M; i++) {
        live[i] = malloc(200);
        CHECK(live[i], "malloc(200) failed");
    }
    void *l = malloc(100 * TU_KiB), *h = malloc(3 * TU_MiB);
    CHECK(l && h, "large or huge malloc failed");
    memset(h, 1, 3 * TU_MiB);
    free(l);
    free(h);
    for (int i = 0; i < N; i++)
        free(blk[i]);

    CHECK(hk.stats_get(&st, sizeof st) == 0, "hak_stats_get failed");
    unsigned want = tu_expected_mode();
    CHECK(st.mode == want, "mode = %u, expected %u (%s)", st.mode, want, tu_mode_names[want]);
    printf("mode=%s telemetry=%u\n", tu_mode_names[st.mode], st.telemetry);
    return 0;
}
