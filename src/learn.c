/* hakmem learn: strategy selection for the adaptive layer (see learn.h).
 *
 * ELO: a round robin plays every pair of alive candidates once, in an order
 * shuffled by the seed.  A match is four epochs, A B B A: a workload that
 * drifts linearly adds the same to both sides.  Each side's cost is its
 * mean over its last HK_LEARN_WINDOW epochs, this match's two among them:
 * two epochs are too few to tell apart candidates a few percent apart when
 * an epoch's cost varies by 10%, or to catch a purge every few epochs.  The
 * side whose cost is lower by more than DRAW_BAND wins, otherwise it is a
 * draw (noise).  From
 * the second round on, every round ends by eliminating the candidates outside
 * the top M by rating, and learning freezes when one candidate is left, when
 * the leader is FREEZE_GAP points ahead of the runner-up, or after MAX_ROUNDS.
 * A candidate whose two epochs of a match both cost ROUT times more than
 * both of the winner's is eliminated at once (while more than M remain).
 *
 * UCB1: each epoch runs the candidate maximising mean reward + sqrt(2 ln N /
 * n_i), reward = best cost seen / cost.  It freezes once N >= 16 K and one
 * candidate has had 60% of the epochs (or, failing that, at N = 256 K: equal
 * candidates would otherwise share the epochs for ever).
 *
 * Frozen: the first BASE_EPOCHS epochs give a baseline of the winner's cost,
 * then an EWMA follows it; DRIFT_EPOCHS in a row more than DRIFT_BAND away
 * from the baseline (the workload changed) re-open learning with every
 * candidate alive and the ratings half-way back to the start.
 *
 * No allocation, no clock, no libm (the library is not linked with -lm: exp,
 * ln and sqrt are series and Newton steps below). */
#include "learn.h"

#define RATING_START  1500.0
#define K_FACTOR      32.0
#define DRAW_BAND     0.02
#define ROUT          1.5 /* a loser this much costlier leaves at once    */
#define FREEZE_GAP    100.0
#define MIN_ROUNDS    2 /* before eliminating, or freezing on the gap */
#define MAX_ROUNDS    12
#define UCB_MIN_PLAYS 16  /* x K epochs before UCB1 may freeze          */
#define UCB_MAX_PLAYS 256 /* x K: UCB1 freezes on the most played       */
#define BASE_EPOCHS   8
#define EWMA_ALPHA    0.25
#define DRIFT_BAND    0.30
#define DRIFT_EPOCHS  4
#define COST_MAX      1e300 /* beyond: nonsense, and sums could overflow  */

#define LN2_HI  6.93147180369123816490e-01 /* ln 2 in two parts: n * LN2_HI is exact */
#define LN2_LO  1.90821492927058770002e-10
#define INV_LN2 1.44269504088896338700e+00
#define LN10    2.30258509299404568402e+00
#define SQRT2   1.41421356237309504880e+00

typedef union {
  double d;
  uint64_t u;
} bits_t;

/* ---- math ---------------------------------------------------------------- */
double hk_learn_exp(double x) {
  /* e^x = 2^n e^r, |r| <= ln2 / 2: Taylor to r^13 / 13! leaves < 1e-17. */
  if (!(x >= -700.0)) x = -700.0; /* NaN too; 2^n stays a normal double */
  if (x > 700.0) x = 700.0;
  double fn = x * INV_LN2;
  int n = (int)(fn < 0 ? fn - 0.5 : fn + 0.5);
  double r = (x - n * LN2_HI) - n * LN2_LO;
  double p = 1.0;
  for (int i = 13; i >= 1; i--) p = 1.0 + p * r / i;
  bits_t s = { .u = (uint64_t)(n + 1023) << 52 };
  return p * s.d;
}

double hk_learn_ln(double x) {
  /* x = m 2^e, m in [sqrt(1/2), sqrt(2)): ln m = 2 atanh(s), s = (m - 1) / (m + 1),
   * |s| < 0.172, so s^2 < 0.03 and 13 terms of the odd series leave < 1e-19. */
  if (!(x >= 0x1p-1022)) x = 0x1p-1022; /* zero, negative, subnormal, NaN */
  if (x > COST_MAX) x = COST_MAX;
  bits_t b = { .d = x };
  int e = (int)(b.u >> 52) - 1023;
  b.u = (b.u & 0xfffffffffffffull) | (1023ull << 52);
  double m = b.d;
  if (m > SQRT2) {
    m *= 0.5;
    e++;
  }
  double s = (m - 1.0) / (m + 1.0), s2 = s * s, p = 0.0;
  for (int i = 25; i >= 1; i -= 2) p = 1.0 / i + s2 * p;
  return 2.0 * s * p + e * LN2_HI + e * LN2_LO;
}

double hk_learn_sqrt(double x) {
  /* Halving the exponent bits guesses within 6%; Newton doubles the correct
   * digits each step: 5 steps are past double precision. */
  if (!(x >= 0x1p-1022)) return 0.0; /* zero, negative, subnormal, NaN */
  if (x > COST_MAX) x = COST_MAX;
  bits_t b = { .d = x };
  b.u = (b.u >> 1) + (1023ull << 51);
  double y = b.d;
  for (int i = 0; i < 5; i++) y = 0.5 * (y + x / y);
  return y;
}

/* ---- ELO ------------------------------------------------------------------ */
double hk_learn_expected(double ra, double rb) {
  return 1.0 / (1.0 + hk_learn_exp((rb - ra) * (LN10 / 400.0))); /* 10^((rb-ra)/400) */
}

/* B's update is the mirror of A's: the sum of the ratings is conserved. */
void hk_learn_elo(double *ra, double *rb, double score_a) {
  double d = K_FACTOR * (score_a - hk_learn_expected(*ra, *rb));
  *ra += d;
  *rb -= d;
}

double hk_learn_mean_cost(const hk_learn_t *l, unsigned i) {
  const hk_learn_cand_t *c = &l->cand[i];
  return c->plays ? c->cost_sum / c->plays : 0.0;
}

static double recent_cost(const hk_learn_cand_t *c) {
  unsigned n = c->plays < HK_LEARN_WINDOW ? c->plays : HK_LEARN_WINDOW;
  double sum = 0.0;
  for (unsigned i = 0; i < n; i++) sum += c->recent[i];
  return n ? sum / n : 0.0;
}

static void play(hk_learn_t *l, unsigned i, double cost) {
  hk_learn_cand_t *c = &l->cand[i];
  c->recent[c->plays % HK_LEARN_WINDOW] = cost;
  c->plays++;
  c->cost_sum += cost;
  l->epochs++;
}

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Candidate i ranks above j: higher rating, then lower mean cost, then index. */
static bool better(const hk_learn_t *l, unsigned i, unsigned j) {
  double ri = l->cand[i].rating, rj = l->cand[j].rating;
  if (ri != rj) return ri > rj;
  double ci = hk_learn_mean_cost(l, i), cj = hk_learn_mean_cost(l, j);
  if (ci != cj) return ci < cj;
  return i < j;
}

/* Place of alive candidate i among the alive ones (0: the leader). */
static unsigned rank_of(const hk_learn_t *l, unsigned i) {
  unsigned r = 0;
  for (unsigned j = 0; j < l->k; j++)
    if (j != i && (l->alive >> j & 1) && better(l, j, i)) r++;
  return r;
}

static unsigned at_rank(const hk_learn_t *l, unsigned r) {
  for (unsigned i = 0; i < l->k; i++)
    if ((l->alive >> i & 1) && rank_of(l, i) == r) return i;
  return l->k;
}

static void new_round(hk_learn_t *l) {
  unsigned n = 0;
  for (unsigned i = 0; i < l->k; i++)
    for (unsigned j = i + 1; j < l->k; j++)
      if ((l->alive >> i & 1) && (l->alive >> j & 1)) {
        l->pair[n][0] = (uint8_t)i;
        l->pair[n][1] = (uint8_t)j;
        n++;
      }
  /* Shuffled, sides too: no candidate always opens or closes a round. */
  for (unsigned i = n; i > 1; i--) {
    unsigned j = (unsigned)(splitmix(&l->rng) % i);
    uint8_t a = l->pair[i - 1][0], b = l->pair[i - 1][1];
    l->pair[i - 1][0] = l->pair[j][0];
    l->pair[i - 1][1] = l->pair[j][1];
    l->pair[j][0] = a;
    l->pair[j][1] = b;
  }
  for (unsigned i = 0; i < n; i++)
    if (splitmix(&l->rng) & 1) {
      uint8_t a = l->pair[i][0];
      l->pair[i][0] = l->pair[i][1];
      l->pair[i][1] = a;
    }
  l->npairs = n;
  l->pos = l->step = 0;
}

static unsigned freeze(hk_learn_t *l) {
  l->state = HK_LEARN_FROZEN;
  l->frozen_n = l->drift_run = 0;
  l->baseline = l->ewma = 0.0;
  return HK_LEARN_EV_FROZEN;
}

static unsigned end_round(hk_learn_t *l) {
  unsigned ev = HK_LEARN_EV_NONE;
  l->rounds++;
  if (l->rounds >= MIN_ROUNDS) {
    uint32_t out = 0;
    for (unsigned i = 0; i < l->k; i++)
      if ((l->alive >> i & 1) && rank_of(l, i) >= l->m) out |= 1u << i;
    if (out) {
      l->alive &= ~out;
      l->last_eliminated = out;
      ev |= HK_LEARN_EV_ELIMINATED;
    }
  }
  unsigned lead = at_rank(l, 0), second = at_rank(l, 1);
  l->winner = lead;
  if (second == l->k || l->rounds >= MAX_ROUNDS ||
      (l->rounds >= MIN_ROUNDS && l->cand[lead].rating - l->cand[second].rating >= FREEZE_GAP))
    return ev | freeze(l);
  new_round(l);
  return ev;
}

static unsigned elo_report(hk_learn_t *l, double cost) {
  l->ep[l->step++] = cost; /* A B B A */
  if (l->step < 4) return HK_LEARN_EV_NONE;
  unsigned a = l->pair[l->pos][0], b = l->pair[l->pos][1];
  double ca = recent_cost(&l->cand[a]), cb = recent_cost(&l->cand[b]);
  double s = ca < cb * (1.0 - DRAW_BAND) ? 1.0 : cb < ca * (1.0 - DRAW_BAND) ? 0.0 : 0.5;
  hk_learn_elo(&l->cand[a].rating, &l->cand[b].rating, s);
  if (s == 1.0) {
    l->cand[a].wins++;
    l->cand[b].losses++;
  } else if (s == 0.0) {
    l->cand[b].wins++;
    l->cand[a].losses++;
  } else {
    l->cand[a].draws++;
    l->cand[b].draws++;
  }
  l->last_a = a;
  l->last_b = b;
  l->last_cost_a = ca;
  l->last_cost_b = cb;
  l->last_score_a = s;
  l->step = 0;
  unsigned ev = HK_LEARN_EV_MATCH;
  /* A rout: every epoch more of that loser would cost dearly (e.g. a purge
   * strategy that makes the program fault all the time): out now, as long
   * as more than M remain, and its remaining matches are skipped.  Both of
   * its epochs must be that much dearer than both of the winner's: one
   * epoch that caught a burst of the program's own (start-up) is no rout. */
  double amin = l->ep[0] < l->ep[3] ? l->ep[0] : l->ep[3], amax = l->ep[0] + l->ep[3] - amin;
  double bmin = l->ep[1] < l->ep[2] ? l->ep[1] : l->ep[2], bmax = l->ep[1] + l->ep[2] - bmin;
  unsigned loser = s == 1.0 ? b : a;
  double lost = s == 1.0 ? bmin : amin, won = s == 1.0 ? amax : bmax;
  if (s != 0.5 && lost > ROUT * won && (unsigned)__builtin_popcount(l->alive) > l->m) {
    l->alive &= ~(1u << loser);
    l->last_eliminated = 1u << loser;
    ev |= HK_LEARN_EV_ELIMINATED;
  }
  do l->pos++;
  while (l->pos < l->npairs &&
         !(l->alive >> l->pair[l->pos][0] & l->alive >> l->pair[l->pos][1] & 1));
  if (l->pos >= l->npairs) return ev | end_round(l);
  l->winner = at_rank(l, 0);
  return ev;
}

/* ---- UCB1 ----------------------------------------------------------------- */
static unsigned ucb_pick(const hk_learn_t *l) {
  uint64_t n = 0;
  for (unsigned i = 0; i < l->k; i++) {
    if (!l->cand[i].plays) return i;
    n += l->cand[i].plays;
  }
  double ln_n = hk_learn_ln((double)n), best = -1.0;
  unsigned pick = 0;
  for (unsigned i = 0; i < l->k; i++) {
    const hk_learn_cand_t *c = &l->cand[i];
    double u = c->reward_sum / c->plays + hk_learn_sqrt(2.0 * ln_n / c->plays);
    if (u > best) {
      best = u;
      pick = i;
    }
  }
  return pick;
}

static unsigned ucb_report(hk_learn_t *l, unsigned c, double cost) {
  if (!(l->best_cost > 0.0) || cost < l->best_cost) l->best_cost = cost;
  double r = l->best_cost / cost;
  l->cand[c].reward_sum += r > 1.0 ? 1.0 : r;
  uint64_t n = 0;
  unsigned most = 0;
  for (unsigned i = 0; i < l->k; i++) {
    n += l->cand[i].plays;
    if (l->cand[i].plays > l->cand[most].plays) most = i;
  }
  l->winner = most;
  if ((n >= (uint64_t)UCB_MIN_PLAYS * l->k && (uint64_t)l->cand[most].plays * 10 >= n * 6) ||
      n >= (uint64_t)UCB_MAX_PLAYS * l->k)
    return freeze(l);
  return HK_LEARN_EV_NONE;
}

/* ---- frozen: drift ---------------------------------------------------------- */
static unsigned reopen(hk_learn_t *l) {
  /* Keep half the rating history: the old order is a fair first guess. */
  for (unsigned i = 0; i < l->k; i++) {
    double r = l->cand[i].rating;
    l->cand[i] = (hk_learn_cand_t){ .rating = RATING_START + 0.5 * (r - RATING_START) };
  }
  l->state = HK_LEARN_LEARNING;
  l->alive = (1u << l->k) - 1;
  l->rounds = 0;
  l->best_cost = 0.0;
  l->reopens++;
  new_round(l);
  return HK_LEARN_EV_REOPENED;
}

static unsigned watch_drift(hk_learn_t *l, double cost) {
  if (l->frozen_n < BASE_EPOCHS) {
    l->baseline += cost / BASE_EPOCHS;
    if (++l->frozen_n == BASE_EPOCHS) l->ewma = l->baseline;
    return HK_LEARN_EV_NONE;
  }
  l->ewma += EWMA_ALPHA * (cost - l->ewma);
  double d = l->ewma - l->baseline, band = DRIFT_BAND * l->baseline;
  l->drift_run = d > band || -d > band ? l->drift_run + 1 : 0;
  return l->drift_run >= DRIFT_EPOCHS ? reopen(l) : HK_LEARN_EV_NONE;
}

/* ---- interface -------------------------------------------------------------- */
void hk_learn_init(hk_learn_t *l, unsigned k, unsigned m, unsigned selector, uint64_t seed) {
  /* Clamped, not asserted: the background thread has nowhere to fail to. */
  k = k < 2 ? 2 : k > HK_LEARN_MAX ? HK_LEARN_MAX : k;
  m = m < 1 ? 1 : m > k ? k : m;
  *l = (hk_learn_t){ .k = k,
                     .m = m,
                     .selector = selector == HK_SEL_UCB1 ? HK_SEL_UCB1 : HK_SEL_ELO,
                     .alive = (1u << k) - 1,
                     .rng = seed };
  for (unsigned i = 0; i < k; i++) l->cand[i].rating = RATING_START;
  new_round(l);
}

unsigned hk_learn_next(const hk_learn_t *l) {
  if (l->state == HK_LEARN_FROZEN) return l->winner;
  if (l->selector == HK_SEL_UCB1) return ucb_pick(l);
  return l->pair[l->pos][l->step == 1 || l->step == 2];
}

void hk_learn_record(hk_learn_t *l, unsigned i, double cost) {
  if (!(cost > 0.0 && cost <= COST_MAX) || i >= l->k) return;
  play(l, i, cost);
}

unsigned hk_learn_report(hk_learn_t *l, double cost) {
  if (!(cost > 0.0 && cost <= COST_MAX)) return HK_LEARN_EV_IGNORED;
  unsigned c = hk_learn_next(l);
  play(l, c, cost);
  if (l->state == HK_LEARN_FROZEN) return watch_drift(l, cost);
  if (l->selector == HK_SEL_UCB1) return ucb_report(l, c, cost);
  return elo_report(l, cost);
}
