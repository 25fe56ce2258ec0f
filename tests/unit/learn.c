/* Strategy learning (learn.c): the ELO arithmetic; ELO and UCB1 converge on
 * the cheapest of four candidates whose costs carry +-5% noise; a workload
 * change while frozen re-opens learning, which then settles on the new best;
 * a candidate cheap but for a spike every few epochs loses to a steady one
 * cheaper on average; edge cases (two candidates, a tie, invalid costs) and the libm stand-ins.
 * Everything is deterministic: the noise is a fixed LCG. */
#include "unit.h"
#include "learn.h"

#include <math.h>

static uint64_t lcg_state;
static double costs[HK_LEARN_MAX]; /* true cost of each candidate */

/* Uniform in [-0.05, 0.05). */
static double noise(void) {
  lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
  return 0.1 * ((double)(lcg_state >> 11) * 0x1p-53 - 0.5);
}

static void check_sane(const hk_learn_t *l) {
  for (unsigned i = 0; i < l->k; i++)
    CHECK(isfinite(l->cand[i].rating), "rating %u is %g", i, l->cand[i].rating);
  unsigned c = hk_learn_next(l);
  CHECK(c < l->k && (l->alive >> c & 1), "next %u, alive %#x", c, l->alive);
  CHECK(l->winner < l->k, "winner %u", l->winner);
}

/* Runs epochs on costs[] until a report returns one of the `until` bits;
 * returns the epochs run, or -1 after max without. */
static int run(hk_learn_t *l, unsigned until, int max) {
  for (int e = 1; e <= max; e++) {
    unsigned c = hk_learn_next(l);
    unsigned ev = hk_learn_report(l, costs[c] * (1.0 + noise()));
    CHECK(!(ev & HK_LEARN_EV_IGNORED), "valid cost ignored");
    check_sane(l);
    if (ev & until) return e;
  }
  return -1;
}

static void set_costs(double a, double b, double c, double d) {
  costs[0] = a;
  costs[1] = b;
  costs[2] = c;
  costs[3] = d;
}

static void check_rel(double got, double want, double tol, const char *what, double x) {
  CHECK(fabs(got - want) <= tol * fabs(want), "%s(%.17g) = %.17g, libm %.17g", what, x, got, want);
}

static void test_math(void) {
  /* exp: ELO takes 10^(difference / 400); the whole clamped range anyway */
  for (double x = -700.0; x <= 700.0; x += 0.0137)
    check_rel(hk_learn_exp(x), exp(x), 1e-13, "exp", x);
  for (double x = -3.0; x <= 3.0; x += 1e-4) check_rel(hk_learn_exp(x), exp(x), 1e-15, "exp", x);
  /* ln: UCB1 takes ln N, N >= 1 */
  for (double x = 1e-300; x < 1e300; x *= 1.37) check_rel(hk_learn_ln(x), log(x), 1e-13, "ln", x);
  for (double x = 0.5; x <= 2.0; x += 1e-5)
    CHECK(fabs(hk_learn_ln(x) - log(x)) <= 1e-15 * (1 + fabs(log(x))), "ln(%.17g)", x);
  for (double n = 1; n <= 1e6; n++) check_rel(hk_learn_ln(n), log(n), 1e-13, "ln", n);
  /* sqrt: UCB1 takes sqrt(2 ln N / n) */
  for (double x = 1e-300; x < 1e300; x *= 1.37)
    check_rel(hk_learn_sqrt(x), sqrt(x), 1e-15, "sqrt", x);
  for (double x = 0; x <= 100.0; x += 1e-3) check_rel(hk_learn_sqrt(x), sqrt(x), 1e-15, "sqrt", x);
  CHECK(hk_learn_sqrt(-1.0) == 0.0 && hk_learn_sqrt(NAN) == 0.0, "sqrt outside its domain");
  CHECK(isfinite(hk_learn_ln(0.0)) && isfinite(hk_learn_ln(-1.0)) && isfinite(hk_learn_ln(NAN)),
        "ln outside its domain");
  CHECK(isfinite(hk_learn_exp(NAN)) && isfinite(hk_learn_exp(1e9)), "exp outside its domain");
}

static void test_elo(void) {
  double a = 1500, b = 1500;
  hk_learn_elo(&a, &b, 1.0);
  CHECK(a == 1516.0 && b == 1484.0, "win from equal ratings: %g %g", a, b);
  a = b = 1500;
  hk_learn_elo(&a, &b, 0.5);
  CHECK(a == 1500.0 && b == 1500.0, "draw from equal ratings: %g %g", a, b);
  CHECK(fabs(hk_learn_expected(1900, 1500) - 10.0 / 11.0) < 1e-9, "400-point favourite %.17g",
        hk_learn_expected(1900, 1500));
  CHECK(fabs(hk_learn_expected(1500, 1900) - 1.0 / 11.0) < 1e-9, "400-point underdog");
  a = 1623.5, b = 1411.25;
  for (int i = 0; i < 1000; i++) hk_learn_elo(&a, &b, (double)(i % 3) * 0.5);
  CHECK(fabs(a + b - (1623.5 + 1411.25)) < 1e-9, "sum of ratings %.17g", a + b);
}

/* ELO, K = 4: candidate 1 is the cheapest.  A round robin is 6 matches, 24
 * epochs.  With M = 4 the gap of 100 points is there after 5 round robins (4
 * for some seeds); with M = 2 the second eliminates 0 and 3 (unless 1 routed
 * 3 already: 1.6 times its cost, noise permitting), and one or two 1-match
 * rounds later the gap is there: at most 56 epochs.  Returns the epochs to
 * freeze. */
static int test_elo_converges(hk_learn_t *l, unsigned m, uint64_t seed) {
  set_costs(1.30, 1.00, 1.15, 1.60);
  hk_learn_init(l, 4, m, HK_SEL_ELO, seed);
  CHECK(l->state == HK_LEARN_LEARNING && l->alive == 0xf, "init");
  int e = run(l, HK_LEARN_EV_FROZEN, 12 * 6 * 4);
  CHECK(e > 0 && e <= (m == 4 ? 5 * 24 : 56), "ELO (M=%u) froze after %d epochs", m, e);
  CHECK(l->state == HK_LEARN_FROZEN && l->winner == 1, "ELO (M=%u) froze on %u", m, l->winner);
  CHECK(l->epochs == (uint64_t)e, "epochs %llu", (unsigned long long)l->epochs);
  CHECK(l->cand[1].losses == 0 && l->cand[3].wins == 0, "match outcomes");
  if (m == 4) /* every candidate plays every round: the ratings order the costs */
    CHECK(l->cand[1].rating > l->cand[2].rating && l->cand[2].rating > l->cand[0].rating &&
              l->cand[0].rating > l->cand[3].rating,
          "ratings order");
  else /* 3 (1.6 times 1's cost) is out, routed or at the second round */
    CHECK(l->cand[1].rating > l->cand[2].rating && !(l->alive & 8), "ratings order");
  for (int i = 0; i < 10; i++) CHECK(hk_learn_next(l) == 1, "frozen runs the winner");
  return e;
}

static void test_drift(hk_learn_t *l, int *reopen_epochs, int *refreeze_epochs) {
  CHECK(run(l, HK_LEARN_EV_REOPENED, 40) == -1, "re-opened without a change");
  set_costs(1.30, 1.50, 0.80, 1.60); /* candidate 1 50% dearer, 2 now the best */
  int e = run(l, HK_LEARN_EV_REOPENED, 12);
  CHECK(e > 0, "no re-opening within 12 epochs of the change");
  CHECK(l->state == HK_LEARN_LEARNING && l->alive == 0xf && l->reopens == 1, "re-opened");
  for (unsigned i = 0; i < 4; i++) CHECK(l->cand[i].plays == 0, "stats reset");
  *reopen_epochs = e;
  e = run(l, HK_LEARN_EV_FROZEN, 12 * 6 * 4);
  CHECK(e > 0 && e <= 5 * 24 && l->winner == 2, "after the change: frozen %d, winner %u", e,
        l->winner);
  *refreeze_epochs = e;
  CHECK(run(l, HK_LEARN_EV_REOPENED, 100) == -1 && l->reopens == 1, "stable after re-freezing");
}

/* UCB1 explores a gap of 13% (1.00 against 1.15) for long: 60% of the plays
 * go to candidate 1 after about 700 epochs; the cap would be 1024. */
static int test_ucb(hk_learn_t *l) {
  set_costs(1.30, 1.00, 1.15, 1.60);
  hk_learn_init(l, 4, 4, HK_SEL_UCB1, 7);
  int e = run(l, HK_LEARN_EV_FROZEN, 256 * 4);
  CHECK(e > 0 && l->winner == 1, "UCB1: frozen after %d, winner %u", e, l->winner);
  CHECK(l->cand[1].plays * 10 >= (unsigned)e * 6, "UCB1: winner played %u of %d", l->cand[1].plays,
        e);
  CHECK(run(l, HK_LEARN_EV_REOPENED, 40) == -1, "UCB1 re-opened without a change");
  set_costs(1.30, 1.50, 0.80, 1.60);
  CHECK(run(l, HK_LEARN_EV_REOPENED, 12) > 0 && l->reopens == 1, "UCB1 drift");
  CHECK(run(l, HK_LEARN_EV_FROZEN, 256 * 4) > 0 && l->winner == 2, "UCB1 after the change: %u",
        l->winner);
  return e;
}

/* A rout: candidate 1 costs twice as much as anyone; with M = 2 it leaves
 * after its first match (2 of its epochs), its other matches are skipped. */
static void test_rout(hk_learn_t *l) {
  set_costs(1.00, 2.00, 1.10, 1.05);
  hk_learn_init(l, 4, 2, HK_SEL_ELO, 11);
  unsigned ev = 0;
  int e = 0;
  while (l->alive & 2) {
    ev = hk_learn_report(l, costs[hk_learn_next(l)] * (1.0 + noise()));
    CHECK(++e <= 6 * 4, "candidate 1 still alive after a round robin");
  }
  CHECK((ev & HK_LEARN_EV_ELIMINATED) && l->last_eliminated == 2, "rout event");
  CHECK(l->cand[1].plays == 2 && l->cand[1].losses == 1, "routed after one match: %u epochs",
        l->cand[1].plays);
  for (int i = 0; i < 12 * 6 * 4 && l->state == HK_LEARN_LEARNING; i++) {
    CHECK(hk_learn_next(l) != 1, "a routed candidate runs again");
    hk_learn_report(l, costs[hk_learn_next(l)] * (1.0 + noise()));
  }
  CHECK(l->state == HK_LEARN_FROZEN && l->winner != 1, "after the rout: winner %u", l->winner);
  /* M = 2 protects the last two: with M = K nobody is routed */
  hk_learn_init(l, 4, 4, HK_SEL_ELO, 11);
  for (int i = 0; i < 6 * 4; i++) hk_learn_report(l, costs[hk_learn_next(l)] * (1.0 + noise()));
  CHECK(l->alive == 0xf && l->cand[1].plays == 6, "M = K: routed anyway");
}

/* Spikes: candidate 0 costs 1.0, but every 4th of its epochs 4.0 (a purge
 * faulted back in): 1.75 on average, dearer than candidate 1's steady 1.3.
 * Half of 0's two-epoch samples miss the spike; over its last
 * HK_LEARN_WINDOW epochs it is seen at its average and loses. */
static void test_spikes(hk_learn_t *l) {
  for (uint64_t seed = 1; seed <= 20; seed++) {
    hk_learn_init(l, 4, 2, HK_SEL_ELO, seed);
    set_costs(1.0, 1.3, 1.45, 1.6);
    while (l->state == HK_LEARN_LEARNING) {
      unsigned c = hk_learn_next(l);
      double cost = c == 0 && l->cand[0].plays % 4 == 3 ? 4.0 : costs[c];
      hk_learn_report(l, cost * (1.0 + noise()));
    }
    CHECK(l->winner == 1, "spikes (seed %llu): froze on %u, mean costs %.2f %.2f",
          (unsigned long long)seed, l->winner, hk_learn_mean_cost(l, 0), hk_learn_mean_cost(l, 1));
  }
}

static void test_edges(hk_learn_t *l) {
  /* K = 2, M = 1: the second round robin eliminates the loser (or a rout
   * the first: 4 epochs) */
  costs[0] = 1.3;
  costs[1] = 1.0;
  hk_learn_init(l, 2, 1, HK_SEL_ELO, 3);
  int e = run(l, HK_LEARN_EV_FROZEN, 100);
  CHECK(e == 8 && l->winner == 1 && l->alive == 2, "K=2: %d epochs, winner %u, alive %#x", e,
        l->winner, l->alive);
  costs[0] = 2.0;
  hk_learn_init(l, 2, 1, HK_SEL_ELO, 3);
  e = run(l, HK_LEARN_EV_FROZEN, 100);
  CHECK(e == 4 && l->winner == 1 && l->alive == 2, "K=2 rout: %d epochs, winner %u, alive %#x", e,
        l->winner, l->alive);

  /* a tie: every match a draw, no gap, the cap of 12 round robins */
  for (unsigned sel = HK_SEL_ELO; sel <= HK_SEL_UCB1; sel++) {
    set_costs(1.0, 1.0, 1.0, 1.0);
    hk_learn_init(l, 4, 4, sel, 5);
    for (int i = 0; i < 4096 && l->state != HK_LEARN_FROZEN; i++) {
      hk_learn_report(l, 1.0);
      check_sane(l);
    }
    CHECK(l->state == HK_LEARN_FROZEN && l->winner < 4, "tie (%u): no freeze", sel);
    if (sel == HK_SEL_ELO)
      CHECK(l->epochs == 12 * 6 * 4 && l->cand[0].rating == 1500.0, "tie: %llu epochs",
            (unsigned long long)l->epochs);
    else CHECK(l->epochs == 256 * 4, "UCB1 tie: %llu epochs", (unsigned long long)l->epochs);
  }

  /* invalid costs are dropped; extreme but valid ones keep the ratings finite */
  static const double bad[] = {0.0, -0.0, -1.0, NAN, -NAN, INFINITY, -INFINITY, 1e301};
  static const double odd[] = {1e-300, 1e299, 4.9e-324, 1.0, 1e299, 1e-300};
  for (unsigned sel = HK_SEL_ELO; sel <= HK_SEL_UCB1; sel++) {
    hk_learn_init(l, 4, 2, sel, 11);
    for (int i = 0; i < 3000; i++) {
      unsigned c = hk_learn_next(l);
      uint64_t before = l->epochs;
      unsigned ev = hk_learn_report(l, bad[i % 8]);
      CHECK(ev == HK_LEARN_EV_IGNORED && l->epochs == before && hk_learn_next(l) == c,
            "cost %g not ignored", bad[i % 8]);
      ev = hk_learn_report(l, odd[i % 6] * (c + 1));
      CHECK(!(ev & HK_LEARN_EV_IGNORED), "cost %g ignored", odd[i % 6]);
      check_sane(l);
      for (unsigned j = 0; j < 4; j++) CHECK(!isnan(hk_learn_mean_cost(l, j)), "mean cost NaN");
    }
  }
}

/* A fixed candidate's epochs (HAKMEM_STRATEGY=NAME): its plays and mean cost
 * only; no rating, state or choice changes; invalid costs are dropped. */
static void test_record(hk_learn_t *l) {
  hk_learn_init(l, 4, 2, HK_SEL_ELO, 7);
  unsigned next = hk_learn_next(l);
  hk_learn_record(l, 2, 10.0);
  hk_learn_record(l, 2, 30.0);
  hk_learn_record(l, 2, NAN);
  hk_learn_record(l, 2, -1.0);
  hk_learn_record(l, 9, 5.0); /* no such candidate */
  CHECK(l->cand[2].plays == 2 && hk_learn_mean_cost(l, 2) == 20.0, "record: %u plays, mean %g",
        l->cand[2].plays, hk_learn_mean_cost(l, 2));
  CHECK(l->epochs == 2 && l->state == HK_LEARN_LEARNING && hk_learn_next(l) == next &&
            l->cand[2].rating == 1500.0 && l->cand[0].plays == 0,
        "record changed the learning state");
}

int main(void) {
  hk_learn_t l;
  test_math();
  test_elo();

  lcg_state = 1;
  int frozen = test_elo_converges(&l, 4, 42);
  int reopen, refrozen;
  test_drift(&l, &reopen, &refrozen);
  int frozen2 = test_elo_converges(&l, 2, 42);
  CHECK(l.alive == 0x6, "M=2: alive %#x, expected {1, 2}", l.alive);
  int ucb = test_ucb(&l);
  /* the outcome does not depend on the seed's order of matches */
  for (uint64_t seed = 100; seed < 140; seed++) {
    test_elo_converges(&l, 4, seed);
    test_elo_converges(&l, 2, seed);
  }
  test_rout(&l);
  test_spikes(&l);
  test_edges(&l);
  test_record(&l);
  printf("learn: ELO froze after %d epochs (M=2: %d), re-opened %d epochs after the change, "
         "froze again after %d; UCB1 froze after %d, ok\n",
         frozen, frozen2, reopen, refrozen, ucb);
  return 0;
}
